"""Bed jobs on the simulated robot: photograph a rendered garden, find its weeds, weed them,
measure the canopy and record it in a real trial store."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pytest

from controller.bed_jobs import (
    PHOTOGRAPH_TASK,
    PhotoSurvey,
    Review,
    Shot,
    Strike,
    WeedSurvey,
    find_weeds,
    measure_canopy,
    photograph_bed,
    record_canopy,
    weed_bed,
)
from controller.gantry import Gantry
from controller.jobs import Action, JobError
from controller.link import LoopbackLink
from planner.jobs import PhotographTask, StepKind, Tool, ToolBay, plan_job
from potager.clock import VirtualClock
from potager.db import make_engine, session_factory, upgrade_database
from potager.robots import Coordinate, get_profile
from sim.camera import Rendered, render_photo
from sim.garden import Garden, Kind, Plant, Species, scatter_weeds, sow_grid
from sim.serve import firmware_for
from trials.store import BedIn, PlotIn, SiteIn, TreatmentIn, TrialIn, TrialStore, VariableIn
from vision.classify import CropWeedModel, WeedingSettings, cell_features, training_cells
from vision.colour_model import ColourModel, train_colour_model
from vision.datasets import CROP, SOIL
from vision.images import Photo
from vision.photogrid import capture_positions

from ..vision.photos import RENDER_CAMERA, rendered_view

PROFILE = get_profile("genesis")
BAY = ToolBay.seeded(nozzle_flow_rate_ml_s=10.0)
CAMERA = RENDER_CAMERA  # 200 x 150 mm of bed a photo
MM_PER_PX = CAMERA.mm_per_px
AREA = (300.0, 300.0, 700.0, 600.0)
SETTINGS = WeedingSettings()
CROP_RADIUS_MM = 60.0
WEEDER_Z_MM = -450.0
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
VARIABLE = "canopy cover"


# ------------------------------------------------------------------ the virtual bed


@functools.cache
def garden() -> Garden:
    """Four lettuces and a flush of small weeds, away from where the models learned."""
    lettuces = sow_grid(AREA, 150, 150, Species.LETTUCE, radius_mm=40, seed=11)
    weeds = scatter_weeds(AREA, 30, seed=12, radius_range_mm=(5.0, 12.0))
    return Garden(1000, 800, tuple(lettuces + weeds), soil_seed=13)


def sown_mm() -> list[tuple[float, float]]:
    return [(p.x_mm, p.y_mm) for p in garden().plants if p.kind is Kind.CROP]


@functools.cache
def models() -> tuple[ColourModel, CropWeedModel]:
    """Colour and crop/weed models taught by other rendered photos (truth masks)."""
    views = [rendered_view(index) for index in range(6)]
    colours = train_colour_model((r.photo, r.classes != SOIL) for r, _ in views)
    cells = [
        training_cells(cell_features(r.photo, r.classes != SOIL, MM_PER_PX, sown), r.classes)
        for r, sown in views
    ]
    return colours, CropWeedModel.train(sum(cells[1:], cells[0]), uses_sowing_map=True)


class RecordingFirmware:
    """The virtual Farmduino, keeping every line the host sent."""

    def __init__(self) -> None:
        self.firmware = firmware_for(PROFILE)
        self.received: list[bytes] = []

    def receive(self, data: bytes, now_s: float) -> None:
        self.received.append(data)
        self.firmware.receive(data, now_s)

    def advance(self, now_s: float) -> bytes:
        return self.firmware.advance(now_s)

    def next_event_s(self) -> float | None:
        return self.firmware.next_event_s()

    def moves(self) -> int:
        return sum(line.count(b"G00") for line in self.received)


def robot(clock: VirtualClock, firmware: RecordingFirmware | None = None) -> Gantry:
    return Gantry(LoopbackLink(firmware or RecordingFirmware(), clock), PROFILE)


@dataclass(frozen=True)
class Surveyed:
    survey: PhotoSurvey
    journal: tuple[Action, ...]
    renders: tuple[Rendered, ...]


@functools.cache
def surveyed() -> Surveyed:
    """The robot photographs AREA from home; the camera renders the garden where it stands."""
    renders: list[Rendered] = []

    def capture(position: Coordinate) -> Photo:
        renders.append(render_photo(garden(), CAMERA, *position, seed=len(renders)))
        return renders[-1].photo

    clock = VirtualClock()
    journal: list[Action] = []
    with robot(clock) as gantry:
        survey = photograph_bed(
            gantry, AREA, CAMERA, capture, clock, bay=BAY, on_action=journal.append
        )
    return Surveyed(survey, tuple(journal), tuple(renders))


@functools.cache
def weeds() -> WeedSurvey:
    colours, crop_weed = models()
    return find_weeds(surveyed().survey, colours, crop_weed, sown_mm(), SETTINGS)


# --------------------------------------------------------------- photograph the bed


def test_the_photo_grid_is_covered_in_the_planners_order_and_every_action_reported() -> None:
    done = surveyed()
    survey = done.survey
    positions = capture_positions(AREA, CAMERA, 0.0)
    assert len(survey.shots) == len(positions) == 9
    assert {(s.position.x_mm, s.position.y_mm) for s in survey.shots} == set(positions)
    task = PhotographTask(name=PHOTOGRAPH_TASK, points_mm=tuple(positions))
    plan = plan_job([task], PROFILE, BAY)
    planned = [step.position for step in plan.steps if step.kind is StepKind.DWELL]
    assert [shot.position for shot in survey.shots] == planned
    assert survey.actions == done.journal and len(done.journal) == len(plan.steps)
    assert [a.kind for a in done.journal].count("photograph") == 9
    assert (survey.camera, survey.z_mm, survey.area_mm) == (CAMERA, 0.0, AREA)
    for shot, rendered in zip(survey.shots, done.renders, strict=True):
        assert shot.photo is rendered.photo  # the photo taken where the robot stood


def test_an_area_off_the_bed_or_a_wrong_camera_is_refused_by_name() -> None:
    clock = VirtualClock()
    with robot(clock) as gantry:
        with pytest.raises(JobError, match="cannot plan the photo grid"):
            photograph_bed(gantry, (2800.0, 0.0, 3400.0, 300.0), CAMERA, _blank, clock, bay=BAY)
        with pytest.raises(JobError, match="cannot photograph area"):
            photograph_bed(gantry, (500.0, 500.0, 400.0, 600.0), CAMERA, _blank, clock, bay=BAY)
        assert gantry.position == Coordinate(0.0, 0.0, 0.0)
        with pytest.raises(JobError, match=r"expects 400 x 300 px"):
            photograph_bed(
                gantry, AREA, CAMERA, lambda _: np.zeros((10, 10, 3), np.uint8), clock, bay=BAY
            )


def _blank(_: Coordinate) -> Photo:
    return np.zeros((CAMERA.height_px, CAMERA.width_px, 3), np.uint8)


# ------------------------------------------------------------------- find the weeds


def _weeds_in_view() -> list[Plant]:
    """Weeds the photos show well (40 mm2 or more in some photo) and that are not so close
    to a sown point that they are a person's call by design."""
    shown: dict[int, int] = {}
    for rendered in surveyed().renders:
        for seen in rendered.plants:
            if seen.plant.kind is Kind.WEED:
                shown[seen.index] = max(shown.get(seen.index, 0), seen.visible_px)
    sown = np.array(sown_mm())
    return [
        garden().plants[index]
        for index, pixels in shown.items()
        if pixels * MM_PER_PX**2 >= 40
        and np.hypot(*(sown - (garden().plants[index].x_mm, garden().plants[index].y_mm)).T).min()
        >= SETTINGS.crop_spread_mm + garden().plants[index].radius_mm
    ]


