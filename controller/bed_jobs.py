"""The robot's bed jobs: photograph the bed, find the weeds, weed them, measure the canopy.

Each job is one function. The two that move the robot (`photograph_bed`, `weed_bed`) plan
with `planner.jobs.plan_job` from where the robot stands and carry the plan out with
`controller.jobs.run_plan`; the two that read photos (`find_weeds`, `measure_canopy`)
are pure; `record_canopy` writes what was measured into the trial store. The camera is a
callable (`Capture`): on the simulator it renders the virtual garden, on a robot it grabs a
frame, and nothing here can tell which.

Safety before yield: a weed seen in several overlapping photos is struck only if no photo
doubted it, and a strike the vision put inside a crop's keep-out is handed to a person
instead of the weeder.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from controller.gantry import Gantry
from controller.jobs import Action, ActionListener, JobError, run_plan
from planner import PlannerError
from planner.jobs import JobPlan, KeepOut, PhotographTask, Task, Tool, ToolBay, WeedTask, plan_job
from potager.clock import Clock
from potager.robots import Coordinate
from trials import TrialError
from trials.store import ObservationIn, TrialStore, VariableIn
from vision import VisionError
from vision.camera_model import CameraModel
from vision.classify import Action as Verdict
from vision.classify import CropWeedModel, WeedingSettings, detect
from vision.colour_model import ColourModel
from vision.images import Photo
from vision.photogrid import Area, Plot, canopy_cover, capture_positions, mosaic, plot_view

Capture = Callable[[Coordinate], Photo]
"""The camera: the photo taken with the tool head at that position."""
PlotPhotoSink = Callable[[int, int, Photo, datetime], object]
"""Keeps a photo of a plot: (trial id, plot number, BGR image, when it was taken); on a
server, `trials.photos.PhotoFolder.add_image`."""
PointMm = tuple[float, float]

PHOTOGRAPH_TASK = "photograph bed"
WEED_TASK = "weed bed"
CANOPY_VARIABLE = "canopy cover"
DEFAULT_WEEDING = WeedingSettings()
CANOPY_METHOD = "share of the plot's soil hidden by leaves, from the robot's photo mosaic"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Eyes:
    """What a robot sees with: its camera and the camera's model (photos taken at `z_mm`),
    and the models that read plants and weeds in its photos."""

    camera: CameraModel
    capture: Capture
    colours: ColourModel
    crop_weed: CropWeedModel
    z_mm: float = 0.0


@dataclass(frozen=True)
class Shot:
    """One photo and where the tool head stood when it was taken."""

    photo: Photo
    position: Coordinate


@dataclass(frozen=True)
class PhotoSurvey:
    """The photos of an area, all taken at `z_mm` through `camera`, and what the robot did."""

    shots: tuple[Shot, ...]
    camera: CameraModel
    z_mm: float
    area_mm: Area
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Canopy:
    """Each plot's canopy cover in percent (0..100) and its view, by plot name: the part of
    the mosaic the cover was read from, framed alike at every survey, so a plot's views
    taken weeks apart show the same ground."""

    percent: dict[str, float]
    views: dict[str, Photo]


@dataclass(frozen=True)
class Strike:
    """Where the weeder may go down unattended, and the disc around it free of crop."""

    x_mm: float
    y_mm: float
    radius_mm: float


@dataclass(frozen=True)
class Review:
    """A weed a person must look at before anything touches it, and why."""

    x_mm: float
    y_mm: float
    why: str


@dataclass(frozen=True)
class WeedSurvey:
    """The weeds found in a survey; `targets_seen` counts them before the photos' overlaps
    were merged (a weed seen in three photos is seen three times, struck once)."""

    strikes: tuple[Strike, ...]
    reviews: tuple[Review, ...]
    targets_seen: int = 0


@dataclass(frozen=True)
class WeedingResult:
    """What a weeding run did: the strikes carried out, the weeds left to a person, every
    action, and the plan's predicted duration against the one the clock measured."""

    strikes: tuple[Strike, ...]
    reviews: tuple[Review, ...]
    actions: tuple[Action, ...] = ()
    predicted_duration_s: float = 0.0
    duration_s: float = 0.0

    @property
    def struck(self) -> int:
        """How many weeds the weeder went down on."""
        return len(self.strikes)

    @property
    def reviewed(self) -> int:
        """How many weeds are left for a person to look at."""
        return len(self.reviews)


