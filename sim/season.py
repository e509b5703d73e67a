"""A trial's season on the simulator: the robot sows, waters, weeds and measures for a month.

Everything is the real thing except the world: the trial is designed, laid out and stored
in the database; the scheduler runs its schedules; each job is planned by the planner and
carried out by the controller over a firmware link; the photos go through the vision
pipeline; the canopy becomes observations; the analysis reads them back. The simulator
supplies the firmware (on a pseudo-terminal, or in process for speed), the clock (which
jumps over idle nights) and the bed, whose plants grow with the water the robot gives and
whose weeds come up by themselves and go when the weeder strikes them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Self, TextIO
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator

from controller.action_journal import ActionJournal
from controller.bed_jobs import Capture, Eyes
from controller.gantry import Gantry
from controller.job_runner import Equipment, JobRunner, TrialField, TrialWork
from controller.jobs import Action, ActionListener
from controller.link import LoopbackLink, SerialLink
from controller.schedule_rules import EventRule, RegimenItem, RegimenRule
from controller.scheduler import JobContext, RunJob, Scheduler, ScheduleStore
from planner.jobs import ToolBay
from potager.clock import Clock, FastForwardClock, VirtualClock
from potager.db import make_engine, session_factory, upgrade_database
from potager.robots import AXES, PROFILES, Coordinate, RobotProfile, get_profile
from sim.firmware import MOVE_REPORT_S
from sim.growth import GrowingBed, inside
from sim.season_report import (
    Analysis,
    RobotWork,
    analyse,
    robot_work,
    write_field_map,
    write_outputs,
)
from sim.serve import firmware_for, simulated_robots
from sim.vision_models import sim_vision_models
from trials.design import Factor, FieldBook, rcbd
from trials.photos import PhotoFolder, photo_dir_for
from trials.plots import BedArea, PlotRectangle, Spacing, lay_out, sowing_points
from trials.store import TrialStore, store_laid_out_trial
from vision.camera_model import CameraModel
from vision.images import Photo

LinkKind = Literal["pty", "loopback"]
ROBOT_ID = "sim-robot-1"
GRACE_S = 3600.0
"""A job may start up to an hour late (a long weeding before it); later, it is skipped."""
WEEDER_REACH_MM = 12.0
"""How far from its aim the simulated weeder uproots a weed: the tines' half-span."""


class TrialOnBed(BaseModel):
    """A randomized-blocks trial laid out on one robot's bed, and the robot's settings for
    it: what the demo's season and a research season (`sim.research`) share."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: str = "genesis-xl"
    bed_mm: tuple[PositiveFloat, PositiveFloat] | None = Field(
        default=None,
        description="x, y of the bed from the robot's origin; default: all the robot reaches",
    )
    blocks: int = Field(default=4, ge=2)
    plot_mm: tuple[float, float] = (400.0, 400.0)
    gap_mm: tuple[float, float] = (150.0, 150.0)
    origin_mm: tuple[float, float] = (300.0, 300.0)
    plant_spacing_mm: float = Field(default=200.0, gt=0)
    nozzle_flow_ml_s: float = Field(default=25.0, gt=0)
    soil_z_mm: float = Field(default=-400.0, lt=0)
    seed: int = 1

    def design(
        self, treatments: Sequence[str], control: str
    ) -> tuple[FieldBook, list[PlotRectangle]]:
        """The randomized blocks laid onto the bed: one block per row of plots."""
        factor = Factor("watering", list(treatments), controls=[control])
        book = rcbd(factor, self.blocks, seed=self.seed)
        length_x_mm, length_y_mm = self.bed_size_mm()
        x0, y0 = self.origin_mm
        bed = BedArea(x0, y0, length_x_mm - x0, length_y_mm - y0)
        return book, lay_out(book, bed, *self.plot_mm, Spacing(*self.gap_mm))

    def bed_size_mm(self) -> tuple[float, float]:
        """The bed's size: as given, or all the robot reaches."""
        if self.bed_mm is not None:
            return self.bed_mm
        profile = get_profile(self.profile)
        return profile.length_x_mm, profile.length_y_mm

    @model_validator(mode="after")
    def _bed_within_reach(self) -> Self:
        profile = PROFILES.get(self.profile)
        if profile is None:
            raise ValueError(f"unknown robot profile {self.profile!r}; choose one of: "
                             f"{', '.join(PROFILES)}")  # fmt: skip
        length_x_mm, length_y_mm = self.bed_size_mm()
        if length_x_mm > profile.length_x_mm or length_y_mm > profile.length_y_mm:
            raise ValueError(
                f"a {length_x_mm:g} x {length_y_mm:g} mm bed is larger than a {self.profile} "
                f"reaches ({profile.length_x_mm:g} x {profile.length_y_mm:g} mm)"
            )
        return self


