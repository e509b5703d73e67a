"""A simulated season in loopback (in-process firmware, virtual clock): what the journals,
the trial store and the bed hold afterwards, checked against what the trial asked."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, time
from zoneinfo import ZoneInfo

import cv2
import pytest

from controller.action_journal import ActionJournal
from potager.db import make_engine, session_factory
from sim.season import ROBOT_ID, SeasonConfig, SeasonReport, design, run_season
from trials.photos import photo_dir_for
from trials.plots import sowing_points
from trials.store import TrialStore

CONFIG = SeasonConfig(days=16)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> SeasonReport:
    root = tmp_path_factory.mktemp("season")
    return run_season(CONFIG, root, link="loopback", models_dir=root / "models")


def test_every_scheduled_job_ran_once_and_finished(report: SeasonReport) -> None:
    jobs = report.work.runs_by_job
    assert jobs == {
        "sow": {"done": 1},
        "water": {"done": 8},
        "weed": {"done": 2},
        "canopy": {"done": 2},
    }


def test_each_watering_gave_each_plant_its_regimes_millilitres(report: SeasonReport) -> None:
    sessions = session_factory(make_engine(f"sqlite:///{report.out_dir / 'potager.sqlite3'}"))
    journal = ActionJournal(sessions)
    waterings = [run for run in journal.runs(ROBOT_ID) if run.job == "water"]
    book, rectangles = design(CONFIG)
    treatment = {plot.plot: plot.treatment for plot in book.plots}
    spacing = CONFIG.plant_spacing_mm
    for run in waterings:
        given: dict[tuple[float, float], float] = defaultdict(float)
        for action in journal.actions(run_id=run.id):
            if action.kind == "water":
                given[(action.x_mm, action.y_mm)] += action.volume_ml
        expected = {
            (point.x_mm, point.y_mm): CONFIG.ml_by_treatment[treatment[point.plot]]
            for point in sowing_points(rectangles, spacing, spacing)
            if CONFIG.ml_by_treatment[treatment[point.plot]] > 0
        }
        assert given == expected
    steps = [(a.run_id, a.step) for a in journal.actions(robot_id=ROBOT_ID)]
    assert len(set(steps)) == len(steps)


def test_weeds_were_pulled_and_no_crop_was_touched(report: SeasonReport) -> None:
    assert report.weeds_removed >= 10
    assert report.crops_struck == 0
    assert report.work.weeds_struck >= report.weeds_removed / 3


def test_more_water_grew_more_canopy_and_the_anova_sees_it(report: SeasonReport) -> None:
    means = {group.level: group.mean for group in report.analysis.tukey.groups}
    assert means["high"] > means["medium"] > means["low"] > means["dry"]
    line = report.analysis.anova.row("treatment")
    assert line.p is not None and line.p < 0.001
    assert len(report.analysis.rows) == 16
    assert all(0 <= float(str(row.value)) <= 100 for row in report.analysis.rows)


def test_the_summary_and_files_say_what_happened(report: SeasonReport) -> None:
    summary = (report.out_dir / "summary.txt").read_text()
    assert "sowed 64 seeds" in summary
    assert f"gave {report.work.water_ml / 1000:.1f} l of water" in summary
    assert "Tukey" in summary and "ANOVA: canopy_cover_d14" in summary
    anova = (report.out_dir / "anova.txt").read_text()
    assert "treatment" in anova and "residual" in anova
    assert math.isclose(report.work.water_ml, 8 * 4 * 4 * (40 + 120 + 250))
    assert report.work.moving_s > 3600  # a month of sowing, watering and weeding moves


def test_each_canopy_survey_kept_a_view_of_every_plot(report: SeasonReport) -> None:
    """The dashboard's photos per plot over time: one per plot on each canopy day."""
    url = f"sqlite:///{report.out_dir / 'potager.sqlite3'}"
    store = TrialStore(session_factory(make_engine(url)))
    plots = store.plot_photos(store.trials()[0].id)
    assert len(plots) == 16
    start = datetime.combine(CONFIG.start, time(), ZoneInfo(CONFIG.zone))
    for plot in plots:
        days = [(photo.taken_at - start).days for photo in plot.photos]
        assert days == list(CONFIG.canopy_days)  # one each survey, oldest first
    folder = photo_dir_for(url)
    view = cv2.imread(str(folder / plots[0].photos[-1].path))
    assert view.shape == (200, 200, 3)  # a 400 mm plot at the mosaic's 2 mm a pixel
