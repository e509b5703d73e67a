"""A trial's jobs as the scheduler runs them: sow, water by regime, weed, measure canopy.

`TrialJobs` is the scheduler's `run_job` for a robot tending one trial. Each job plans its
visits with the planner from where the robot stands, carries them out on the gantry (a
real robot or the simulator alike), and writes every action to the action journal the
moment it is done, inside a job run tied to the scheduler's execution. A watering also
reports the millilitres given so far to the scheduler's journal, so a power cut mid-run
leaves the exact amount on record. Whatever happens, the job ends with its tool parked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from controller.action_journal import ActionJournal
from controller.bed_jobs import (
    Capture,
    PhotoSurvey,
    find_weeds,
    measure_canopy,
    photograph_bed,
    record_canopy,
    weed_bed,
)
from controller.gantry import EmergencyStopError, Gantry
from controller.jobs import Action, ActionListener, JobError, run_plan
from controller.scheduler import JobContext
from controller.trial_jobs import sowing_tasks, watering_tasks
from planner.jobs import Task, Tool, ToolBay, plan_job
from potager.clock import Clock
from trials.plots import PlotRectangle, SowingPoint
from trials.store import TrialStore
from vision.camera_model import CameraModel
from vision.classify import CropWeedModel, WeedingSettings
from vision.colour_model import ColourModel

Area = tuple[float, float, float, float]


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
    """The robot's tools and eyes, and the heights it works at (Z negative downward)."""

    bay: ToolBay
    camera: CameraModel
    capture: Capture
    colours: ColourModel
    crop_weed: CropWeedModel
    sow_z_mm: float
    weed_z_mm: float
    water_z_mm: float = 0.0
    photo_z_mm: float = 0.0
    crop_radius_mm: float = 40.0
    """no weeder stroke within this distance of a sown point"""
    weeder_dwell_s: float = 1.0
    """how long the weeder stays in the soil at a strike"""
    weeding: WeedingSettings = field(default_factory=WeedingSettings)


JOB_NAMES = ("sow", "water", "weed", "canopy")


