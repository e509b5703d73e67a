"""Scenario files: every problem found before anything runs, at its line; the expansion."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load_scenario

EXAMPLES = Path(__file__).parents[2] / "examples" / "scenarios"

SCENARIO = """\
name: test
seeds: 2
days: 10
start: 2026-04-15
sites:
  - name: north
    weather: {synthetic: {latitude_deg: 50.6}}
  - name: south
    weather: {synthetic: {latitude_deg: 43.6, mean_temp_c: 14}}
trial:
  blocks: 2
  treatments: {dry: 0, wet: 100}
  control: dry
strategy:
  watering: {kind: fixed, every_days: 2}
  weed_every_days: 7
"""


def write(folder: Path, text: str = SCENARIO, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return caught.value.problems


@pytest.mark.parametrize(
    ("name", "runs"),
    [("one-bed", 3), ("multi-site", 15), ("weeding-3-days", 10), ("weeding-7-days", 10)],
)
def test_the_examples_load_and_expand_to_site_x_season_x_seed(name: str, runs: int) -> None:
    assert len(load_scenario(EXAMPLES / f"{name}.yaml").runs()) == runs


def test_seasons_start_a_year_apart_and_draw_other_worlds(tmp_path: Path) -> None:
    text = SCENARIO.replace("seeds: 2", "seeds: [4, 9, 11]\nseasons: 2")
    runs = load_scenario(write(tmp_path, text)).runs()
    assert len(runs) == 2 * 2 * 3
    assert [run.key for run in runs[:6]] == [
        f"north-s{season}-{seed}" for season in (0, 1) for seed in (4, 9, 11)
    ]
    assert {run.inputs.start for run in runs} == {date(2026, 4, 15), date(2027, 4, 15)}
    assert len({run.inputs.seed for run in runs}) == len(runs)


def test_a_strategy_change_keeps_every_run_s_world(tmp_path: Path) -> None:
    """What lets `compare` pair two scenarios seed by seed."""
    a = load_scenario(write(tmp_path, SCENARIO, "a.yaml")).runs()
    b_text = SCENARIO.replace("weed_every_days: 7", "weed_every_days: 3")
    b = load_scenario(write(tmp_path, b_text, "b.yaml")).runs()
    assert [(r.key, r.inputs.seed, r.inputs.weather) for r in a] == [
        (r.key, r.inputs.seed, r.inputs.weather) for r in b
    ]
    assert {r.inputs.weed_every_days for r in b} == {3}


def test_days_and_seeds_shorten_a_scenario(tmp_path: Path) -> None:
    listed = write(tmp_path, SCENARIO.replace("seeds: 2", "seeds: [7, 3, 5]"))
    runs = load_scenario(listed, days=4, seeds=2).runs()
    assert sorted({run.seed for run in runs}) == [3, 7]
    assert {run.inputs.days for run in runs} == {4}
    assert {len(run.inputs.weather or ()) for run in runs} == {4}


def test_an_unknown_key_is_named_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        SCENARIO.replace("    weather: {synthetic: {latitude_deg: 50.6}}", "    wether: {}"),
    )
    assert problems(path) == [
        f"{path}:7:5: sites.0.wether: unknown key 'wether'; did you mean 'weather'?"
    ]


def test_an_unknown_key_inside_a_tagged_union_is_found_too(tmp_path: Path) -> None:
    path = write(tmp_path, SCENARIO.replace("every_days: 2", "every_dayz: 2"))
    found = problems(path)
    suggestion = "unknown key 'every_dayz'; did you mean 'every_days'?"
    assert f"{path}:15:27: strategy.watering.every_dayz: {suggestion}" in found
    assert f"{path}:15:3: strategy.watering.every_days: Field required" in found


def test_wrong_types_are_all_listed_at_once(tmp_path: Path) -> None:
    text = SCENARIO.replace("seeds: 2", "seeds: many").replace("wet: 100", "wet: -5")
    path = write(tmp_path, text)
    found = problems(path)
    assert len(found) == 2
    assert found[0].startswith(f"{path}:2:1: seeds: Input should be a valid integer")
    assert (
        found[1]
        == f"{path}:12:24: trial.treatments.wet: Input should be greater than or equal to 0"
    )


def test_a_control_that_is_not_a_treatment_is_refused(tmp_path: Path) -> None:
    [found] = problems(write(tmp_path, SCENARIO.replace("control: dry", "control: dr")))
    assert ":10:1: trial: Value error, the control 'dr' is not one of the treatments" in found


def test_an_unknown_profile_and_crop_are_named(tmp_path: Path) -> None:
    text = SCENARIO.replace("  - name: south\n", "  - name: south\n    profile: genesys\n").replace(
        "  blocks: 2\n", "  blocks: 2\n  crop: letuce\n"
    )
    path = write(tmp_path, text)
    found = problems(path)
    assert found[0] == (
        f"{path}:13:3: trial.crop: unknown crop 'letuce': did you mean 'lettuce'? the crops "
        "are carrot, dwarf beans, lettuce, radish, spinach"
    )
    assert found[1].startswith(f"{path}:9:5: sites.1.profile: unknown robot profile 'genesys'")


def test_a_trial_that_does_not_fit_the_bed_is_refused_with_sizes_that_would(
    tmp_path: Path,
) -> None:
    text = SCENARIO.replace("  - name: south\n", "  - name: south\n    profile: genesis\n")
    [found] = problems(write(tmp_path, text))
    assert ":11:1: trial: site 'south': the trial does not fit the genesis bed" in found
    assert "use plots at most 240 mm long" in found


def test_a_bad_weather_csv_line_is_carried_with_the_scenario_key(tmp_path: Path) -> None:
    (tmp_path / "w.csv").write_text(
        "date,t_min_c,t_max_c,rain_mm\n2026-04-15,5,12,0\n2026-04-16,5,x,0\n", encoding="utf-8"
    )
    text = SCENARIO.replace("{synthetic: {latitude_deg: 50.6}}", "{csv: w.csv, latitude_deg: 50.6}")
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}:7:15: sites.0.weather.csv: {tmp_path / 'w.csv'}:3: t_max_c 'x' is not a "
        "number: write e.g. 12.5"
    ]


def test_a_weather_csv_must_cover_every_season(tmp_path: Path) -> None:
    rows = "".join(f"2025-04-{day},{day - 10},30,0\n" for day in range(10, 30))
    (tmp_path / "w.csv").write_text("date,t_min_c,t_max_c,rain_mm\n" + rows, encoding="utf-8")
    text = SCENARIO.replace("{synthetic: {latitude_deg: 50.6}}", "{csv: w.csv, latitude_deg: 50.6}")
    path = write(tmp_path, text)
    runs = load_scenario(path).runs()
    first = next(iter(runs[0].inputs.weather or ()))
    assert first.t_min_c == 5  # the file's 15 April: the season's calendar day, not its first
    assert first.day == runs[0].inputs.start  # replayed on the season's own dates
    [found] = problems(write(tmp_path, text.replace("days: 10", "days: 20")))
    assert ":7:5: sites.0.weather: the weather runs from 2025-04-10 to 2025-04-29" in found


def test_a_file_that_is_not_yaml_is_refused_at_its_line(tmp_path: Path) -> None:
    [found] = problems(write(tmp_path, "name: [unclosed\n"))
    assert found.startswith(f"{tmp_path / 'scenario.yaml'}:2:1: this is not valid YAML")


def test_site_names_must_differ(tmp_path: Path) -> None:
    [found] = problems(write(tmp_path, SCENARIO.replace("name: south", "name: north")))
    assert "site names must differ; used twice: north" in found


def test_a_site_may_have_its_own_soil_checked_at_its_line(tmp_path: Path) -> None:
    north_weather = "weather: {synthetic: {latitude_deg: 50.6}}"
    clay = "\n    soil: {field_capacity_vol: 0.33, wilting_point_vol: 0.19}"
    text = SCENARIO.replace(north_weather, north_weather + clay, 1)
    north = [
        run for run in load_scenario(write(tmp_path, text)).runs() if run.inputs.site == "north"
    ]
    assert {run.inputs.soil.field_capacity_vol for run in north if run.inputs.soil} == {0.33}
    [found] = problems(write(tmp_path, text.replace("0.19", "0.4")))
    assert (
        ":8:5: sites.0.soil: Value error, the wilting point (0.4) must be below field capacity"
        in found
    )


def test_a_site_bed_smaller_than_the_robot_reaches_is_laid_out_on(tmp_path: Path) -> None:
    small = "  - name: south\n    bed_mm: [1000, 800]\n"
    [found] = problems(write(tmp_path, SCENARIO.replace("  - name: south\n", small)))
    assert "site 'south': the trial does not fit the genesis-xl bed of 1000 x 800 mm" in found
    roomy = "  - name: south\n    bed_mm: [2500, 2000]\n"
    runs = load_scenario(write(tmp_path, SCENARIO.replace("  - name: south\n", roomy))).runs()
    assert {run.inputs.bed_mm for run in runs if run.inputs.site == "south"} == {(2500, 2000)}
    huge = "  - name: south\n    bed_mm: [9000, 2000]\n"
    [found] = problems(write(tmp_path, SCENARIO.replace("  - name: south\n", huge)))
    assert "a 9000 x 2000 mm bed is larger than a genesis-xl reaches" in found


def test_the_researchers_guide_example_loads(tmp_path: Path) -> None:
    guide = (EXAMPLES.parents[1] / "docs" / "guides" / "researchers.md").read_text()
    section = guide[guide.index("## Simulating seasons") :]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    shutil.copytree(EXAMPLES / "weather", tmp_path / "weather")
    assert len(load_scenario(write(tmp_path, example)).runs()) > 0