# ---------------------------------------------------------------- 1. photograph the bed


def photograph_bed(
    gantry: Gantry,
    area_mm: Area,
    camera: CameraModel,
    capture: Capture,
    clock: Clock,
    *,
    bay: ToolBay,
    z_mm: float = 0.0,
    overlap: float = 0.2,
    mounted: Tool | None = None,
    order: str = "planner",
    on_action: ActionListener | None = None,
) -> PhotoSurvey:
    """Photos covering `area_mm`, taken from the photo grid's positions in the planner's order.

    The plan starts where the robot stands, with `mounted` (whatever hangs from the UTM:
    the camera does not need a tool change). `order` is `plan_job`'s (a FarmBot sort can
    be asked for, to compare). A photo of the wrong size stops the job there.
    """
    try:
        positions = capture_positions(area_mm, camera, z_mm, overlap)
    except VisionError as error:
        raise JobError(f"cannot photograph area {area_mm}: {error}") from error
    task = PhotographTask(name=PHOTOGRAPH_TASK, points_mm=tuple(positions), z_mm=z_mm)
    plan = _plan([task], gantry, bay, mounted=mounted, order=order, what="the photo grid")
    shots: list[Shot] = []

    def take_photo(position: Coordinate) -> None:
        shots.append(Shot(_checked_photo(capture(position), camera, position), position))

    actions = run_plan(gantry, plan, [task], clock, on_action=on_action, take_photo=take_photo)
    area = (float(area_mm[0]), float(area_mm[1]), float(area_mm[2]), float(area_mm[3]))
    return PhotoSurvey(tuple(shots), camera, z_mm, area, tuple(actions))


def _checked_photo(photo: Photo, camera: CameraModel, position: Coordinate) -> Photo:
    expected = (camera.height_px, camera.width_px, 3)
    if photo.shape != expected or photo.dtype != np.uint8:
        raise JobError(
            f"the camera gave a {photo.dtype} photo of shape {photo.shape} at {_where(position)}; "
            f"the camera model expects {camera.width_px} x {camera.height_px} px BGR, 8 bits a "
            "channel: calibrate this camera or give its own model"
        )
    return photo


# ------------------------------------------------------------------- 2. find the weeds


@dataclass(frozen=True)
class _Sighting:
    """A target one photo gave, in bed millimetres; `centrality` is 0 at the photo's centre
    and 1 at its edge; `owned` when no other photo sees the spot nearer its centre."""

    x_mm: float
    y_mm: float
    radius_mm: float
    verdict: Verdict
    shot: int
    centrality: float
    owned: bool = False


@dataclass
class _Weed:
    """Sightings taken for one weed: the first, the most central, stands for it."""

    sightings: list[_Sighting] = field(default_factory=list)

    @property
    def centre(self) -> _Sighting:
        return self.sightings[0]


def find_weeds(
    survey: PhotoSurvey,
    colours: ColourModel,
    crop_weed: CropWeedModel,
    sown_mm: Sequence[PointMm],
    settings: WeedingSettings = DEFAULT_WEEDING,
) -> WeedSurvey:
    """Strikes and reviews in bed millimetres from every photo of the survey.

    Each photo is read with the sown points in its own pixels. A weed seen in several
    overlapping photos is one weed: targets of different photos within `settings.reach_mm`
    merge, placed where the most central photo saw them (calibration is best there and the
    surroundings are in view). A spot is only ever first reported by the photo that sees it
    nearest its centre; other photos can add doubts but not weeds. A weed is struck only if
    every photo that saw it said WEED, with the smallest safe radius any of them gave.
    """
    sown = _points_array(sown_mm, "sown point")
    seen = [
        sighting
        for index, shot in enumerate(survey.shots)
        for sighting in _read_shot(survey, index, colours, crop_weed, sown, settings)
    ]
    strikes, reviews = [], []
    for weed in _merged(_owned(seen, survey), settings.reach_mm):
        centre = weed.centre
        doubts = [s for s in weed.sightings if s.verdict is Verdict.REVIEW]
        if doubts:
            reviews.append(Review(centre.x_mm, centre.y_mm, _why(doubts[0], sown, settings)))
        else:
            radius_mm = min(s.radius_mm for s in weed.sightings)
            strikes.append(Strike(centre.x_mm, centre.y_mm, radius_mm))
    return WeedSurvey(tuple(strikes), tuple(reviews), len(seen))


