"""The jobs a scheduler runs on one robot: a trial's work, and students' sequences.

`JobRunner` is the scheduler's `run_job`. A trial's jobs (sow, water by regime, weed,
measure canopy) plan their visits with the planner from where the robot stands and carry
them out on the gantry; a job named after a checked sequence runs that sequence with the
schedule's parameters as its arguments. Either way every action is written to the action
journal the moment it is done, inside a job run tied to the scheduler's execution, and
the millilitres given so far go to the scheduler's journal too, so a power cut mid-run
leaves the exact amount on record. After a failure, `make_safe` closes the valve and puts
back whatever tool the journal last saw on the UTM, a restart included.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from controller.action_journal import ActionJournal
from controller.bed_jobs import (
    Eyes,
    PhotoSurvey,
    PlotPhotoSink,
    WeedSurvey,
    find_weeds,
    measure_canopy,
    photograph_bed,
    record_canopy,
    weed_bed,
)
from controller.gantry import EmergencyStopError, Gantry
from controller.jobs import Action, ActionListener, JobError, run_plan
from controller.robot import Robot
from controller.scheduler import JobContext
from controller.sequence_check import CheckedSequence
from controller.sequence_models import Detector
from controller.sequences import run_sequence
from controller.trial_jobs import sowing_tasks, watering_tasks
from planner.jobs import JobPlan, Task, Tool, ToolBay, plan_job
from potager.clock import Clock
from potager.robots import Coordinate
from trials.plots import PlotRectangle, SowingPoint
from trials.store import TrialStore
from vision.classify import WeedingSettings

Area = tuple[float, float, float, float]
TRIAL_JOBS = ("sow", "water", "weed", "canopy")
Job = Callable[[Mapping[str, Any], ActionListener], dict[str, Any]]
WeedSpotter = Callable[[], WeedSurvey]
"""The weeds to strike, found without photos (a simulator's ground truth, say)."""


@dataclass(frozen=True)
class TrialField:
    """The trial as the robot sees it on its bed."""

    trial_id: int
    plots: tuple[PlotRectangle, ...]
    sowing_points: tuple[SowingPoint, ...]
    treatment_by_plot: Mapping[int, str]
    ml_by_treatment: Mapping[str, float]
    """millilitres per plant at each watering, by treatment"""

    @property
    def area_mm(self) -> Area:
        """The smallest rectangle holding every plot: what the photo grid covers."""
        return (
            min(p.x_min_mm for p in self.plots),
            min(p.y_min_mm for p in self.plots),
            max(p.x_max_mm for p in self.plots),
            max(p.y_max_mm for p in self.plots),
        )

    @property
    def sown_mm(self) -> list[tuple[float, float]]:
        return [(p.x_mm, p.y_mm) for p in self.sowing_points]


@dataclass(frozen=True)
class Equipment:
    """The robot's eyes and the heights it works at (Z negative downward)."""

    eyes: Eyes | None
    """None: no camera (the canopy job refuses; weeding needs `spot_weeds`)"""
    sow_z_mm: float
    weed_z_mm: float
    water_z_mm: float = 0.0
    crop_radius_mm: float = 40.0
    """no weeder stroke within this distance of a sown point"""
    weeder_dwell_s: float = 1.0
    """how long the weeder stays in the soil at a strike"""
    weeding: WeedingSettings = field(default_factory=WeedingSettings)
    photos: PlotPhotoSink | None = None
    """where the canopy job keeps each plot's view it measured; None keeps none"""
    spot_weeds: WeedSpotter | None = None
    """what the weeding job strikes at; None: what the eyes find in a survey of photos"""


@dataclass(frozen=True)
class TrialWork:
    """What a trial's jobs need: the trial on the bed, the robot's eyes, the trial store."""

    field: TrialField
    equipment: Equipment
    store: TrialStore


class JobRunner:
    """Runs named jobs on one gantry, journalled; the scheduler's `run_job`.

    `bay` is where the tools rest. `detectors` are what the sequences' `detect` steps may
    call (those they were checked with). `order` is how trial jobs order their stops:
    "planner" (travel time) or a FarmBot sort name, to compare with FarmBot's own ordering.
    `on_action` hears every action after the journal (the simulator's garden does).
    """

    def __init__(
        self,
        gantry: Gantry,
        clock: Clock,
        bay: ToolBay,
        journal: ActionJournal,
        robot_id: str,
        now: Callable[[], datetime],
        *,
        trial: TrialWork | None = None,
        sequences: Mapping[str, CheckedSequence] | None = None,
        detectors: Mapping[str, Detector] | None = None,
        order: str = "planner",
        on_action: ActionListener | None = None,
    ) -> None:
        self.gantry, self.clock, self.bay = gantry, clock, bay
        self.journal, self.robot_id, self.now = journal, robot_id, now
        self.trial, self.order, self._on_action = trial, order, on_action
        self.sequences, self.detectors = dict(sequences or {}), dict(detectors or {})
        self._plan = functools.lru_cache(maxsize=8)(self._plan_from)
        clash = sorted(set(self.sequences) & set(TRIAL_JOBS))
        if clash:
            raise JobError(f"sequences {clash} have the names of built-in jobs; rename them")
        # a runner starting means none of this robot's runs is still going: close the
        # ones a crash left open, with what they had done
        self.interrupted = journal.interrupt_unfinished(robot_id, now())
        last = journal.last_action(robot_id)
        self.mounted: Tool | None = None if last is None or last.tool is None else Tool(last.tool)
        """the tool on the UTM, as the last recorded action left it (a restart included)"""

    @property
    def job_names(self) -> list[str]:
        return [*(TRIAL_JOBS if self.trial is not None else ()), *sorted(self.sequences)]

    def __call__(
        self, name: str, params: Mapping[str, Any], context: JobContext | None = None
    ) -> dict[str, Any]:
        return self._journalled(name, params, self._job(name), context)

    def make_safe(self) -> None:
        """Valve and vacuum off, and the tool back in its slot if one hangs from the UTM;
        journalled as a job of its own."""
        self._journalled("make_safe", {}, self._make_safe, None)

    # -- journalling -----------------------------------------------------------------

    def _job(self, name: str) -> Job:
        if name in self.sequences:
            return lambda params, listener: self._sequence(name, params, listener)
        jobs: dict[str, Job] = {
            "sow": self._sow,
            "water": self._water,
            "weed": self._weed,
            "canopy": self._canopy,
        }
        if name not in jobs or self.trial is None:
            known = ", ".join(self.job_names) or "none: give a trial or sequences"
            raise JobError(f"no job {name!r} on robot {self.robot_id}; its jobs are: {known}")
        return jobs[name]

    def _journalled(
        self, name: str, params: Mapping[str, Any], job: Job, context: JobContext | None
    ) -> dict[str, Any]:
        """Run `job` as one run of the action journal, every action recorded as it ends."""
        execution_id = context.execution_id if context is not None else None
        run_id = self.journal.start_run(self.robot_id, name, params, self.now(), execution_id)
        given_ml, steps = 0.0, 0

        def listener(action: Action) -> None:
            # a job may run several plans (photograph, then weed): number steps per run
            nonlocal given_ml, steps
            steps += 1
            action = replace(action, step=steps)
            self.mounted = None if action.tool is None else Tool(action.tool)
            self.journal.record(run_id, action, self.now())
            if action.volume_ml and context is not None:
                given_ml += action.volume_ml
                context.report_progress(given_ml=round(given_ml, 3))
            if self._on_action is not None:
                self._on_action(action)

        try:
            result = job(params, listener)
        except EmergencyStopError as error:
            self.journal.finish_run(run_id, "interrupted", self.now(), f"emergency stop: {error}")
            raise
        except Exception as error:
            self.journal.finish_run(
                run_id, "failed", self.now(), f"{type(error).__name__}: {error}"
            )
            raise
        self.journal.finish_run(run_id, "done", self.now())
        return result

    # -- the jobs --------------------------------------------------------------------

    def _make_safe(self, params: Mapping[str, Any], listener: ActionListener) -> dict[str, Any]:
        profile = self.gantry.profile
        for pin in (profile.water_valve_pin, profile.vacuum_pin):
            self.gantry.write_pin(pin, 0)
        parked = self.mounted
        if parked is not None:
            self._run([], listener)
        return {"parked": None if parked is None else parked.value}

    def _sequence(
        self, name: str, params: Mapping[str, Any], listener: ActionListener
    ) -> dict[str, Any]:
        checked = self.sequences[name]
        robot = Robot(
            self.gantry,
            checked.farm,
            tool=None if self.mounted is None else self.mounted.value,
            detectors=self.detectors,
            wall_clock=self.now,
            on_action=listener,
        )
        record = run_sequence(checked, robot, params)
        return {
            "watered_ml": record.watered_ml,
            "photos": len(record.photos),
            "marks": {mark.plant: mark.stage for mark in record.marks},
            "readings": record.readings,
        }

    def _sow(self, params: Mapping[str, Any], listener: ActionListener) -> dict[str, Any]:
        trial = self._trial()
        tasks = sowing_tasks(trial.field.sowing_points, trial.equipment.sow_z_mm)
        actions = self._run(tasks, listener)
        return {"sown": sum(a.kind == "sow" for a in actions)}

    def _water(self, params: Mapping[str, Any], listener: ActionListener) -> dict[str, Any]:
        trial = self._trial()
        chosen = params.get("plots")  # a sensor-led watering names the dry plots
        points = [p for p in trial.field.sowing_points if chosen is None or p.plot in chosen]
        tasks = watering_tasks(
            points,
            trial.field.treatment_by_plot,
            trial.field.ml_by_treatment,
            trial.equipment.water_z_mm,
        )
        actions = self._run(tasks, listener)
        return {"given_ml": round(sum(a.volume_ml for a in actions), 3)}

    def _weed(self, params: Mapping[str, Any], listener: ActionListener) -> dict[str, Any]:
        trial = self._trial()
        kit, sown_mm = trial.equipment, trial.field.sown_mm
        if kit.spot_weeds is not None:
            weeds, photos = kit.spot_weeds(), 0
        else:
            eyes, survey = self._eyes(), self._photograph(listener)
            weeds = find_weeds(survey, eyes.colours, eyes.crop_weed, sown_mm, kit.weeding)
            photos = len(survey.shots)
        result = weed_bed(
            self.gantry,
            weeds,
            sown_mm,
            self.clock,
            bay=self.bay,
            crop_radius_mm=kit.crop_radius_mm,
            weeder_z_mm=kit.weed_z_mm,
            mounted=self.mounted,
            dwell_s=kit.weeder_dwell_s,
            order=self.order,
            on_action=listener,
        )
        return {"photos": photos, "struck": result.struck, "review": result.reviewed}

    def _canopy(self, params: Mapping[str, Any], listener: ActionListener) -> dict[str, Any]:
        trial = self._trial()
        variable = str(params.get("variable", "canopy_cover"))
        survey = self._photograph(listener)
        plots = [
            (str(p.plot), p.x_min_mm, p.y_min_mm, p.x_max_mm, p.y_max_mm) for p in trial.field.plots
        ]
        canopy = measure_canopy(survey, plots, colours=self._eyes().colours)
        by_number = {int(name): cover for name, cover in canopy.percent.items()}
        measured_at, trial_id = self.now(), trial.field.trial_id
        record_canopy(trial.store, trial_id, by_number, variable, measured_at, self.robot_id)
        keep = trial.equipment.photos
        if keep is not None:  # after the record: a photo that fails loses no measurement
            for name, view in canopy.views.items():
                keep(trial_id, int(name), view, measured_at)
        mean = sum(by_number.values()) / len(by_number)
        return {"variable": variable, "plots": len(by_number), "mean_percent": round(mean, 2)}

    # -- shared steps ----------------------------------------------------------------

    def _trial(self) -> TrialWork:
        assert self.trial is not None  # _job refuses trial jobs without a trial
        return self.trial

    def _eyes(self) -> Eyes:
        eyes = self._trial().equipment.eyes
        if eyes is None:
            raise JobError(
                f"robot {self.robot_id} has no camera: give Equipment eyes to photograph"
            )
        return eyes

    def _run(self, tasks: Sequence[Task], listener: ActionListener) -> list[Action]:
        plan = self._plan(tuple(tasks), self.gantry.position, self.mounted, self.bay, self.order)
        return run_plan(self.gantry, plan, tasks, self.clock, on_action=listener)

    def _plan_from(
        self,
        tasks: tuple[Task, ...],
        start_mm: Coordinate,
        mounted: Tool | None,
        bay: ToolBay,
        order: str,
    ) -> JobPlan:
        """The job's plan, parked at the end; cached (`_plan`): the planner is deterministic
        and a daily watering, starting from the same slot, is the same job every day."""
        profile = self.gantry.profile
        return plan_job(
            tasks, profile, bay, start_mm=start_mm, mounted=mounted, end_parked=True, order=order
        )

    def _photograph(self, listener: ActionListener) -> PhotoSurvey:
        trial, eyes = self._trial(), self._eyes()
        return photograph_bed(
            self.gantry,
            trial.field.area_mm,
            eyes.camera,
            eyes.capture,
            self.clock,
            z_mm=eyes.z_mm,
            bay=self.bay,
            mounted=self.mounted,
            order=self.order,
            on_action=listener,
        )