def check_control(control: str, treatments: Collection[str]) -> None:
    """The control must be one of the treatments (a validator's ValueError otherwise)."""
    if control not in treatments:
        raise ValueError(f"the control {control!r} is not one of the treatments {list(treatments)}")


class SeasonConfig(TrialOnBed):
    """A randomized watering trial and its month of care; every default is the demo's."""

    ml_by_treatment: dict[str, float] = Field(
        default_factory=lambda: {"dry": 0.0, "low": 40.0, "medium": 120.0, "high": 250.0},
        description="millilitres per plant at each watering; 0 is the dry control",
    )
    control: str = "dry"
    start: date = date(2026, 5, 4)
    zone: str = "Europe/Paris"
    days: int = Field(default=30, ge=1)
    water_every_days: int = Field(default=2, ge=1)
    weed_every_days: int = Field(default=7, ge=1)
    canopy_days: tuple[int, ...] = Field(
        default=(),
        description="days the canopy is photographed and measured; none given: halfway "
        "through and two days before the end",
    )
    camera_width_px: int = 640
    camera_height_px: int = 480
    camera_mm_per_px: float = 1.0

    def camera(self) -> CameraModel:
        """The robot's camera, looking straight down from the top of its Z travel."""
        return CameraModel(
            width_px=self.camera_width_px,
            height_px=self.camera_height_px,
            mm_per_px=self.camera_mm_per_px,
        )

    @model_validator(mode="after")
    def _canopy_within_the_season(self) -> Self:
        if not self.canopy_days:
            halfway, last = self.days // 2, max(self.days - 2, 1)
            object.__setattr__(self, "canopy_days", tuple(sorted({halfway, last} - {0})))
        outside = [day for day in self.canopy_days if not 1 <= day < self.days]
        if outside:
            raise ValueError(
                f"canopy days {outside} fall outside the {self.days}-day season: "
                f"use days 1 to {self.days - 1}"
            )
        check_control(self.control, self.ml_by_treatment)
        return self


@dataclass(frozen=True)
class SeasonReport:
    """What happened, read back from the journals and the trial store."""

    config: SeasonConfig
    work: RobotWork
    analysis: Analysis
    weeds_removed: int
    weeds_left: int
    crops_struck: int
    out_dir: Path
    files: list[Path]
    wall_s: float = 0.0

    def summary(self) -> str:
        """A few lines a farmer can read: what the robot did, and what the trial shows."""
        work, runs = self.work, self.work.runs_by_job
        jobs = "; ".join(
            f"{job} {sum(c.values())} ({', '.join(f'{n} {o}' for o, n in sorted(c.items()))})"
            for job, c in sorted(runs.items())
        )
        means = ", ".join(
            f"{g.level} {g.mean:.1f} % ({g.letters})" for g in self.analysis.tukey.groups
        )
        return "\n".join(
            [
                f"Season of {self.config.days} days from {self.config.start.isoformat()} "
                f"on a simulated {self.config.profile} bed.",
                f"Jobs: {jobs}.",
                f"The robot was busy {work.busy_s / 3600:.1f} h (vision on this computer "
                f"included) and moved {work.moving_s / 3600:.1f} h; it sowed "
                f"{work.actions['sow']} seeds, gave "
                f"{work.water_ml / 1000:.1f} l of water, took {work.actions['photograph']} "
                f"photos and struck {work.weeds_struck} times at weeds.",
                f"Weeds in the trial: {self.weeds_removed} pulled out, {self.weeds_left} still "
                f"there (next to crops, left for a person, or too young to see); crops hit by "
                f"the weeder: {self.crops_struck}.",
                f"Canopy cover, treatment means with Tukey letters: {means}.",
                f"ANOVA: {self.analysis.anova_line()}.",
                f"Files in {self.out_dir}: {', '.join(p.name for p in self.files)}.",
                f"Wall time: {self.wall_s:.1f} s.",
            ]
        )


