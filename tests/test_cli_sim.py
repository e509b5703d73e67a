"""`potager sim season|compare` end to end on the real simulator, shortened."""

from __future__ import annotations

from pathlib import Path

import pytest

from potager.cli import main

EXAMPLES = Path(__file__).parents[1] / "examples" / "scenarios"
SHORT = ["--days", "6", "--seeds", "2", "--workers", "2"]
OUTPUTS = ("summary.txt", "runs.csv", "plots.csv", "yield_by_site.png", "treatment_means.png")


def outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


def test_one_bed_runs_resumes_and_repeats_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = str(EXAMPLES / "one-bed.yaml")
    assert main(["sim", "season", scenario, "--out", str(tmp_path / "a"), *SHORT]) == 0
    printed = capsys.readouterr()
    assert "Scenario one bed: 2 runs = 1 site(s) x 1 season(s) x 2 seed(s)" in printed.out
    assert "[2/2] site home season 0 seed" in printed.err
    first = outputs(tmp_path / "a")
    assert main(["sim", "season", scenario, "--out", str(tmp_path / "a"), *SHORT]) == 0
    assert "resuming: 2 of 2 runs already done" in capsys.readouterr().err
    assert outputs(tmp_path / "a") == first
    assert main(["sim", "season", scenario, "--out", str(tmp_path / "b"), *SHORT]) == 0
    assert outputs(tmp_path / "b") == first


def test_multi_site_analyses_the_sites_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["sim", "season", str(EXAMPLES / "multi-site.yaml"), "--out", str(out), *SHORT]
    assert main(args) == 0
    summary = (out / "summary.txt").read_text(encoding="utf-8")
    for line in ("avignon ", "lille ", "strasbourg ", "all sites ", "multisite (fixed sites)"):
        assert line in summary
    assert len((out / "runs.csv").read_text(encoding="utf-8").splitlines()) == 1 + 3 * 2
    first = outputs(out)
    (out / "runs" / "lille-s0-2.json").unlink()
    assert main(args) == 0
    assert "resuming: 5 of 6 runs already done" in capsys.readouterr().err
    assert outputs(out) == first


def test_compare_pairs_the_weeding_strategies_by_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = EXAMPLES / "weeding-7-days.yaml", EXAMPLES / "weeding-3-days.yaml"
    assert main(["sim", "compare", str(a), str(b), "--out", str(tmp_path), *SHORT]) == 0
    table = capsys.readouterr().out
    assert "paired by season and seed" in table
    assert [line.split()[0] for line in table.splitlines()[2:6]] == [
        "yield_g_per_m2",
        "water_l",
        "travel_h",
        "weeds_left",
    ]
    assert (tmp_path / "a-weeding-7-days" / "summary.txt").exists()
    assert (tmp_path / "b-weeding-3-days" / "summary.txt").exists()
    header = (tmp_path / "compare.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("metric,a_mean,a_lower,a_upper,b_mean")


def test_a_bad_scenario_exits_2_with_its_problems_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (EXAMPLES / "one-bed.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("weed_every_days: 7", "weed_every_day: 7"), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["sim", "season", str(bad), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "strategy.weed_every_day: unknown key 'weed_every_day'; did you mean" in error
    assert f"{bad}:23:3:" in error
    assert not out.exists()
    assert (
        main(["sim", "compare", str(EXAMPLES / "one-bed.yaml"), str(bad), "--out", str(out)]) == 2
    )
    assert not out.exists()