def _read_shot(
    survey: PhotoSurvey,
    index: int,
    colours: ColourModel,
    crop_weed: CropWeedModel,
    sown_mm: NDArray[np.float64],
    settings: WeedingSettings,
) -> list[_Sighting]:
    """The targets of one photo, placed on the bed."""
    shot, camera = survey.shots[index], survey.camera
    x_mm, y_mm, z_mm = shot.position
    try:
        mm_per_px = camera.mm_per_px_at(z_mm)
        sown_px = camera.bed_to_pixel(sown_mm, x_mm, y_mm, z_mm)
        targets = detect(shot.photo, colours, crop_weed, mm_per_px, sown_px, settings).targets
    except VisionError as error:
        raise JobError(f"photo {index} taken at {_where(shot.position)}: {error}") from error
    if not targets:
        return []
    placed = camera.pixel_to_bed([(t.x_px, t.y_px) for t in targets], x_mm, y_mm, z_mm)
    centrality = _centrality(camera, np.array([[t.x_px, t.y_px] for t in targets]))
    return [
        _Sighting(float(x), float(y), target.radius_mm, target.action, index, float(score))
        for target, (x, y), score in zip(targets, placed, centrality, strict=True)
    ]


def _centrality(camera: CameraModel, points_px: NDArray[np.float64]) -> NDArray[np.float64]:
    """0 at the photo's centre, 1 on its edge, more outside (as the mosaic ranks pixels)."""
    centre_x, centre_y = (camera.width_px - 1) / 2, (camera.height_px - 1) / 2
    return np.maximum(
        np.abs(points_px[:, 0] - centre_x) * (2 / camera.width_px),
        np.abs(points_px[:, 1] - centre_y) * (2 / camera.height_px),
    )


def _owned(sightings: list[_Sighting], survey: PhotoSurvey) -> list[_Sighting]:
    """The sightings, each marked owned when its photo sees the spot nearest its centre."""
    if not sightings:
        return []
    points = np.array([(s.x_mm, s.y_mm) for s in sightings])
    best = np.full(len(sightings), np.inf)
    for shot in survey.shots:
        points_px = survey.camera.bed_to_pixel(points, *shot.position)
        best = np.minimum(best, _centrality(survey.camera, points_px))
    owned = np.array([s.centrality for s in sightings]) <= best + 1e-9
    return [
        _Sighting(s.x_mm, s.y_mm, s.radius_mm, s.verdict, s.shot, s.centrality, bool(mine))
        for s, mine in zip(sightings, owned, strict=True)
    ]


def _merged(sightings: list[_Sighting], reach_mm: float) -> list[_Weed]:
    """Sightings grouped by weed, at most one per photo (one photo's targets are distinct).

    Owned sightings found the weeds, most central first; the others only join one.
    """
    weeds: list[_Weed] = []
    for sighting in sorted(sightings, key=lambda s: (not s.owned, s.centrality)):
        nearest = _nearest_weed(weeds, sighting, reach_mm)
        if nearest is not None:
            nearest.sightings.append(sighting)
        elif sighting.owned:
            weeds.append(_Weed([sighting]))
    return weeds


def _nearest_weed(weeds: list[_Weed], sighting: _Sighting, reach_mm: float) -> _Weed | None:
    best, best_mm = None, reach_mm
    for weed in weeds:
        distance_mm = math.hypot(weed.centre.x_mm - sighting.x_mm, weed.centre.y_mm - sighting.y_mm)
        taken = any(s.shot == sighting.shot for s in weed.sightings)
        if distance_mm <= best_mm and not taken:
            best, best_mm = weed, distance_mm
    return best


def _why(doubt: _Sighting, sown_mm: NDArray[np.float64], settings: WeedingSettings) -> str:
    where = f"photo {doubt.shot}"
    if len(sown_mm):
        nearest_mm = float(np.hypot(*(sown_mm - (doubt.x_mm, doubt.y_mm)).T).min())
        if nearest_mm < settings.crop_spread_mm:
            return (
                f"{where}: {nearest_mm:.0f} mm from a sown point, within the crop's spread "
                f"({settings.crop_spread_mm:g} mm): it may be the crop's own leaf"
            )
    return (
        f"{where}: only {doubt.radius_mm:.1f} mm clear of crop leaves, less than the "
        f"weeder's {settings.min_radius_mm:g} mm"
    )