def canopy_variable(day: int) -> str:
    return f"canopy_cover_d{day}"


def design(config: SeasonConfig) -> tuple[FieldBook, list[PlotRectangle]]:
    """The demo's watering regimes laid onto the bed."""
    return config.design(list(config.ml_by_treatment), config.control)


def schedules(config: SeasonConfig) -> list[tuple[str, EventRule | RegimenRule]]:
    """Sow on the first morning, water every few days, weed weekly, measure canopy twice."""
    start = datetime.combine(config.start, datetime.min.time())
    end = start + timedelta(days=config.days)

    def every(days: int, hour: int, job: str, first_day: int) -> list[EventRule]:
        """The repeating event, if its first day falls inside the season."""
        if first_day >= config.days:
            return []
        return [
            EventRule(
                zone=config.zone,
                start_local=start + timedelta(days=first_day, hours=hour),
                every=days,
                unit="days",
                end_local=end,
                job=job,
            )
        ]

    sow = EventRule(zone=config.zone, start_local=start + timedelta(hours=8), job="sow")
    canopy = RegimenRule(
        zone=config.zone,
        start_date=config.start,
        items=[
            RegimenItem(
                day_offset_days=day,
                time_of_day=datetime.min.time().replace(hour=12),
                job="canopy",
                params={"variable": canopy_variable(day)},
            )
            for day in config.canopy_days
        ],
    )
    watering = every(config.water_every_days, 7, "water", 1)
    weeding = every(config.weed_every_days, 10, "weed", config.weed_every_days)
    return [
        ("sowing", sow),
        *(("watering", rule) for rule in watering),
        *(("weeding", rule) for rule in weeding),
        ("canopy", canopy),
    ]


class SimulatedBed:
    """The garden the robot tends: it feels every action and is what the camera sees.

    The robot's actions reach it as the controller reports them, at the clock's time:
    a seed where the seeder let one go, water where the nozzle poured, an uprooting where
    the weeder went into the soil.
    """

    def __init__(self, clock: Clock, bed: GrowingBed, crop: str = "lettuce") -> None:
        self.clock, self.bed, self.crop = clock, bed, crop
        self._shots = 0

    @classmethod
    def on_profile(cls, profile: RobotProfile, clock: Clock, seed: int) -> SimulatedBed:
        """A bare bed of the robot's size, starting now."""
        bed = GrowingBed(
            profile.length_x_mm, profile.length_y_mm, soil_seed=seed, seed=seed,
            start_s=clock.now_s(),
        )  # fmt: skip
        return cls(clock, bed)

    def on_action(self, action: Action) -> None:
        at_s = self.clock.now_s()
        if action.kind == "sow":
            self.bed.sow(action.x_mm, action.y_mm, self.crop, at_s=at_s)
        elif action.kind == "water":
            self.bed.water(action.x_mm, action.y_mm, action.volume_ml, at_s=at_s)
        elif action.kind == "weed":
            self.bed.weed(action.x_mm, action.y_mm, WEEDER_REACH_MM, at_s=at_s)

    def weeds_in(self, area_mm: tuple[float, float, float, float]) -> int:
        """Weeds standing in the area now (the robot only tends the trial's plots)."""
        return int(inside(self.bed.weed_discs(), area_mm).sum())

    def capture(self, camera: CameraModel) -> Capture:
        def take(position: Coordinate) -> Photo:
            self.bed.advance_to(self.clock.now_s())
            self._shots += 1
            return self.bed.photo(camera, *position, seed=self._shots).photo

        return take


