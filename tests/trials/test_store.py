"""The trials store on SQLite and PostgreSQL: schema, validation, history, concurrency."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from potager.db import (
    engine_from_settings,
    make_engine,
    run_in_transaction,
    session_factory,
    upgrade_database,
    with_driver,
)
from potager.settings import load_settings
from trials import TrialError
from trials.store import (
    BedIn,
    NoteIn,
    Observation,
    ObservationIn,
    PhotoIn,
    PlotIn,
    SiteIn,
    TreatmentIn,
    TrialIn,
    TrialStore,
    VariableIn,
)

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Field:
    """A trial on one bed: 4 plots (2 blocks x 2 watering regimes) and one variable per scale."""

    store: TrialStore
    url: str
    site_id: int
    bed_id: int
    trial_id: int
    plot_ids: list[int]


@pytest.fixture
def store(database_url: str) -> Iterator[TrialStore]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    yield TrialStore(session_factory(engine))
    engine.dispose()


def _trial(store: TrialStore, site_id: int, bed_id: int, name: str) -> tuple[int, list[int]]:
    trial_id = store.create_trial(
        TrialIn(
            name=name,
            design="rcbd",
            seed=20260601,
            protocol="water daily; weigh at harvest",
            factors={"watering": ["dry", "wet"]},
            treatments=[
                TreatmentIn(label="dry", levels={"watering": "dry"}, is_check=True),
                TreatmentIn(label="wet", levels={"watering": "wet"}),
            ],
        )
    )
    records = [
        PlotIn(
            plot=number,
            block=(number - 1) // 2 + 1,
            row=1,
            col=number,
            treatment=("dry", "wet")[number % 2],
            check=number % 2 == 0,
            x_min_mm=(number - 1) * 500.0,
            x_max_mm=number * 500.0,
            y_min_mm=0.0,
            y_max_mm=1000.0,
        )
        for number in (1, 2, 3, 4)
    ]
    plot_ids = store.add_plots(trial_id, bed_id, records)
    variables = [
        VariableIn(name="height", unit="mm", scale="numeric", minimum=0, maximum=1000),
        VariableIn(name="vigour", scale="ordinal", minimum=1, maximum=9),
        VariableIn(name="colour", scale="categorical", categories=["green", "yellow"]),
        VariableIn(name="flowering", scale="date"),
        VariableIn(name="leaves", scale="numeric"),
    ]
    for variable in variables:
        store.define_variable(trial_id, variable)
    return trial_id, plot_ids


@pytest.fixture
def field(store: TrialStore, database_url: str) -> Field:
    site_id = store.create_site(SiteIn(name="La Ferme", place="Lyon", latitude_deg=45.7))
    bed_id = store.create_bed(BedIn(site_id=site_id, name="A", size_x_mm=2000, size_y_mm=1000))
    trial_id, plot_ids = _trial(store, site_id, bed_id, "watering 2026")
    return Field(store, database_url, site_id, bed_id, trial_id, plot_ids)


def _observation(
    field: Field, value: object, *, plot: int = 1, variable: str = "height", who: str = "bot-1"
) -> ObservationIn:
    return ObservationIn.model_validate(
        {
            "trial_id": field.trial_id,
            "plot": plot,
            "variable": variable,
            "value": value,
            "observed_at": T0,
            "recorder_kind": "robot",
            "recorder": who,
        }
    )


def _count(url: str, query: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(query)).scalar_one())
    finally:
        engine.dispose()


# --- schema -----------------------------------------------------------------------------


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/wal.sqlite3")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        engine.dispose()


def test_the_database_refuses_an_observation_of_another_trials_variable(field: Field) -> None:
    site_id = field.site_id
    bed_id = field.store.create_bed(
        BedIn(site_id=site_id, name="B", size_x_mm=2000, size_y_mm=1000)
    )
    other_trial, _ = _trial(field.store, site_id, bed_id, "other")
    engine = make_engine(field.url)
    try:
        with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
            other_variable = session.execute(
                text(
                    "SELECT id FROM observation_variables WHERE trial_id = :t AND name = 'height'"
                ),
                {"t": other_trial},
            ).scalar_one()
            session.add(
                Observation(
                    trial_id=field.trial_id,
                    plot_id=field.plot_ids[0],
                    variable_id=other_variable,
                    value_num=1.0,
                    observed_at=T0,
                    recorder_kind="robot",
                    recorder="bot",
                    source="",
                )
            )
    finally:
        engine.dispose()


# --- sites, beds, trials, plots ---------------------------------------------------------


def test_names_are_unique_where_people_pick_them(field: Field) -> None:
    with pytest.raises(TrialError, match="site 'La Ferme' already exists"):
        field.store.create_site(SiteIn(name="La Ferme"))
    with pytest.raises(TrialError, match="bed 'A' on site"):
        field.store.create_bed(BedIn(site_id=field.site_id, name="A", size_x_mm=1, size_y_mm=1))
    with pytest.raises(TrialError, match="variable 'height' of trial"):
        field.store.define_variable(field.trial_id, VariableIn(name="height"))


def test_plots_outside_the_bed_are_refused_with_the_valid_extent(field: Field) -> None:
    record = PlotIn(plot=9, treatment="wet", x_min_mm=1800, x_max_mm=2100, y_min_mm=0, y_max_mm=500)
    with pytest.raises(TrialError, match=r"plot 9: .* leaves bed 'A'; valid: x 0..2000.0 mm"):
        field.store.add_plots(field.trial_id, field.bed_id, [record])


def test_plots_need_a_treatment_of_their_trial_and_a_free_number(field: Field) -> None:
    unknown = PlotIn(plot=9, treatment="flood", x_min_mm=0, x_max_mm=1, y_min_mm=0, y_max_mm=1)
    with pytest.raises(TrialError, match=r"treatment 'flood' is not one of .*\['dry', 'wet'\]"):
        field.store.add_plots(field.trial_id, field.bed_id, [unknown])
    reused = unknown.model_copy(update={"plot": 3, "treatment": "wet"})
    with pytest.raises(TrialError, match="plot number 3 is used twice"):
        field.store.add_plots(field.trial_id, field.bed_id, [reused])


def test_a_treatment_must_use_declared_levels() -> None:
    with pytest.raises(ValueError, match="'flood' is not a level"):
        TrialIn(
            name="t",
            design="crd",
            seed=1,
            factors={"watering": ["dry"]},
            treatments=[TreatmentIn(label="x", levels={"watering": "flood"})],
        )


# --- observations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("height", 412.5),
        ("height", 300),
        ("vigour", 7),
        ("colour", "yellow"),
        ("flowering", date(2026, 6, 20)),
    ],
)
def test_valid_values_come_back_as_given(field: Field, variable: str, value: object) -> None:
    key = field.store.record_observation(_observation(field, value, plot=2, variable=variable))
    stored = field.store.observation(key)
    assert stored.value == value
    assert type(stored.value) is (float if variable == "height" else type(value))
    assert (stored.plot, stored.variable, stored.version) == (2, variable, 1)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "height",
            1500.0,
            r"variable 'height' on plot 1 of trial \d+: value 1500.0 is out of "
            r"range; valid: 0 to 1000 mm",
        ),
        ("height", -2, r"value -2.0 is out of range; valid: 0 to 1000 mm"),
        ("height", "tall", r"value 'tall' \(str\) is not a number; valid: 0 to 1000 mm"),
        ("height", float("nan"), r"is not a finite number"),
        ("height", 10**400, r"is not a finite number"),
        ("leaves", "many", r"value 'many' \(str\) is not a number; valid: any value$"),
        ("vigour", 7.5, r"value 7.5 \(float\) is not an integer score; valid: 1 to 9"),
        ("vigour", 10, r"value 10.0 is out of range; valid: 1 to 9"),
        ("colour", "blue", r"value 'blue' is not a category; valid: \['green', 'yellow'\]"),
        ("colour", 3, r"value 3 \(int\) is not a category"),
        ("flowering", "2026-06-20", r"is not a calendar date"),
    ],
)
def test_invalid_values_are_refused_and_nothing_is_written(
    field: Field, variable: str, value: object, message: str
) -> None:
    with pytest.raises(TrialError, match=message):
        field.store.record_observation(_observation(field, value, variable=variable))
    assert field.store.tidy_observations(field.trial_id) == []


def test_unknown_plots_and_variables_are_named(field: Field) -> None:
    with pytest.raises(TrialError, match=r"has no plot 99"):
        field.store.record_observation(_observation(field, 1.0, plot=99))
    with pytest.raises(TrialError, match=r"no variable 'mass'; defined: \['colour', 'flowe"):
        field.store.record_observation(_observation(field, 1.0, variable="mass"))


def test_a_batch_is_stored_whole_or_not_at_all_with_every_problem_named(field: Field) -> None:
    batch = [
        _observation(field, 10.0),
        _observation(field, 1.0, plot=99),
        _observation(field, -5.0),
    ]
    with pytest.raises(TrialError) as refused:
        field.store.record_observations(batch)
    assert "2 of 3 observations are invalid" in str(refused.value)
    assert "2: " in str(refused.value) and "has no plot 99" in str(refused.value)
    assert field.store.tidy_observations(field.trial_id) == []
    keys = field.store.record_observations(
        [_observation(field, 10.0), _observation(field, 12.0, plot=2)]
    )
    assert len(keys) == 2 and len(field.store.tidy_observations(field.trial_id)) == 2


def test_ensure_variable_defines_once_and_refuses_a_different_definition(field: Field) -> None:
    cover = VariableIn(name="cover", unit="%", minimum=0, maximum=100)
    first = field.store.ensure_variable(field.trial_id, cover)
    assert field.store.ensure_variable(field.trial_id, cover) == first
    with pytest.raises(TrialError, match=r"'cover' .* defined differently \(unit: '%', not 'cm'"):
        field.store.ensure_variable(field.trial_id, cover.model_copy(update={"unit": "cm"}))


def test_timestamps_are_stored_as_utc_instants(field: Field) -> None:
    paris_summer = timezone(timedelta(hours=2))
    observation = _observation(field, 10.0).model_copy(
        update={"observed_at": datetime(2026, 6, 1, 10, 0, tzinfo=paris_summer)}
    )
    stored = field.store.observation(field.store.record_observation(observation))
    assert stored.observed_at == T0
    assert stored.observed_at.utcoffset() == timedelta(0)


def test_tidy_rows_carry_design_and_units_in_order(field: Field) -> None:
    store = field.store
    store.record_observation(_observation(field, 5, plot=3, variable="vigour"))
    store.record_observation(_observation(field, 250.0, plot=3))
    store.record_observation(
        _observation(field, 120.0, plot=2, who="ana").model_copy(update={"recorder_kind": "person"})
    )
    rows = [
        (r.plot, r.block, r.treatment, r.variable, r.value, r.unit, r.recorder_kind, r.recorder)
        for r in store.tidy_observations(field.trial_id)
    ]
    assert rows == [
        (2, 1, "dry", "height", 120.0, "mm", "person", "ana"),
        (3, 2, "wet", "height", 250.0, "mm", "robot", "bot-1"),
        (3, 2, "wet", "vigour", 5, "", "robot", "bot-1"),
    ]


# --- edits ------------------------------------------------------------------------------


def test_an_edit_keeps_the_old_value_who_when_and_why(field: Field) -> None:
    store = field.store
    key = store.record_observation(_observation(field, 400.0))
    before = datetime.now(UTC)
    edited = store.edit_observation(key, 410.0, "ana", "misread the ruler")
    store.edit_observation(key, 411.0, "bob", "second reading")
    assert (edited.value, edited.version) == (410.0, 2)
    assert store.observation(key).value == 411.0
    history = store.history(key)
    assert [(h.version, h.old_value, h.changed_by, h.reason) for h in history] == [
        (1, 400.0, "ana", "misread the ruler"),
        (2, 410.0, "bob", "second reading"),
    ]
    assert history[0].changed_at >= before - timedelta(seconds=1)


def test_an_invalid_edit_changes_nothing(field: Field) -> None:
    key = field.store.record_observation(_observation(field, "green", variable="colour"))
    with pytest.raises(TrialError, match="'blue' is not a category"):
        field.store.edit_observation(key, "blue", "ana", "looked again")
    with pytest.raises(TrialError, match="needs who and why"):
        field.store.edit_observation(key, "yellow", "ana", " ")
    assert field.store.observation(key).value == "green"
    assert field.store.history(key) == []


def test_an_edit_of_a_stale_version_is_refused(field: Field) -> None:
    store = field.store
    key = store.record_observation(_observation(field, 400.0))
    store.edit_observation(key, 420.0, "robot-2", "re-measured", expected_version=1)
    with pytest.raises(TrialError, match="at version 2, the edit was made on version 1"):
        store.edit_observation(key, 399.0, "ana", "typo", expected_version=1)
    assert store.observation(key).value == 420.0
    assert len(store.history(key)) == 1


def test_simultaneous_edits_are_serialised_not_lost(field: Field) -> None:
    store = field.store
    key = store.record_observation(_observation(field, 100.0))
    editors = 4
    start = threading.Barrier(editors)

    def edit(number: int) -> None:
        start.wait()
        store.edit_observation(key, 100.0 + number, f"editor-{number}", "concurrent")

    with ThreadPoolExecutor(editors) as pool:
        list(pool.map(edit, range(1, editors + 1)))
    history = store.history(key)
    final = store.observation(key)
    assert final.version == editors + 1
    assert [h.version for h in history] == list(range(1, editors + 1))
    # Each edit replaced the value the previous one wrote: no edit was lost in between.
    written = {f"editor-{n}": 100.0 + n for n in range(1, editors + 1)}
    assert [h.old_value for h in history] + [final.value] == [100.0] + [
        written[h.changed_by] for h in history
    ]
    assert sorted(h.changed_by for h in history) == sorted(written)


# --- concurrent writers -----------------------------------------------------------------


def _record_many(url: str, trial_id: int, who: str, count: int) -> int:
    """One writer (a robot or a person) recording `count` observations, one per transaction."""
    engine = make_engine(url)
    store = TrialStore(session_factory(engine))
    try:
        for index in range(count):
            store.record_observation(
                ObservationIn(
                    trial_id=trial_id,
                    plot=index % 4 + 1,
                    variable="height",
                    value=float(index),
                    observed_at=T0 + timedelta(seconds=index),
                    recorder_kind="robot",
                    recorder=who,
                )
            )
    finally:
        engine.dispose()
    return count


def _assert_all_recorded(field: Field, writers: list[str], count: int) -> None:
    rows = field.store.tidy_observations(field.trial_id)
    recorded = sorted((row.recorder, row.value) for row in rows)
    assert recorded == sorted((who, float(index)) for who in writers for index in range(count))


def test_concurrent_threads_lose_no_observation(field: Field) -> None:
    writers, count = [f"bot-{n}" for n in range(6)], 40

    def write(who: str) -> int:
        return _record_many(field.url, field.trial_id, who, count)

    with ThreadPoolExecutor(len(writers)) as pool:
        assert sum(pool.map(write, writers)) == len(writers) * count
    _assert_all_recorded(field, writers, count)


def test_concurrent_processes_lose_no_observation(field: Field) -> None:
    writers, count = [f"proc-{n}" for n in range(3)], 30
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(writers), mp_context=context) as pool:
        futures = [
            pool.submit(_record_many, field.url, field.trial_id, who, count) for who in writers
        ]
        assert sum(future.result() for future in futures) == len(writers) * count
    _assert_all_recorded(field, writers, count)


def test_reads_do_not_wait_for_a_writer(field: Field) -> None:
    key = field.store.record_observation(_observation(field, 5.0))
    engine = make_engine(field.url)
    try:
        with ThreadPoolExecutor(1) as pool, engine.begin() as writer:
            # An uncommitted write holds SQLite's write lock (PostgreSQL's row lock).
            writer.execute(
                text("UPDATE observations SET value_num = 6 WHERE id = :id"), {"id": key}
            )
            read = pool.submit(field.store.observation, key)
            assert read.result(timeout=10).value == 5.0
    finally:
        engine.dispose()


def test_lock_contention_is_retried_and_other_errors_are_not(field: Field) -> None:
    engine = make_engine(field.url)
    sessions = session_factory(engine)
    calls: list[int] = []

    def flaky(message: str) -> Callable[[Session], int]:
        def work(session: Session) -> int:
            calls.append(1)
            if len(calls) == 1:
                raise OperationalError("INSERT", {}, Exception(message))
            return int(session.scalar(select(func.count()).select_from(Observation)) or 0)

        return work

    try:
        assert run_in_transaction(sessions, flaky("database is locked"), backoff_s=0) == 0
        assert len(calls) == 2
        calls.clear()
        with pytest.raises(OperationalError, match="disk I/O error"):
            run_in_transaction(sessions, flaky("disk I/O error"), backoff_s=0)
        assert len(calls) == 1
    finally:
        engine.dispose()


# --- imports, photos, notes -------------------------------------------------------------


def _rows(*cells: tuple[str, str, str]) -> list[dict[str, str]]:
    return [
        {"plot": plot, "variable": variable, "value": value, "observed_at": "2026-06-02T09:00Z"}
        for plot, variable, value in cells
    ]


def test_an_import_stores_every_row_as_an_import(field: Field) -> None:
    rows = _rows(("1", "height", "310.5"), ("2", "vigour", "4"), ("3", "flowering", "2026-06-21"))
    keys = field.store.import_observations(field.trial_id, rows, importer="ana's sheet")
    stored = [field.store.observation(key) for key in keys]
    assert [(o.plot, o.value, o.recorder_kind, o.recorder) for o in stored] == [
        (1, 310.5, "import", "ana's sheet"),
        (2, 4, "import", "ana's sheet"),
        (3, date(2026, 6, 21), "import", "ana's sheet"),
    ]


def test_an_import_with_bad_rows_reports_each_and_stores_nothing(field: Field) -> None:
    rows = _rows(
        ("1", "height", "310.5"),
        ("2", "height", "2000"),
        ("x", "height", "1"),
        ("3", "vigour", "high"),
        ("4", "colour", "green"),
        ("7", "height", "1"),
    )
    with pytest.raises(TrialError) as caught:
        field.store.import_observations(field.trial_id, rows, importer="sheet")
    lines = str(caught.value).splitlines()
    assert "4 of 6 rows are invalid, nothing was stored" in lines[0]
    assert [line.split(":")[0] for line in lines[1:]] == ["row 2", "row 3", "row 4", "row 6"]
    assert "value 2000.0 is out of range; valid: 0 to 1000 mm" in lines[1]
    assert "plot: Input should be a valid integer" in lines[2]
    assert "'high' cannot be read as ordinal" in lines[3]
    assert "has no plot 7" in lines[4]
    assert field.store.tidy_observations(field.trial_id) == []


def test_photos_and_notes_belong_to_plots_of_their_trial(field: Field) -> None:
    store = field.store
    photo = PhotoIn(
        plot_id=field.plot_ids[0],
        path="photos/2026-06-01/p1.jpg",
        taken_at=T0,
        camera_x_mm=250,
        camera_y_mm=500,
        camera_z_mm=0,
    )
    assert store.add_photo(photo) > 0
    assert store.add_note(NoteIn(trial_id=field.trial_id, text="hail on 3 June", author="ana")) > 0
    bed_b = store.create_bed(BedIn(site_id=field.site_id, name="B", size_x_mm=2000, size_y_mm=1000))
    _, other_plots = _trial(store, field.site_id, bed_b, "other")
    stray = NoteIn(trial_id=field.trial_id, plot_id=other_plots[0], text="x", author="ana")
    with pytest.raises(TrialError, match=f"plot {other_plots[0]} is not in trial"):
        store.add_note(stray)
    assert _count(field.url, "SELECT count(*) FROM notes") == 1
    assert _count(field.url, "SELECT count(*) FROM photos") == 1


def test_settings_choose_the_engine(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "var")
    engine = engine_from_settings(settings)
    try:
        assert engine.url.database == str(tmp_path / "var" / "potager.sqlite3")
        assert (tmp_path / "var").is_dir()
    finally:
        engine.dispose()
    assert with_driver("postgresql://potager@farm/trials").startswith("postgresql+psycopg://")