# -------------------------------------------------------------------------- 3. weed them


def weed_bed(
    gantry: Gantry,
    weeds: WeedSurvey,
    sown_mm: Sequence[PointMm],
    clock: Clock,
    *,
    bay: ToolBay,
    crop_radius_mm: float,
    weeder_z_mm: float,
    mounted: Tool | None = None,
    end_parked: bool = True,
    dwell_s: float = 0.0,
    order: str = "planner",
    on_action: ActionListener | None = None,
) -> WeedingResult:
    """Weed at every strike clear of the crops' keep-outs; leave the rest to a person.

    Every sown point gets a keep-out of `crop_radius_mm` for the weeder: a strike inside one
    becomes a review and is not planned. The weeder goes down to `weeder_z_mm` at each
    strike. With nothing to strike the robot is not moved at all (not even to fetch a tool).
    """
    if not (math.isfinite(crop_radius_mm) and crop_radius_mm > 0):
        raise JobError(
            f"crop_radius_mm must be a positive distance (the safety radius around each crop), "
            f"got {crop_radius_mm}"
        )
    safe_z_mm = gantry.profile.safe_z_mm
    if not weeder_z_mm < safe_z_mm:
        raise JobError(
            f"weeder_z_mm {weeder_z_mm:g} does not go below the safe height {safe_z_mm:g} mm: "
            "the weeder would never touch the soil; give a lower (more negative) Z"
        )
    sown = _points_array(sown_mm, "sown point")
    planned, guarded = _outside_keep_outs(weeds.strikes, sown, crop_radius_mm)
    reviews = weeds.reviews + guarded
    if not planned:
        return WeedingResult((), reviews)
    task = WeedTask(
        name=WEED_TASK,
        points_mm=tuple((s.x_mm, s.y_mm) for s in planned),
        z_mm=weeder_z_mm,
        dwell_s=dwell_s,
    )
    plan = _plan(
        [task],
        gantry,
        bay,
        mounted=mounted,
        keep_outs=crop_keep_outs(sown, crop_radius_mm),
        end_parked=end_parked,
        order=order,
        what="the weeding",
    )
    start_s = clock.now_s()
    actions = run_plan(gantry, plan, [task], clock, on_action=on_action)
    duration_s = clock.now_s() - start_s
    # a strike is done when the weeder reached the soil, whether or not it dwelt there
    done = {
        a.point_index
        for a in actions
        if a.task == WEED_TASK and a.z_mm == weeder_z_mm and a.point_index is not None
    }
    struck = tuple(planned[index] for index in sorted(done))
    return WeedingResult(struck, reviews, tuple(actions), plan.duration_s, duration_s)


def crop_keep_outs(sown_mm: NDArray[np.float64], crop_radius_mm: float) -> list[KeepOut]:
    """A weeder keep-out of `crop_radius_mm` around every sown point."""
    return [
        KeepOut(
            x_mm=float(x_mm),
            y_mm=float(y_mm),
            radius_mm=crop_radius_mm,
            tools=frozenset({Tool.WEEDER}),
            label=f"crop sown at ({x_mm:g}, {y_mm:g})",
        )
        for x_mm, y_mm in sown_mm
    ]


def _outside_keep_outs(
    strikes: Sequence[Strike], sown_mm: NDArray[np.float64], crop_radius_mm: float
) -> tuple[list[Strike], tuple[Review, ...]]:
    """(the strikes clear of every crop, the others as reviews naming their crop)."""
    planned: list[Strike] = []
    guarded: list[Review] = []
    for strike in strikes:
        if len(sown_mm):
            distance_mm = np.hypot(sown_mm[:, 0] - strike.x_mm, sown_mm[:, 1] - strike.y_mm)
            nearest = int(np.argmin(distance_mm))
            # the planner refuses a stop strictly inside a keep-out: the same test here
            if distance_mm[nearest] < crop_radius_mm:
                x_mm, y_mm = sown_mm[nearest]
                why = (
                    f"{distance_mm[nearest]:.0f} mm from the crop sown at ({x_mm:g}, {y_mm:g}) mm, "
                    f"inside its {crop_radius_mm:g} mm keep-out"
                )
                guarded.append(Review(strike.x_mm, strike.y_mm, why))
                continue
        planned.append(strike)
    return planned, tuple(guarded)