@contextlib.contextmanager
def simulated_gantry(
    profile: RobotProfile, kind: LinkKind, clock: Clock, move_report_s: float = MOVE_REPORT_S
) -> Iterator[Gantry]:
    """A connected gantry on a simulated Farmduino: over a real pty, or in process (whose
    firmware reports its position every `move_report_s` of a move)."""
    if kind == "loopback":
        assert isinstance(clock, VirtualClock)
        firmware = firmware_for(profile, clock.now_s(), move_report_s)
        with Gantry(LoopbackLink(firmware, clock), profile) as gantry:
            yield gantry
        return
    with (
        simulated_robots(profile, 1, clock) as (robot,),
        Gantry(SerialLink(robot.port, clock=clock), profile) as gantry,
    ):
        yield gantry


class Season:
    """One trial's season being simulated: its databases, its bed, its schedules.

    Made once; a robot (gantry, jobs, scheduler) can be attached to it again after a
    simulated crash, as a restarted controller would find the same databases and bed.
    The canopy job's views of the plots go to the photo folder the web app finds by
    default for the same database (beside a SQLite file), so its dashboard shows them.
    """

    def __init__(
        self,
        config: SeasonConfig,
        database_url: str,
        clock: Clock,
        *,
        models_dir: Path | None = None,
        progress: TextIO | None = None,
    ) -> None:
        self.config, self.clock = config, clock
        self.say = _Progress(progress)
        self.alerts: list[str] = []
        self.profile = get_profile(config.profile)
        upgrade_database(database_url)
        sessions = session_factory(make_engine(database_url))
        self.trials, self.journal = TrialStore(sessions), ActionJournal(sessions)
        self.schedule_store = ScheduleStore(sessions)
        self.book, rectangles = design(config)
        trial_id = store_laid_out_trial(
            self.trials,
            name=f"watering {config.start.isoformat()} seed {config.seed}",
            site="Potager simulator",
            bed="bed-1",
            bed_size_mm=(self.profile.length_x_mm, self.profile.length_y_mm),
            book=self.book,
            rectangles=rectangles,
        )
        points = sowing_points(rectangles, config.plant_spacing_mm, config.plant_spacing_mm)
        field = TrialField(
            trial_id,
            tuple(rectangles),
            tuple(points),
            {p.plot: p.treatment for p in self.book.plots},
            config.ml_by_treatment,
        )
        self.say(
            f"trial: {len(config.ml_by_treatment)} watering regimes x {config.blocks} blocks "
            f"(RCBD, seed {config.seed}), {len(points)} plants on a {self.profile.name} bed"
        )
        camera = config.camera()
        colours, crop_weed = sim_vision_models(camera, 0.0, seed=config.seed, cache_dir=models_dir)
        self.world = SimulatedBed.on_profile(self.profile, clock, config.seed)
        self.photos = PhotoFolder(photo_dir_for(database_url), self.trials)
        equipment = Equipment(
            eyes=Eyes(camera, self.world.capture(camera), colours, crop_weed),
            sow_z_mm=config.soil_z_mm,
            weed_z_mm=config.soil_z_mm - 10.0,
            photos=self.photos.add_image,
        )
        self.trial = TrialWork(field, equipment, self.trials)
        self.bay = ToolBay.seeded(nozzle_flow_rate_ml_s=config.nozzle_flow_ml_s)
        midnight = datetime.combine(config.start, datetime.min.time(), ZoneInfo(config.zone))
        self.start_utc = midnight.astimezone(UTC)
        self.end_utc = self.start_utc + timedelta(days=config.days)
        self.epoch = self.start_utc - timedelta(seconds=clock.now_s())
        for name, rule in schedules(config):
            self.schedule_store.add(ROBOT_ID, name, rule, grace_s=GRACE_S)

    def alert(self, message: str) -> None:
        """What would page the farmer: printed, and kept for the report."""
        self.alerts.append(message)
        self.say(f"ALERT {message}")

    def now(self) -> datetime:
        """The simulated wall time (UTC)."""
        return self.epoch + timedelta(seconds=self.clock.now_s())

    def jobs(
        self, gantry: Gantry, order: str = "planner", also: ActionListener | None = None
    ) -> JobRunner:
        """The trial's jobs on this gantry, heard by the bed (and then by `also`)."""

        def hear(action: Action) -> None:
            self.world.on_action(action)
            if also is not None:
                also(action)

        return JobRunner(
            gantry,
            self.clock,
            self.bay,
            self.journal,
            ROBOT_ID,
            self.now,
            trial=self.trial,
            order=order,
            on_action=hear,
        )

    def scheduler(self, jobs: JobRunner, run_job: RunJob | None = None) -> Scheduler:
        """The robot's scheduler on the season's journal, paused by the robot's e-stop;
        `run_job` defaults to `jobs`, saying what each one did."""
        scheduler = Scheduler(
            self.schedule_store,
            self.clock,
            run_job or self.say.wrap(jobs, self.config.zone),
            ROBOT_ID,
            make_safe=jobs.make_safe,
            alert=self.alert,
            epoch=self.epoch,
        )
        scheduler.watch(jobs.gantry)
        return scheduler

    def report(self, out_dir: Path, wall_s: float) -> SeasonReport:
        """Analyse the last canopy measurement and write everything into `out_dir`."""
        self.world.bed.advance_to(self.clock.now_s())
        last = canopy_variable(max(self.config.canopy_days))
        analysis = analyse(self.trials, self.trial.field.trial_id, last)
        files = write_outputs(out_dir, analysis, self.journal, ROBOT_ID)
        grid = {p.plot: (p.row, p.col) for p in self.book.plots}
        files.append(write_field_map(out_dir, analysis, grid))
        report = SeasonReport(
            config=self.config,
            work=robot_work(self.journal, self.schedule_store, ROBOT_ID, self.profile),
            analysis=analysis,
            weeds_removed=self.world.bed.weeds_removed,
            weeds_left=self.world.weeds_in(self.trial.field.area_mm),
            crops_struck=self.world.bed.crops_struck,
            out_dir=out_dir,
            files=[*files, out_dir / "summary.txt"],
            wall_s=wall_s,
        )
        (out_dir / "summary.txt").write_text(report.summary() + "\n", encoding="utf-8")
        return report