def _hits(strike: Strike | Review, weed: Plant) -> bool:
    return math.hypot(strike.x_mm - weed.x_mm, strike.y_mm - weed.y_mm) <= weed.radius_mm


def test_most_weeds_get_a_strike_once_however_many_photos_saw_them() -> None:
    found = weeds()
    targets = _weeds_in_view()
    struck = [w for w in targets if any(_hits(s, w) for s in found.strikes)]
    assert len(targets) >= 10
    assert len(struck) >= 0.7 * len(targets), f"{len(struck)} of {len(targets)} weeds struck"
    per_weed = [sum(_hits(s, w) for s in found.strikes) for w in struck]
    assert np.mean(per_weed) <= 1.2, f"strikes per struck weed: {per_weed}"
    # the photos overlap: many weeds were seen twice or more, and merged
    assert found.targets_seen > 1.3 * (len(found.strikes) + len(found.reviews))


def test_no_strike_touches_a_crop() -> None:
    found = weeds()
    crops = [p for p in garden().plants if p.kind is Kind.CROP]
    for strike in found.strikes:
        for crop in crops:
            distance_mm = math.hypot(strike.x_mm - crop.x_mm, strike.y_mm - crop.y_mm)
            assert distance_mm >= SETTINGS.crop_spread_mm, f"{strike} is on {crop}"
        # and its disc holds no crop pixel in the photo that saw it best
        shot, rendered = _most_central(strike)
        centre = CAMERA.bed_to_pixel([(strike.x_mm, strike.y_mm)], *shot.position)[0]
        rows, columns = np.indices(rendered.classes.shape)
        disc = np.hypot(columns - centre[0], rows - centre[1]) <= strike.radius_mm / MM_PER_PX
        assert not (disc & (rendered.classes == CROP)).any(), f"{strike} would hit a crop"
    assert all(review.why for review in found.reviews)