# ------------------------------------------------------------- 4. measure the canopy


def measure_canopy(
    survey: PhotoSurvey,
    plots: Sequence[Plot],
    *,
    mm_per_px: float = 2.0,
    colours: ColourModel | None = None,
) -> Canopy:
    """Canopy cover of each plot in percent (0..100), by plot name, from the survey's mosaic,
    with the plot's view it was read from.

    Plant pixels are the `colours` model's when given (it knows this camera and light),
    else the generic vegetation mask's. Every plot must lie inside the photographed area.
    """
    shots = [(shot.photo, (shot.position.x_mm, shot.position.y_mm)) for shot in survey.shots]
    try:
        image = mosaic(shots, survey.camera, survey.z_mm, survey.area_mm, mm_per_px)
        vegetation = None if colours is None else colours.mask(image.image) & image.covered
        cover = canopy_cover(image, plots, vegetation)
    except VisionError as error:
        raise JobError(f"cannot measure the canopy cover: {error}") from error
    return Canopy(
        {name: 100.0 * fraction for name, fraction in cover.items()},
        {plot[0]: plot_view(image, plot) for plot in plots},
    )


# --------------------------------------------------------------- 5. record the canopy


def record_canopy(
    store: TrialStore,
    trial_id: int,
    cover_percent_by_plot: Mapping[int, float],
    variable_name: str,
    observed_at: datetime,
    robot: str,
    *,
    source: str = "photo mosaic",
) -> list[int]:
    """One observation per plot (by plot number) of `variable_name`, in %, all or nothing,
    recorded as made by the robot `robot`. The variable is defined (numeric, 0..100 %)
    when the trial lacks it."""
    _check_percents(cover_percent_by_plot)
    if not robot.strip():
        raise JobError("record_canopy needs the robot's name as the recorder")
    variable = VariableIn(
        name=variable_name,
        unit="%",
        method=CANOPY_METHOD,
        scale="numeric",
        minimum=0.0,
        maximum=100.0,
    )
    try:
        store.ensure_variable(trial_id, variable)
        return store.record_observations(
            [
                ObservationIn(
                    trial_id=trial_id,
                    plot=plot,
                    variable=variable_name,
                    value=float(percent),
                    observed_at=observed_at,
                    recorder_kind="robot",
                    recorder=robot,
                    source=source,
                )
                for plot, percent in sorted(cover_percent_by_plot.items())
            ]
        )
    except TrialError as error:
        raise JobError(f"canopy cover not recorded: {error}") from error


def _check_percents(cover_percent_by_plot: Mapping[int, float]) -> None:
    if not cover_percent_by_plot:
        raise JobError("no canopy cover to record: measure at least one plot")
    wrong = [
        f"plot {plot}: {percent!r}"
        for plot, percent in cover_percent_by_plot.items()
        if not (math.isfinite(percent) and 0.0 <= percent <= 100.0)
    ]
    if wrong:
        raise JobError(
            f"canopy cover is a percentage from 0 to 100; nothing was recorded: {', '.join(wrong)}"
        )


# ------------------------------------------------------------------------------ helpers


def _plan(
    tasks: Sequence[Task],
    gantry: Gantry,
    bay: ToolBay,
    *,
    mounted: Tool | None,
    what: str,
    keep_outs: Sequence[KeepOut] = (),
    end_parked: bool = False,
    order: str = "planner",
) -> JobPlan:
    """The plan from where the robot stands; a planner refusal becomes a JobError."""
    try:
        return plan_job(
            tasks,
            gantry.profile,
            bay,
            start_mm=gantry.position,
            mounted=mounted,
            keep_outs=keep_outs,
            end_parked=end_parked,
            order=order,
        )
    except PlannerError as error:
        raise JobError(f"cannot plan {what}: {error}") from error


def _points_array(points: Sequence[PointMm], what: str) -> NDArray[np.float64]:
    if not len(points):
        return np.zeros((0, 2))
    array = np.asarray(points, np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise JobError(f"{what}s must be (x_mm, y_mm) pairs, got an array of shape {array.shape}")
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise JobError(f"{what} {bad} is {tuple(points[bad])}: give finite (x_mm, y_mm)")
    return array


def _where(position: Coordinate) -> str:
    return f"({position.x_mm:g}, {position.y_mm:g}, {position.z_mm:g}) mm"