def run_season(
    config: SeasonConfig,
    out_dir: Path,
    *,
    link: LinkKind = "pty",
    time_scale: float = 400.0,
    database_url: str | None = None,
    order: str = "planner",
    models_dir: Path | None = None,
    progress: TextIO | None = None,
) -> SeasonReport:
    """Run the whole season and write its analysis, figures and summary into `out_dir`.

    `link` "pty" drives the firmware through a real pseudo-terminal on a clock `time_scale`
    times faster than the wall's that jumps over idle nights; "loopback" runs it in
    process on a virtual clock (deterministic, as fast as the computer goes). `order` is
    how jobs order their stops ("planner", or a FarmBot sort name to compare with).
    """
    wall_start_s = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    clock: Clock = VirtualClock() if link == "loopback" else FastForwardClock(time_scale)
    url = database_url or f"sqlite:///{out_dir / 'potager.sqlite3'}"
    season = Season(config, url, clock, models_dir=models_dir, progress=progress)
    with simulated_gantry(season.profile, link, clock) as gantry:
        for axis in AXES[::-1]:
            gantry.find_home(axis)
        season.say(f"robot on {gantry.link.name}: firmware {gantry.firmware_version}, homed")
        season.scheduler(season.jobs(gantry, order)).run_until(season.end_utc)
    return season.report(out_dir, time.monotonic() - wall_start_s)


class _Progress:
    """Prints one line per event, stamped with the wall seconds since the start."""

    def __init__(self, out: TextIO | None) -> None:
        self._out = out
        self._start_s = time.monotonic()

    def __call__(self, text: str) -> None:
        if self._out is not None:
            print(f"[{time.monotonic() - self._start_s:5.1f} s] {text}", file=self._out, flush=True)

    def wrap(self, jobs: JobRunner, zone: str) -> RunJob:
        """The scheduler's run_job, saying what each job did when it ends."""

        def run(name: str, params: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
            local = context.scheduled_at.astimezone(ZoneInfo(zone))
            started_s = context.clock.now_s()
            result = jobs(name, params, context)
            took_s = context.clock.now_s() - started_s
            details = ", ".join(f"{key} {value}" for key, value in result.items())
            self(f"{local:%a %d %b %H:%M} {name}: {details} ({took_s / 60:.0f} min of robot time)")
            return result

        return run