def _most_central(strike: Strike) -> tuple[Shot, Rendered]:
    def offset(pair: tuple[Shot, Rendered]) -> float:
        x_mm, y_mm, _ = pair[0].position
        return max(abs(strike.x_mm - x_mm) / 200, abs(strike.y_mm - y_mm) / 150)

    return min(zip(surveyed().survey.shots, surveyed().renders, strict=True), key=offset)


# ----------------------------------------------------------------------- weed them


def test_weeding_strikes_the_planned_points_outside_every_keep_out_and_parks() -> None:
    sown = sown_mm()
    inside = Strike(sown[0][0] + 20.0, sown[0][1], 5.0)  # a leaf taken for a weed
    found = weeds()
    survey = WeedSurvey((*found.strikes, inside), found.reviews, found.targets_seen)
    clock = VirtualClock()
    journal: list[Action] = []
    with robot(clock) as gantry:
        result = weed_bed(
            gantry,
            survey,
            sown,
            clock,
            bay=BAY,
            crop_radius_mm=CROP_RADIUS_MM,
            weeder_z_mm=WEEDER_Z_MM,
            on_action=journal.append,
        )
        slot = BAY.slot_for(Tool.WEEDER)
        assert gantry.position == Coordinate(slot.x_mm, slot.y_mm, PROFILE.safe_z_mm)
    clear = [s for s in survey.strikes if _clearance_mm(s, sown) >= CROP_RADIUS_MM]
    assert inside not in clear and len(clear) >= 5
    assert set(result.strikes) == set(clear) and result.struck == len(clear)
    down = [a for a in result.actions if a.z_mm == WEEDER_Z_MM]
    assert {(a.x_mm, a.y_mm) for a in down} == {(s.x_mm, s.y_mm) for s in clear}
    assert all(_clearance_mm(a, sown) >= CROP_RADIUS_MM for a in down)
    guarded = [r for r in result.reviews if r not in found.reviews]
    assert len(guarded) == len(survey.strikes) - len(clear)
    assert any(r.x_mm == inside.x_mm and "keep-out" in r.why for r in guarded)
    reviewed = {(r.x_mm, r.y_mm) for r in result.reviews}
    assert not reviewed & {(a.x_mm, a.y_mm) for a in down}  # left for a person
    assert result.actions == tuple(journal)
    kinds = [a.kind for a in result.actions]
    assert kinds[0] == "tool_change" and kinds[-1] == "tool_change"
    assert result.duration_s == pytest.approx(result.predicted_duration_s, rel=0.02)


