"""Robot schedule files: every problem at once, with file, line and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from controller.schedule_file import load_robot_schedules
from controller.schedule_rules import EventRule, RegimenRule
from controller.sequence_load import SequenceError

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"

GOOD = """\
robot: greenhouse-1
profile: genesis
zone: Europe/Paris
sequences:
  water lettuces: water-lettuces.yaml
schedules:
  - name: morning water
    job: water lettuces
    start_local: 2026-06-01T07:00
    every: 1
    unit: days
    params: {amount_ml: 30}
  - name: first week
    kind: regimen
    start_date: 2026-06-01
    items:
      - {day_offset_days: 0, time_of_day: "18:00", job: water lettuces}
    grace_s: 600
"""


def write(folder: Path, text: str) -> Path:
    shutil.copy(EXAMPLES / "water-lettuces.yaml", folder / "water-lettuces.yaml")
    path = folder / "robot.yaml"
    path.write_text(text)
    return path


def test_a_good_file_gives_checked_sequences_and_rules(tmp_path: Path) -> None:
    loaded = load_robot_schedules(write(tmp_path, GOOD))
    assert loaded.robot_id == "greenhouse-1" and loaded.profile == "genesis"
    assert list(loaded.sequences) == ["water lettuces"]
    water, week = loaded.schedules
    assert isinstance(water.rule, EventRule) and water.rule.zone == "Europe/Paris"
    assert water.rule.params == {"amount_ml": 30} and water.grace_s == 1800
    assert isinstance(week.rule, RegimenRule) and week.grace_s == 600


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("job: water lettuces\n    start", "job: water carrots\n    start"),
         r"robot\.yaml:8:5: schedule 'morning water' runs 'water carrots', which is not one of "
         r"the file's sequences \('water lettuces'\)"),
        (("every: 1", "every: 0"), r"robot\.yaml:10:5: schedule 'morning water': every: Input "
         r"should be greater than or equal to 1"),
        (("zone: Europe/Paris", "zone: Europe/Lyon"), r"unknown time zone 'Europe/Lyon'"),
        (("water-lettuces.yaml", "missing.yaml"), r"robot\.yaml:5:3: sequence 'water lettuces'"
         r":\n.*cannot read .*missing\.yaml"),
        (("name: first week", "name: morning water"), r"robot\.yaml:13:5: the name 'morning "
         r"water' is used twice"),
        (("profile: genesis", "profile: genesys"), r"robot\.yaml:2:1: unknown robot profile"),
    ],
)  # fmt: skip
def test_each_problem_names_its_line_and_what_is_valid(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(SequenceError, match=message):
        load_robot_schedules(write(tmp_path, GOOD.replace(*change, 1)))


def test_all_problems_come_at_once(tmp_path: Path) -> None:
    broken = GOOD.replace("every: 1", "every: 0").replace(
        "job: water lettuces\n    start", "job: x\n    start"
    )
    with pytest.raises(SequenceError) as caught:
        load_robot_schedules(write(tmp_path, broken))
    assert len(caught.value.problems) == 1  # the bad rule is refused before its job is looked up
    broken = GOOD.replace("job: water lettuces\n    start", "job: x\n    start").replace(
        "name: first week", "name: morning water"
    )
    with pytest.raises(SequenceError) as caught:
        load_robot_schedules(write(tmp_path, broken))
    assert len(caught.value.problems) == 2


def test_the_documented_example_loads() -> None:
    loaded = load_robot_schedules(EXAMPLES / "robots" / "greenhouse.yaml")
    assert [entry.name for entry in loaded.schedules] == ["morning water", "hot week extra"]