class TrialJobs:
    """Runs the named jobs of one trial on one gantry; the scheduler's `run_job`.

    `order` is how each job orders its stops: "planner" (travel time) or a FarmBot sort
    name, to compare with FarmBot's own ordering. `on_action` hears every action too (the
    simulator's garden does, to feel the water and the weeder).
    """

    def __init__(
        self,
        gantry: Gantry,
        clock: Clock,
        trial: TrialField,
        equipment: Equipment,
        journal: ActionJournal,
        trials: TrialStore,
        robot_id: str,
        now: Callable[[], datetime],
        *,
        order: str = "planner",
        on_action: ActionListener | None = None,
    ) -> None:
        self.gantry, self.clock, self.trial, self.equipment = gantry, clock, trial, equipment
        self.journal, self.trials, self.robot_id, self.now = journal, trials, robot_id, now
        self.order, self._on_action = order, on_action
        # a runner starting means none of this robot's runs is still going: close the
        # ones a crash left open, with what they had done
        self.interrupted = journal.interrupt_unfinished(robot_id, now())
        last = journal.last_action(robot_id)
        self.mounted: Tool | None = None if last is None or last.tool is None else Tool(last.tool)
        """the tool on the UTM, as the last recorded action left it (a restart included)"""
        self._jobs: dict[str, Callable[[Mapping[str, Any], ActionListener], dict[str, Any]]] = {
            "sow": self._sow,
            "water": self._water,
            "weed": self._weed,
            "canopy": self._canopy,
        }

    def __call__(
        self, name: str, params: Mapping[str, Any], context: JobContext | None = None
    ) -> dict[str, Any]:
        job = self._jobs.get(name)
        if job is None:
            raise JobError(f"no job {name!r} for a trial; the jobs are {', '.join(JOB_NAMES)}")
        return self._journalled(name, params, job, context)

    def make_safe(self) -> None:
        """Valve and vacuum off, and the tool back in its slot if one hangs from the UTM;
        journalled as a job of its own."""
        self._journalled("make_safe", {}, self._make_safe, None)

    def _journalled(
        self,
        name: str,
        params: Mapping[str, Any],
        job: Callable[[Mapping[str, Any], ActionListener], dict[str, Any]],
        context: JobContext | None,
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

    def _make_safe(self, params: Mapping[str, Any], listener: ActionListener) -> dict[str, Any]:
        profile = self.gantry.profile
        for pin in (profile.water_valve_pin, profile.vacuum_pin):
            self.gantry.write_pin(pin, 0)
        parked = self.mounted
        if parked is not None:
            self._run([], listener)
        return {"parked": None if parked is None else parked.value}

    # -- the jobs --------------------------------------------------------------------

    def _sow(self, params: Mapping[str, Any], listener: ActionListener) -> dict[str, Any]:
        tasks = sowing_tasks(self.trial.sowing_points, self.equipment.sow_z_mm)
        actions = self._run(tasks, listener)
        return {"sown": sum(a.kind == "sow" for a in actions)}

    def _water(self, params: Mapping[str, Any], listener: ActionListener) -> dict[str, Any]:
        tasks = watering_tasks(
            self.trial.sowing_points,
            self.trial.treatment_by_plot,
            self.trial.ml_by_treatment,
            self.equipment.water_z_mm,
        )
        actions = self._run(tasks, listener)
        return {"given_ml": round(sum(a.volume_ml for a in actions), 3)}

    def _weed(self, params: Mapping[str, Any], listener: ActionListener) -> dict[str, Any]:
        kit = self.equipment
        survey = self._photograph(listener)
        weeds = find_weeds(survey, kit.colours, kit.crop_weed, self.trial.sown_mm, kit.weeding)
        result = weed_bed(
            self.gantry,
            weeds,
            self.trial.sown_mm,
            self.clock,
            bay=kit.bay,
            crop_radius_mm=kit.crop_radius_mm,
            weeder_z_mm=kit.weed_z_mm,
            mounted=self.mounted,
            dwell_s=kit.weeder_dwell_s,
            order=self.order,
            on_action=self._tracked(listener),
        )
        return {"photos": len(survey.shots), "struck": result.struck, "review": result.reviewed}

    def _canopy(self, params: Mapping[str, Any], listener: ActionListener) -> dict[str, Any]:
        variable = str(params.get("variable", "canopy_cover"))
        survey = self._photograph(listener)
        plots = [
            (str(p.plot), p.x_min_mm, p.y_min_mm, p.x_max_mm, p.y_max_mm) for p in self.trial.plots
        ]
        covers = measure_canopy(survey, plots, colours=self.equipment.colours)
        by_number = {int(name): cover for name, cover in covers.items()}
        record_canopy(
            self.trials, self.trial.trial_id, by_number, variable, self.now(), self.robot_id
        )
        mean = sum(by_number.values()) / len(by_number)
        return {"variable": variable, "plots": len(by_number), "mean_percent": round(mean, 2)}

    # -- shared steps ----------------------------------------------------------------

    def _run(self, tasks: Sequence[Task], listener: ActionListener) -> list[Action]:
        plan = plan_job(
            tasks,
            self.gantry.profile,
            self.equipment.bay,
            start_mm=self.gantry.position,
            mounted=self.mounted,
            end_parked=True,
            order=self.order,
        )
        return run_plan(self.gantry, plan, tasks, self.clock, on_action=self._tracked(listener))

    def _tracked(self, listener: ActionListener) -> ActionListener:
        """`listener`, after noting which tool each action leaves on the UTM."""

        def hear(action: Action) -> None:
            self.mounted = None if action.tool is None else Tool(action.tool)
            listener(action)

        return hear

    def _photograph(self, listener: ActionListener) -> PhotoSurvey:
        kit = self.equipment
        return photograph_bed(
            self.gantry,
            self.trial.area_mm,
            kit.camera,
            kit.capture,
            self.clock,
            z_mm=kit.photo_z_mm,
            bay=kit.bay,
            mounted=self.mounted,
            order=self.order,
            on_action=self._tracked(listener),
        )