def _clearance_mm(point: Strike | Action, sown: list[tuple[float, float]]) -> float:
    return min(math.hypot(point.x_mm - x, point.y_mm - y) for x, y in sown)


def test_nothing_to_strike_moves_nothing() -> None:
    sown = sown_mm()
    only_near_crops = WeedSurvey((Strike(sown[1][0], sown[1][1] + 10.0, 4.0),), ())
    clock = VirtualClock()
    firmware = RecordingFirmware()
    with robot(clock, firmware) as gantry:
        before, moves = gantry.position, firmware.moves()
        for survey in (WeedSurvey((), ()), only_near_crops):
            result = weed_bed(
                gantry,
                survey,
                sown,
                clock,
                bay=BAY,
                crop_radius_mm=CROP_RADIUS_MM,
                weeder_z_mm=WEEDER_Z_MM,
                mounted=Tool.SEEDER,
            )
            assert result.strikes == () and result.struck == 0 and result.actions == ()
        assert firmware.moves() == moves and gantry.position == before
    assert result.reviewed == 1 and "keep-out" in result.reviews[0].why


def test_a_weeder_that_stays_up_or_a_radius_of_nothing_is_refused() -> None:
    clock = VirtualClock()
    with robot(clock) as gantry:

        def weed(
            sown: list[tuple[float, float]], crop_radius_mm: float, weeder_z_mm: float
        ) -> None:
            weed_bed(
                gantry,
                weeds(),
                sown,
                clock,
                bay=BAY,
                crop_radius_mm=crop_radius_mm,
                weeder_z_mm=weeder_z_mm,
            )

        with pytest.raises(JobError, match="never touch the soil"):
            weed(sown_mm(), CROP_RADIUS_MM, 0.0)
        with pytest.raises(JobError, match="crop_radius_mm must be a positive"):
            weed(sown_mm(), 0.0, WEEDER_Z_MM)
        with pytest.raises(JobError, match="sown point 1 is"):
            weed([(1.0, 2.0), (math.nan, 3.0)], CROP_RADIUS_MM, WEEDER_Z_MM)
        assert gantry.position == Coordinate(0.0, 0.0, 0.0)


# --------------------------------------------------------------------- the canopy


@functools.cache
def canopy_survey() -> PhotoSurvey:
    """Two big lettuces on the left of a strip, bare soil on the right (no robot: pure)."""
    lettuces = (
        Plant(Kind.CROP, Species.LETTUCE, 160.0, 175.0, 60.0, 12, seed=1),
        Plant(Kind.CROP, Species.LETTUCE, 290.0, 175.0, 60.0, 12, seed=2),
    )
    bed = Garden(800, 400, lettuces, soil_seed=4)
    area = (100.0, 100.0, 700.0, 250.0)
    shots = [
        Shot(render_photo(bed, CAMERA, x, y, 0.0, seed=n).photo, Coordinate(x, y, 0.0))
        for n, (x, y) in enumerate(capture_positions(area, CAMERA, 0.0))
    ]
    return PhotoSurvey(tuple(shots), CAMERA, 0.0, area)


PLOTS = [("lettuces", 100.0, 100.0, 350.0, 250.0), ("bare", 450.0, 100.0, 700.0, 250.0)]


@pytest.mark.parametrize("with_colour_model", [False, True])
def test_a_plot_of_big_lettuces_has_more_cover_than_bare_soil(with_colour_model: bool) -> None:
    colours = models()[0] if with_colour_model else None
    cover = measure_canopy(canopy_survey(), PLOTS, colours=colours).percent
    assert set(cover) == {"lettuces", "bare"}
    assert all(0.0 <= percent <= 100.0 for percent in cover.values())
    assert cover["lettuces"] >= 25.0 and cover["bare"] <= 5.0


