"""What a simulated season leaves behind: the analysis, the figures, the tables, a summary.

Everything here is read back from the databases the season wrote (the trial store, the
scheduler's journal, the action journal): the summary reports what was recorded, not what
the simulation meant to do.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from controller.action_journal import ActionJournal, ActionView
from controller.scheduler import ScheduleStore
from planner.motion import moves_time_s
from potager.robots import RobotProfile
from trials.analysis import AnovaResult, Observations, anova_rcbd, compare, format_anova
from trials.comparisons import Comparison
from trials.figures import field_map, means_plot
from trials.store import TidyRow, TrialStore

MOVES = frozenset({"travel", "work", "tool_change"})


@dataclass(frozen=True)
class Analysis:
    """The trial's last canopy measurement analysed as the RCBD it is."""

    variable: str
    rows: list[TidyRow]
    anova: AnovaResult
    tukey: Comparison

    def anova_line(self) -> str:
        line = self.anova.row("treatment")
        p = "" if line.p is None else f", p = {line.p:.2g}"
        f = (
            ""
            if line.f is None
            else f"F({line.df}, {self.anova.row('residual').df}) = {line.f:.2f}"
        )
        return f"{self.variable}: treatment {f}{p}; CV {self.anova.cv_percent:.1f} %"


@dataclass(frozen=True)
class RobotWork:
    """Totals from the action journal."""

    actions: Counter[str]
    busy_s: float
    moving_s: float
    moving_s_by_job: dict[str, float]
    water_ml: float
    weeds_struck: int
    runs_by_job: dict[str, Counter[str]]


def analyse(trials: TrialStore, trial_id: int, variable: str) -> Analysis:
    """ANOVA of one variable over the trial's blocks, Tukey letters on its treatments."""
    rows = [row for row in trials.tidy_observations(trial_id) if row.variable == variable]
    observations = Observations.from_columns(
        [row.value for row in rows],
        response_name=variable,
        treatment=[row.treatment for row in rows],
        block=[row.block for row in rows],
    )
    result = anova_rcbd(observations, "treatment", "block")
    return Analysis(variable, rows, result, compare(result, "treatment", "tukey"))


def robot_work(
    journal: ActionJournal, schedules: ScheduleStore, robot_id: str, profile: RobotProfile
) -> RobotWork:
    """What the robot did, from its journals.

    Moving time prices each recorded move from the position before it with the firmware's
    motion model: what the robot needs, whatever the computer simulating it did meanwhile.
    """
    actions = journal.actions(robot_id=robot_id)
    runs = journal.runs(robot_id)
    busy_s = sum(
        (run.finished_at - run.started_at).total_seconds()
        for run in runs
        if run.finished_at is not None
    )
    corners = np.array([(0.0, 0.0, 0.0)] + [(a.x_mm, a.y_mm, a.z_mm) for a in actions])
    legs_s = moves_time_s(profile, np.diff(corners, axis=0))
    moving = np.array([action.kind in MOVES for action in actions], dtype=bool)
    job_of_run = {run.id: run.job for run in runs}
    by_job: dict[str, float] = {}
    for action, leg_s, moved in zip(actions, legs_s, moving, strict=True):
        if moved:
            job = job_of_run[action.run_id]
            by_job[job] = by_job.get(job, 0.0) + float(leg_s)
    outcomes: dict[str, Counter[str]] = {}
    for execution in schedules.journal(robot_id):
        outcomes.setdefault(execution.job, Counter())[execution.outcome or "running"] += 1
    kinds = Counter(action.kind for action in actions)
    return RobotWork(
        actions=kinds,
        busy_s=busy_s,
        moving_s=float(legs_s[moving].sum()),
        moving_s_by_job=by_job,
        water_ml=sum(action.volume_ml for action in actions),
        weeds_struck=kinds["weed"],
        runs_by_job=outcomes,
    )


def write_outputs(
    out_dir: Path, analysis: Analysis, journal: ActionJournal, robot_id: str
) -> list[Path]:
    """The analysis as text, its figures as PNG, observations and actions as CSV."""
    written = []
    anova_path = out_dir / "anova.txt"
    letters = "\n".join(
        f"  {group.level:<10} {group.mean:8.2f}  {group.letters}" for group in analysis.tukey.groups
    )
    anova_path.write_text(
        f"{format_anova(analysis.anova)}\n\nTukey HSD (alpha {analysis.tukey.alpha}):\n{letters}\n",
        encoding="utf-8",
    )
    written.append(anova_path)
    means = means_plot(analysis.anova, "treatment", analysis.tukey)
    means.savefig(out_dir / "canopy_means.png", dpi=100)
    written.append(out_dir / "canopy_means.png")
    written.append(_observations_csv(out_dir / "observations.csv", analysis.rows))
    written.append(_actions_csv(out_dir / "actions.csv", journal.actions(robot_id=robot_id)))
    return written


def write_field_map(
    out_dir: Path, analysis: Analysis, rows_cols: dict[int, tuple[int, int]]
) -> Path:
    """The measured canopy over the field grid, blocks outlined."""
    plots = [row.plot for row in analysis.rows]
    figure = field_map(
        [rows_cols[plot][0] for plot in plots],
        [rows_cols[plot][1] for plot in plots],
        [float(row.value) for row in analysis.rows],  # type: ignore[arg-type]
        [str(row.block) for row in analysis.rows],
    )
    path = out_dir / "canopy_field_map.png"
    figure.savefig(path, dpi=100)
    return path


def _observations_csv(path: Path, rows: list[TidyRow]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["plot", "block", "treatment", "variable", "value", "unit", "observed_at"])
        for row in rows:
            writer.writerow(
                [row.plot, row.block, row.treatment, row.variable, row.value, row.unit,
                 row.observed_at.isoformat()]
            )  # fmt: skip
    return path


def _actions_csv(path: Path, actions: list[ActionView]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["run", "step", "at", "kind", "task", "x_mm", "y_mm", "z_mm", "ml"])
        for a in actions:
            writer.writerow(
                [a.run_id, a.step, a.at.isoformat(), a.kind, a.task or "", f"{a.x_mm:.1f}",
                 f"{a.y_mm:.1f}", f"{a.z_mm:.1f}", f"{a.volume_ml:g}"]
            )  # fmt: skip
    return path
