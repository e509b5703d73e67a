"""One site's research season on the simulator: a trial grown for months in seconds.

The demo's season (`sim.season`) shows everything a robot does, camera and scheduler
included. A research campaign runs hundreds of site-seasons to compare strategies, so this
season keeps what decides its results and drops what only costs time:

- kept: the trial designed (RCBD, seeded), laid out and stored; every sowing, watering and
  weeding planned by the planner and carried out by the controller's jobs over the
  firmware protocol (in process, on a virtual clock); the harvest recorded as observations
  and analysed from the store.
- dropped: the photos. The weeding job strikes at the bed's true weeds, less a seeded share
  the camera would have missed (`TrueWeeds`), and a soil probe at each plot's centre reads
  the bed's moisture without moving the robot. The scheduler's database: the days are
  walked in order and each job starts at its hour. The action journal is written once per
  job instead of once per action (`JobBatchedJournal`): there is no power cut to survive.
  The firmware's position reports during moves, every `MOVE_REPORT_S` instead of 0.25 s.

Nothing is global: a run owns its store, clock, firmware and bed, so runs can go to worker
processes; the same `SiteSeason` gives the same `SiteResult` (but for `wall_s`).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Annotated, Literal, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.spatial import cKDTree
from sqlalchemy.orm import Session, sessionmaker

from controller.action_journal import ActionJournal, RunOutcome
from controller.bed_jobs import Review, Strike, WeedSurvey
from controller.job_runner import Area, Equipment, JobRunner, TrialField, TrialWork
from controller.jobs import Action
from controller.scheduler import ScheduleStore
from planner.jobs import ToolBay
from potager.clock import Clock, VirtualClock
from potager.db import make_engine, session_factory, upgrade_database
from potager.robots import AXES, get_profile
from sim import SimulatorError
from sim.crops import CROPS, CropError, crop
from sim.growth import GrowingBed, inside
from sim.season import ROBOT_ID, SimulatedBed, TrialOnBed, check_control, simulated_gantry
from sim.season_report import Analysis, analyse, robot_work
from sim.soil import SoilParams
from sim.weather import Weather
from trials import TrialError
from trials.design import FieldBook
from trials.plots import PlotRectangle, sowing_points
from trials.store import ObservationIn, TrialStore, VariableIn, store_laid_out_trial
from vision.classify import WeedingSettings

HOUR_S = 3600.0
SOW_HOUR, WATER_HOUR, WEED_HOUR = 8, 7, 10
"""The sowing on the first morning, the waterings at dawn, the weedings mid-morning."""
YIELD_VARIABLE = "fresh_yield_g"
YIELD_METHOD = "fresh weight of the plot's measured (non-guard) living plants at harvest"
WEEDING = WeedingSettings()
"""The vision pipeline's settings: the ground-truth detector sees and spares as it does."""
MOVE_REPORT_S = 60.0
"""The simulated firmware reports its position once a minute of a move, not every 0.25 s:
nothing here reads those reports (the gantry waits for each move's end, which they do
not change; the loopback's timeouts come from the motion model, not from heartbeats),
and they were half of a season's time. Moves still report their start, their axis
states and their end, as the firmware does."""


class ResearchError(SimulatorError):
    """A research season that cannot be run as asked (a trial that does not fit its bed)."""


class FixedWatering(BaseModel):
    """Every plot watered every `every_days` days, from the day after sowing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["fixed"] = "fixed"
    every_days: int = Field(ge=1)

    def due(self, day: int) -> bool:
        return _every(day, self.every_days)


class SensorWatering(BaseModel):
    """On a check day, only the plots whose probe reads below the threshold are watered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["sensor"] = "sensor"
    threshold_percent: float = Field(
        gt=0, le=100, description="the probe's reading: volumetric water content, %"
    )
    check_every_days: int = Field(default=1, ge=1)

    def due(self, day: int) -> bool:
        return _every(day, self.check_every_days)