def test_each_plot_comes_with_its_view_from_above_at_the_mosaics_scale() -> None:
    views = measure_canopy(canopy_survey(), PLOTS).views
    assert list(views) == ["lettuces", "bare"]
    assert {view.shape for view in views.values()} == {(75, 125, 3)}  # 250 x 150 mm at 2 mm
    lettuces, bare = (float(view[..., 1].mean() - view[..., 2].mean()) for view in views.values())
    assert lettuces > bare  # the leaves' green shows in the lettuces' view


def test_a_plot_the_photos_missed_is_refused() -> None:
    with pytest.raises(JobError, match="photograph all of it"):
        measure_canopy(canopy_survey(), [("beyond", 600.0, 100.0, 760.0, 250.0)])


# -------------------------------------------------------------------- the store


@pytest.fixture
def store(database_url: str) -> Iterator[TrialStore]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    yield TrialStore(session_factory(engine))
    engine.dispose()


def _trial(store: TrialStore) -> int:
    site_id = store.create_site(SiteIn(name="École", place="Lyon"))
    bed_id = store.create_bed(BedIn(site_id=site_id, name="A", size_x_mm=2000, size_y_mm=1000))
    trial_id = store.create_trial(
        TrialIn(
            name="lettuce 2026",
            design="crd",
            seed=1,
            treatments=[TreatmentIn(label="dry"), TreatmentIn(label="wet")],
        )
    )
    store.add_plots(
        trial_id,
        bed_id,
        [
            PlotIn(
                plot=n,
                treatment=("dry", "wet")[n % 2],
                x_min_mm=(n - 1) * 500.0,
                x_max_mm=n * 500.0,
                y_min_mm=0.0,
                y_max_mm=1000.0,
            )
            for n in (1, 2)
        ],
    )
    return trial_id


def test_canopy_cover_is_recorded_once_per_plot_by_the_robot(store: TrialStore) -> None:
    trial_id = _trial(store)
    keys = record_canopy(store, trial_id, {1: 12.5, 2: 40.25}, VARIABLE, T0, "bot-1")
    assert len(keys) == 2
    rows = store.tidy_observations(trial_id)
    assert [(r.plot, r.variable, r.value, r.unit) for r in rows] == [
        (1, VARIABLE, 12.5, "%"),
        (2, VARIABLE, 40.25, "%"),
    ]
    assert {(r.recorder_kind, r.recorder) for r in rows} == {("robot", "bot-1")}
    assert {r.observed_at for r in rows} == {T0}
    # the variable now exists: a second survey records under it again
    record_canopy(store, trial_id, {1: 15.0}, VARIABLE, T0, "bot-1")
    assert len(store.tidy_observations(trial_id)) == 3


def test_a_bad_plot_or_percentage_stores_nothing(store: TrialStore) -> None:
    trial_id = _trial(store)
    with pytest.raises(JobError, match="has no plot 9"):
        record_canopy(store, trial_id, {1: 10.0, 9: 20.0}, VARIABLE, T0, "bot-1")
    with pytest.raises(JobError, match=r"percentage from 0 to 100.*plot 2: 140"):
        record_canopy(store, trial_id, {1: 10.0, 2: 140.0}, VARIABLE, T0, "bot-1")
    with pytest.raises(JobError, match="no canopy cover to record"):
        record_canopy(store, trial_id, {}, VARIABLE, T0, "bot-1")
    assert store.tidy_observations(trial_id) == []


def test_a_variable_of_that_name_defined_otherwise_is_refused(store: TrialStore) -> None:
    trial_id = _trial(store)
    store.define_variable(trial_id, VariableIn(name=VARIABLE, unit="cm2"))
    with pytest.raises(JobError, match=r"already defined differently \(unit: 'cm2', not '%'"):
        record_canopy(store, trial_id, {1: 10.0}, VARIABLE, T0, "bot-1")
    assert store.tidy_observations(trial_id) == []