Watering = Annotated[FixedWatering | SensorWatering, Field(discriminator="kind")]


def _every(day: int, every_days: int) -> bool:
    """A watering day: the day after sowing, then every `every_days`."""
    return day >= 1 and (day - 1) % every_days == 0


class SiteSeason(TrialOnBed):
    """One site's season of one trial: what is grown, how it is tended, in what world.

    `treatments` are the trial's factor: millilitres per plant at each watering. The
    randomization, the weeds, the plants' vigour, the weeding's misses and the soil
    probes' noise all follow `seed`; `weather` is day 0 on `start` (None: the bed's
    constant sunny weather).
    """

    site: str
    crop: str = "lettuce"
    days: int = Field(ge=1, le=366)
    start: date
    treatments: dict[str, float] = Field(min_length=2)
    control: str
    watering: Watering
    weed_every_days: int = Field(ge=1)
    weed_miss_rate: float = Field(default=0.1, ge=0, le=1)
    """the share of visible weeds the camera's detection would miss"""
    weather: Weather | None = None
    weed_pressure: float = Field(default=1.0, ge=0)
    soil: SoilParams | None = None
    """the site's soil (None: the garden model's sandy loam)"""

    @model_validator(mode="after")
    def _known_crop_and_control(self) -> Self:
        check_control(self.control, self.treatments)
        negative = {name: ml for name, ml in self.treatments.items() if not ml >= 0}
        if negative:
            raise ValueError(f"treatments are millilitres per plant, 0 or more: {negative}")
        try:
            crop(self.crop)
        except CropError as error:
            raise ValueError(str(error)) from None
        self._weather_covers_the_season()
        return self

    def _weather_covers_the_season(self) -> None:
        """Refused now rather than when the bed reaches the first day without weather."""
        if self.weather is None:
            return
        first = self.weather.days[0].day
        if first != self.start:
            raise ValueError(f"the weather starts on {first}, the season on {self.start}")
        if len(self.weather) < self.days and not self.weather.hold_last:
            raise ValueError(
                f"the weather covers {len(self.weather)} days, the season {self.days}: "
                "give a longer series or a shorter season"
            )


class PlotYield(BaseModel):
    """One plot at harvest: its fresh yield and the water the robot gave it."""

    model_config = ConfigDict(frozen=True)

    plot: int
    block: int
    treatment: str
    yield_g: float
    water_ml: float


class SiteResult(BaseModel):
    """What a site's season gave, plot by plot and in total; JSON, to be cached on disk."""

    model_config = ConfigDict(frozen=True)

    site: str
    seed: int
    plots: list[PlotYield]
    yield_g_per_m2: float
    """fresh yield over the area of all plots"""
    water_l: float
    travel_h: float
    """the robot's time moving, priced by the firmware's motion model"""
    busy_h: float
    """the robot's time in jobs, from each job's start to its end"""
    weeds_left: int
    """weeds standing in the trial's area at harvest"""
    weeds_removed: int
    crops_struck: int
    anova: str
    """the yield ANOVA's treatment line: F, p and CV"""
    wall_s: float


def known_crops() -> list[str]:
    """The crops a season can grow."""
    return sorted(CROPS)


def check_layout(season: SiteSeason) -> tuple[FieldBook, list[PlotRectangle]]:
    """The trial designed and laid out on the site's bed; refused, naming the sizes, if
    its plots do not fit (before anything is run)."""
    try:
        return season.design(list(season.treatments), season.control)
    except TrialError as error:
        raise ResearchError(
            f"site {season.site!r}: the trial does not fit the {season.profile} bed of "
            f"{' x '.join(f'{mm:g}' for mm in season.bed_size_mm())} mm: {error}"
        ) from error


def run_site_season(season: SiteSeason, database_url: str | None = None) -> SiteResult:
    """Run the season and harvest it; `database_url` keeps the trial store (a throw-away
    SQLite file by default)."""
    wall_start_s = time.perf_counter()
    book, rectangles = check_layout(season)
    if database_url is not None:
        return _Run(season, book, rectangles, database_url).result(wall_start_s)
    with tempfile.TemporaryDirectory(prefix="potager-site-") as folder:
        url = f"sqlite:///{Path(folder) / 'trial.sqlite3'}"
        return _Run(season, book, rectangles, url, throwaway=True).result(wall_start_s)


class JobBatchedJournal(ActionJournal):
    """An action journal written once per job: a simulated run has no power cut to survive
    between two actions, and one transaction per action was most of a season's time."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(sessions)
        self._pending: defaultdict[int, list[tuple[Action, datetime]]] = defaultdict(list)

    def record(self, run_id: int, action: Action, now: datetime) -> None:
        self._pending[run_id].append((action, now))

    def finish_run(self, run_id: int, outcome: RunOutcome, now: datetime, detail: str = "") -> None:
        self.record_all(run_id, self._pending.pop(run_id, []))
        super().finish_run(run_id, outcome, now, detail)


class TrueWeeds:
    """The weeding job's eyes without a camera: the bed's real weeds in the trial's area.

    It sees what the camera and the vision pipeline would (`camera_sees`), each weed missed
    with probability `miss_rate`; a weed within the crop's spread of a sown point is left
    for a person to review, never struck, as the vision leaves it.
    """

    def __init__(
        self,
        bed: GrowingBed,
        clock: Clock,
        area_mm: Area,
        sown_mm: Sequence[tuple[float, float]],
        miss_rate: float,
        seed: int,
    ) -> None:
        self.bed, self.clock, self.area_mm = bed, clock, area_mm
        self.sown_mm = np.asarray(sown_mm, np.float64).reshape(-1, 2)
        self.miss_rate = miss_rate
        self._rng = np.random.default_rng([seed, 7])

    def __call__(self) -> WeedSurvey:
        self.bed.advance_to(self.clock.now_s())
        weeds = self.bed.weed_discs()
        visible = np.flatnonzero(inside(weeds, self.area_mm))
        visible = visible[camera_sees(weeds[visible], self.bed.crop_discs())]
        seen = weeds[visible[self._rng.random(len(visible)) >= self.miss_rate]]
        strikes, reviews = [], []
        for (x, y, radius), nearest in zip(
            seen.tolist(), _nearest_mm(seen, self.sown_mm).tolist(), strict=True
        ):
            if nearest < WEEDING.crop_spread_mm:
                reviews.append(Review(x, y, f"{nearest:.0f} mm from a crop"))
            else:
                strikes.append(Strike(x, y, min(radius, WEEDING.reach_mm)))
        return WeedSurvey(tuple(strikes), tuple(reviews), len(seen))


_CHUNK_CELLS = 1 << 20
"""Weed x crop distances worked out at most this many at a time (8 MB)."""


def camera_sees(weeds_mm: NDArray[np.float64], crops_mm: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Which weeds (rows of x, y, radius) the camera would find: big enough for the vision
    not to drop them as noise, and not wholly under a crop's leaves (the camera draws
    bigger plants over smaller ones). `crops_mm` holds the living crops' (x, y, radius)."""
    seen = math.pi * weeds_mm[:, 2] ** 2 >= WEEDING.min_weed_mm2
    rows = max(_CHUNK_CELLS // max(len(crops_mm), 1), 1)
    for start in range(0, len(weeds_mm), rows):
        chunk = weeds_mm[start : start + rows]
        distance_mm = np.hypot(
            chunk[:, None, 0] - crops_mm[None, :, 0], chunk[:, None, 1] - crops_mm[None, :, 1]
        )
        covered = distance_mm + chunk[:, None, 2] <= crops_mm[None, :, 2]
        seen[start : start + rows] &= ~covered.any(axis=1)
    return seen


def _nearest_mm(
    weeds_mm: NDArray[np.float64], points_mm: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Distance from each weed to the nearest of `points_mm` (inf when there are none)."""
    if len(points_mm) == 0:
        return np.full(len(weeds_mm), np.inf)
    distance_mm, _ = cKDTree(points_mm).query(weeds_mm[:, :2])
    return np.asarray(distance_mm, np.float64)


class _Run:
    """One season being run: its store, bed, robot and trial."""

    def __init__(
        self,
        season: SiteSeason,
        book: FieldBook,
        rectangles: list[PlotRectangle],
        database_url: str,
        throwaway: bool = False,
    ) -> None:
        self.season, self.book, self.rectangles = season, book, rectangles
        self.profile = get_profile(season.profile)
        upgrade_database(database_url)
        self.engine = make_engine(database_url, throwaway=throwaway)
        self.sessions = session_factory(self.engine)
        self.store, self.journal = TrialStore(self.sessions), JobBatchedJournal(self.sessions)
        trial_id = store_laid_out_trial(
            self.store,
            name=f"{season.site} {season.start.isoformat()} seed {season.seed}",
            site=season.site,
            bed="bed-1",
            bed_size_mm=season.bed_size_mm(),
            book=book,
            rectangles=rectangles,
            seed=season.seed,
        )
        points = sowing_points(rectangles, season.plant_spacing_mm, season.plant_spacing_mm)
        self.field = TrialField(
            trial_id,
            tuple(rectangles),
            tuple(points),
            {p.plot: p.treatment for p in book.plots},
            season.treatments,
        )
        self.clock = VirtualClock()
        self.epoch = datetime.combine(season.start, day_time(), UTC)
        bed = GrowingBed(
            *season.bed_size_mm(),
            soil_seed=season.seed,
            seed=season.seed,
            start_s=self.clock.now_s(),
            weather=season.weather,
            weed_pressure=season.weed_pressure,
            soil=season.soil,
        )
        self.world = SimulatedBed(self.clock, bed, season.crop)

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=self.clock.now_s())

    def result(self, wall_start_s: float) -> SiteResult:
        """Tend and harvest; the store's connections are closed after (a worker process
        runs many seasons)."""
        try:
            self._tend()
            return self._harvest(wall_start_s)
        finally:
            self.engine.dispose()

    def _tend(self) -> None:
        """Sow on day 0, then each day water and weed when due, through the controller."""
        season, field = self.season, self.field
        equipment = Equipment(
            eyes=None,
            sow_z_mm=season.soil_z_mm,
            weed_z_mm=season.soil_z_mm - 10.0,
            spot_weeds=TrueWeeds(
                self.world.bed,
                self.clock,
                field.area_mm,
                field.sown_mm,
                season.weed_miss_rate,
                season.seed,
            ),
        )
        with simulated_gantry(self.profile, "loopback", self.clock, MOVE_REPORT_S) as gantry:
            for axis in AXES[::-1]:
                gantry.find_home(axis)
            jobs = JobRunner(
                gantry,
                self.clock,
                ToolBay.seeded(nozzle_flow_rate_ml_s=season.nozzle_flow_ml_s),
                self.journal,
                ROBOT_ID,
                self.now,
                trial=TrialWork(field, equipment, self.store),
                on_action=self.world.on_action,
            )
            self._at(0, SOW_HOUR)
            jobs("sow", {})
            for day in range(1, season.days):
                if season.watering.due(day):
                    self._at(day, WATER_HOUR)
                    self._water(jobs)
                if day % season.weed_every_days == 0:
                    self._at(day, WEED_HOUR)
                    jobs("weed", {})
        self._at(season.days, 0)
        self.world.bed.advance_to(self.clock.now_s())

    def _at(self, day: int, hour: int) -> None:
        """The clock to that hour, or left where it is if the last job ran past it."""
        self.clock.advance_to((day * 24 + hour) * HOUR_S)

    def _water(self, jobs: JobRunner) -> None:
        watering = self.season.watering
        if isinstance(watering, FixedWatering):
            jobs("water", {})
            return
        dry = [
            plot.plot
            for plot in self.rectangles
            if self._moisture_percent(plot) < watering.threshold_percent
        ]
        if dry:
            jobs("water", {"plots": dry})

    def _moisture_percent(self, plot: PlotRectangle) -> float:
        """The probe at the plot's centre: volumetric water content, %."""
        x_mm, y_mm = (plot.x_min_mm + plot.x_max_mm) / 2, (plot.y_min_mm + plot.y_max_mm) / 2
        return self.world.bed.soil_moisture(x_mm, y_mm, at_s=self.clock.now_s())

    def _harvest(self, wall_start_s: float) -> SiteResult:
        """Each plot's measured plants weighed into the store, then analysed from it."""
        season, field, bed = self.season, self.field, self.world.bed
        points = field.sowing_points
        sown = np.array([(p.x_mm, p.y_mm) for p in points])
        yield_g: defaultdict[int, float] = defaultdict(float)
        for plant in bed.crops():
            point = points[_nearest(sown, plant.x_mm, plant.y_mm)]
            if plant.alive and not point.guard:
                yield_g[point.plot] += plant.biomass_g
        water_ml: defaultdict[int, float] = defaultdict(float)
        for action in self.journal.actions(robot_id=ROBOT_ID):
            if action.volume_ml:
                water_ml[points[_nearest(sown, action.x_mm, action.y_mm)].plot] += action.volume_ml
        analysis = self._record_yields(yield_g)
        work = robot_work(self.journal, ScheduleStore(self.sessions), ROBOT_ID, self.profile)
        plots_m2 = (
            sum((r.x_max_mm - r.x_min_mm) * (r.y_max_mm - r.y_min_mm) for r in self.rectangles)
            / 1e6
        )
        return SiteResult(
            site=season.site,
            seed=season.seed,
            plots=[
                PlotYield(
                    plot=p.plot,
                    block=p.block or 0,  # an RCBD's plots all have one
                    treatment=p.treatment,
                    yield_g=round(yield_g[p.plot], 3),
                    water_ml=round(water_ml[p.plot], 3),
                )
                for p in self.book.plots
            ],
            yield_g_per_m2=round(sum(yield_g.values()) / plots_m2, 3),
            water_l=round(work.water_ml / 1000, 6),
            travel_h=round(work.moving_s / HOUR_S, 6),
            busy_h=round(work.busy_s / HOUR_S, 6),
            weeds_left=self.world.weeds_in(field.area_mm),
            weeds_removed=bed.weeds_removed,
            crops_struck=bed.crops_struck,
            anova=analysis.anova_line(),
            wall_s=time.perf_counter() - wall_start_s,
        )

    def _record_yields(self, yield_g: dict[int, float]) -> Analysis:
        trial_id = self.field.trial_id
        self.store.ensure_variable(
            trial_id,
            VariableIn(name=YIELD_VARIABLE, unit="g", method=YIELD_METHOD, minimum=0.0),
        )
        self.store.record_observations(
            [
                ObservationIn(
                    trial_id=trial_id,
                    plot=plot.plot,
                    variable=YIELD_VARIABLE,
                    value=round(yield_g[plot.plot], 3),
                    observed_at=self.now(),
                    recorder_kind="person",
                    recorder="harvest",
                    source="simulated bed",
                )
                for plot in self.book.plots
            ]
        )
        return analyse(self.store, trial_id, YIELD_VARIABLE)


def _nearest(points_mm: NDArray[np.float64], x_mm: float, y_mm: float) -> int:
    """The index of the point nearest (x, y): which sowing point a plant or a pour is at."""
    return int(np.argmin(np.hypot(points_mm[:, 0] - x_mm, points_mm[:, 1] - y_mm)))
