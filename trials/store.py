"""Trials in the database: sites, beds, plots, variables, observations and their history.

The tables are SQLAlchemy models on Potager's one declarative base; `TrialStore` is the
small repository the rest of Potager goes through. Its inputs and outputs are pydantic
models, and each call is one transaction, retried on lock contention, so many robots and
people can record at once without losing an observation.

Choices worth knowing:

- Observation variables belong to a trial: each protocol fixes its own units and bounds.
- A plot's site, treatment and variables are tied to its bed and trial by composite foreign
  keys, so the database itself refuses a plot on another site's bed or an observation of
  another trial's variable.
- Values are checked against the variable before anything is written: numeric (a finite
  number within the bounds), ordinal (an integer score within the bounds), categorical
  (one of the categories), date (a calendar date, stored as ISO 8601 text).
- Edits never overwrite silently: each keeps the replaced value in `observation_history`,
  the row is locked while edited and a version column refuses a stale write.
- Bulk imports are all-or-nothing: every bad row is reported at once, with its row number,
  and nothing is written until the whole file is clean, so a fixed file can simply be
  imported again without duplicating the good rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.elements import BindParameter

from potager.db import Base, UTCDateTime, read_quickly, run_in_transaction, utc_now
from trials import TrialError
from trials.design import FieldBook
from trials.plots import PlotRectangle

Scale = Literal["numeric", "ordinal", "categorical", "date"]
RecorderKind = Literal["robot", "person", "import"]
Value = float | int | str | date
RowT = TypeVar("RowT", bound=Base)

_NAME = 120
_ORIGIN = 160


# --- tables -----------------------------------------------------------------------------


class Site(Base):
    """A farm or school where trials run."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("latitude_deg BETWEEN -90 AND 90", name="latitude"),
        CheckConstraint("longitude_deg BETWEEN -180 AND 180", name="longitude"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME), unique=True)
    place: Mapped[str] = mapped_column(String(200))
    latitude_deg: Mapped[float | None] = mapped_column(Float)
    longitude_deg: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Bed(Base):
    """A robot's bed on a site, in millimetres from its home corner."""

    __tablename__ = "beds"
    __table_args__ = (
        UniqueConstraint("site_id", "name"),
        # Target of the plots' (bed, site) key, which keeps a plot's site its bed's site.
        UniqueConstraint("id", "site_id"),
        CheckConstraint("size_x_mm > 0 AND size_y_mm > 0", name="positive_size"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(_NAME))
    size_x_mm: Mapped[float] = mapped_column(Float)
    size_y_mm: Mapped[float] = mapped_column(Float)


class Trial(Base):
    """A field trial: its randomized design and the protocol it follows."""

    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME), unique=True)
    design: Mapped[str] = mapped_column(String(60))
    seed: Mapped[int] = mapped_column(BigInteger)
    protocol: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Factor(Base):
    """A treatment factor of a trial, e.g. watering regime."""

    __tablename__ = "factors"
    __table_args__ = (UniqueConstraint("trial_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    name: Mapped[str] = mapped_column(String(_NAME))


class FactorLevel(Base):
    """One level of a factor, e.g. 'dry'."""

    __tablename__ = "factor_levels"
    __table_args__ = (UniqueConstraint("factor_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    factor_id: Mapped[int] = mapped_column(ForeignKey("factors.id"), index=True)
    name: Mapped[str] = mapped_column(String(_NAME))


class Treatment(Base):
    """A combination of factor levels applied to plots, under one label."""

    __tablename__ = "treatments"
    __table_args__ = (UniqueConstraint("trial_id", "label"), UniqueConstraint("id", "trial_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    label: Mapped[str] = mapped_column(String(_NAME))
    is_check: Mapped[bool] = mapped_column(Boolean)


treatment_levels = Table(
    "treatment_levels",
    Base.metadata,
    Column("treatment_id", ForeignKey("treatments.id"), primary_key=True),
    Column("level_id", ForeignKey("factor_levels.id"), primary_key=True),
)


class Plot(Base):
    """A plot of a trial: its place in the design and its rectangle on a bed."""

    __tablename__ = "plots"
    __table_args__ = (
        UniqueConstraint("trial_id", "plot_number"),
        UniqueConstraint("id", "trial_id"),
        ForeignKeyConstraint(["bed_id", "site_id"], ["beds.id", "beds.site_id"]),
        ForeignKeyConstraint(
            ["treatment_id", "trial_id"], ["treatments.id", "treatments.trial_id"]
        ),
        CheckConstraint("x_min_mm < x_max_mm AND y_min_mm < y_max_mm", name="rectangle"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    bed_id: Mapped[int] = mapped_column(Integer)
    plot_number: Mapped[int] = mapped_column(Integer)
    block: Mapped[int | None] = mapped_column(Integer)
    row: Mapped[int | None] = mapped_column(Integer)
    col: Mapped[int | None] = mapped_column(Integer)
    treatment_id: Mapped[int] = mapped_column(Integer)
    is_check: Mapped[bool] = mapped_column(Boolean)
    x_min_mm: Mapped[float] = mapped_column(Float)
    x_max_mm: Mapped[float] = mapped_column(Float)
    y_min_mm: Mapped[float] = mapped_column(Float)
    y_max_mm: Mapped[float] = mapped_column(Float)


class Variable(Base):
    """What is measured on a trial's plots, in which unit, how, and what values are valid."""

    __tablename__ = "observation_variables"
    __table_args__ = (
        UniqueConstraint("trial_id", "name"),
        UniqueConstraint("id", "trial_id"),
        CheckConstraint("scale IN ('numeric', 'ordinal', 'categorical', 'date')", name="scale"),
        CheckConstraint("minimum <= maximum", name="bounds"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    name: Mapped[str] = mapped_column(String(_NAME))
    unit: Mapped[str] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(Text)
    scale: Mapped[str] = mapped_column(String(16))
    minimum: Mapped[float | None] = mapped_column(Float)
    maximum: Mapped[float | None] = mapped_column(Float)
    categories: Mapped[list[str] | None] = mapped_column(JSON)


class Observation(Base):
    """One value of one variable on one plot at one time, and who recorded it."""

    __tablename__ = "observations"
    __table_args__ = (
        ForeignKeyConstraint(["plot_id", "trial_id"], ["plots.id", "plots.trial_id"]),
        ForeignKeyConstraint(
            ["variable_id", "trial_id"],
            ["observation_variables.id", "observation_variables.trial_id"],
        ),
        CheckConstraint("(value_num IS NULL) <> (value_text IS NULL)", name="one_value"),
        CheckConstraint("recorder_kind IN ('robot', 'person', 'import')", name="recorder_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    plot_id: Mapped[int] = mapped_column(Integer, index=True)
    variable_id: Mapped[int] = mapped_column(Integer, index=True)
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    recorder_kind: Mapped[str] = mapped_column(String(16))
    recorder: Mapped[str] = mapped_column(String(_NAME))
    source: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str | None] = mapped_column(String(_ORIGIN), unique=True)
    """where a copy came from (a robot's message on the network): kept once, however often
    it is delivered"""

    # SQLAlchemy adds "AND version = :seen" to every UPDATE: a stale write fails, never lands.
    # (SQLAlchemy types this hook as a plain attribute, so it cannot be a ClassVar.)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ObservationChange(Base):
    """A value an edit replaced: which version, who changed it, when and why."""

    __tablename__ = "observation_history"
    __table_args__ = (UniqueConstraint("observation_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    old_value_num: Mapped[float | None] = mapped_column(Float)
    old_value_text: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(_NAME))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    reason: Mapped[str] = mapped_column(Text)


class Photo(Base):
    """A photo of a plot, with where the camera stood in bed millimetres."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plot_id: Mapped[int] = mapped_column(ForeignKey("plots.id"), index=True)
    path: Mapped[str] = mapped_column(String(500))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    camera_x_mm: Mapped[float] = mapped_column(Float)
    camera_y_mm: Mapped[float] = mapped_column(Float)
    camera_z_mm: Mapped[float] = mapped_column(Float)
    origin: Mapped[str | None] = mapped_column(String(_ORIGIN), unique=True)
    """as `Observation.origin`"""


class Note(Base):
    """A free-text note on a trial, or on one of its plots."""

    __tablename__ = "notes"
    __table_args__ = (
        ForeignKeyConstraint(["plot_id", "trial_id"], ["plots.id", "plots.trial_id"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    plot_id: Mapped[int | None] = mapped_column(Integer, index=True)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(_NAME))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


# --- boundary models --------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SiteIn(_In):
    name: str = Field(min_length=1, max_length=_NAME)
    place: str = ""
    latitude_deg: float | None = Field(default=None, ge=-90, le=90)
    longitude_deg: float | None = Field(default=None, ge=-180, le=180)


class BedIn(_In):
    site_id: int
    name: str = Field(min_length=1, max_length=_NAME)
    size_x_mm: float = Field(gt=0)
    size_y_mm: float = Field(gt=0)


class TreatmentIn(_In):
    label: str = Field(min_length=1, max_length=_NAME)
    levels: dict[str, str] = Field(default_factory=dict, description="factor name -> level")
    is_check: bool = False


class TrialIn(_In):
    name: str = Field(min_length=1, max_length=_NAME)
    design: str = Field(min_length=1, max_length=60, description="e.g. rcbd, crd, augmented")
    seed: int
    protocol: str = ""
    factors: dict[str, list[str]] = Field(default_factory=dict, description="name -> levels")
    treatments: list[TreatmentIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _treatments_use_known_levels(self) -> Self:
        labels = [treatment.label for treatment in self.treatments]
        if len(set(labels)) != len(labels):
            raise ValueError(f"treatment labels repeat: {labels}")
        for treatment in self.treatments:
            for factor, level in treatment.levels.items():
                if level not in self.factors.get(factor, []):
                    raise ValueError(
                        f"treatment {treatment.label!r}: {factor}={level!r} is not a level "
                        f"of the factors {self.factors}"
                    )
        return self


class PlotIn(_In):
    """One line of a field book laid onto a bed."""

    plot: int = Field(ge=1, description="plot number, unique in the trial")
    block: int | None = None
    row: int | None = None
    col: int | None = None
    treatment: str = Field(description="treatment label")
    check: bool = False
    x_min_mm: float
    x_max_mm: float
    y_min_mm: float
    y_max_mm: float

    @model_validator(mode="after")
    def _proper_rectangle(self) -> Self:
        if not (self.x_min_mm < self.x_max_mm and self.y_min_mm < self.y_max_mm):
            raise ValueError(
                f"plot {self.plot}: rectangle x {self.x_min_mm}..{self.x_max_mm} mm, "
                f"y {self.y_min_mm}..{self.y_max_mm} mm is empty; minimums must be below maximums"
            )
        return self


class VariableIn(_In):
    name: str = Field(min_length=1, max_length=_NAME)
    unit: str = ""
    method: str = ""
    scale: Scale = "numeric"
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.scale == "categorical":
            if not self.categories or len(set(self.categories)) != len(self.categories):
                raise ValueError(f"{self.name}: a categorical variable needs distinct categories")
        elif self.categories is not None:
            raise ValueError(f"{self.name}: only categorical variables have categories")
        bounded = self.minimum is not None or self.maximum is not None
        if bounded and self.scale not in ("numeric", "ordinal"):
            raise ValueError(f"{self.name}: only numeric and ordinal variables have bounds")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"{self.name}: minimum {self.minimum} is above maximum {self.maximum}")
        return self


class ObservationIn(_In):
    """An observation as a robot or a person gives it: plot by number, variable by name."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    trial_id: int
    plot: int
    variable: str
    value: float | int | str | date
    observed_at: AwareDatetime
    recorder_kind: RecorderKind
    recorder: str = Field(min_length=1, max_length=_NAME)
    source: str = ""
    origin: str | None = Field(default=None, min_length=1, max_length=_ORIGIN)
    """a key for a copy that may be delivered twice: the second is not stored again"""


class ImportRow(_In):
    """One row of an imported table; the value is text, read by the variable's scale."""

    plot: int
    variable: str
    value: str
    observed_at: AwareDatetime
    source: str = ""


class PhotoIn(_In):
    plot_id: int
    path: str = Field(min_length=1, max_length=500)
    taken_at: AwareDatetime
    camera_x_mm: float
    camera_y_mm: float
    camera_z_mm: float
    origin: str | None = Field(default=None, min_length=1, max_length=_ORIGIN)


class PhotoOut(BaseModel):
    """A stored photo of a plot; `path` is relative to the photo folder that holds it."""

    model_config = ConfigDict(frozen=True)

    id: int
    plot: int
    path: str
    taken_at: datetime


class PlotPhotos(BaseModel):
    """A plot and its photos, oldest first: how the dashboard follows a plot over time."""

    model_config = ConfigDict(frozen=True)

    plot: int
    treatment: str
    photos: list[PhotoOut]


class NoteIn(_In):
    trial_id: int
    plot_id: int | None = None
    text: str = Field(min_length=1)
    author: str = Field(min_length=1, max_length=_NAME)


class TrialOut(BaseModel):
    """A trial as lists and dashboards show it."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    design: str
    seed: int
    protocol: str
    site: str | None
    plots: int


class BedOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    size_x_mm: float
    size_y_mm: float


class SiteOut(BaseModel):
    """A site with its beds, as the sites page lists them."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    place: str
    beds: list[BedOut]


class PlotOut(BaseModel):
    """A plot's place in the design and on the bed."""

    model_config = ConfigDict(frozen=True)

    plot: int
    block: int | None
    row: int | None
    col: int | None
    treatment: str
    check: bool
    x_min_mm: float
    x_max_mm: float
    y_min_mm: float
    y_max_mm: float
    site: str | None = Field(default=None, description="the site of the plot's bed")


class ObservationOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    trial_id: int
    plot: int
    variable: str
    value: Value
    observed_at: datetime
    recorder_kind: RecorderKind
    recorder: str
    source: str
    version: int


class HistoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int
    old_value: Value
    changed_by: str
    changed_at: datetime
    reason: str


class TidyRow(BaseModel):
    """One observation in a tidy table: one row per value, ready for analysis."""

    model_config = ConfigDict(frozen=True)

    plot: int
    block: int | None
    treatment: str
    variable: str
    value: Value
    unit: str
    observed_at: datetime
    recorder_kind: RecorderKind
    recorder: str


# --- values -----------------------------------------------------------------------------

_Stored = tuple[float | None, str | None]


def _where(variable: Variable, plot_number: int) -> str:
    return f"variable {variable.name!r} on plot {plot_number} of trial {variable.trial_id}"


def _valid_range(variable: Variable) -> str:
    unit = f" {variable.unit}" if variable.unit else ""
    if variable.minimum is not None and variable.maximum is not None:
        return f"{variable.minimum:g} to {variable.maximum:g}{unit}"
    if variable.minimum is not None:
        return f"at least {variable.minimum:g}{unit}"
    if variable.maximum is not None:
        return f"at most {variable.maximum:g}{unit}"
    return f"any value{unit}"


def _check_bounds(variable: Variable, number: float, where: str) -> None:
    too_low = variable.minimum is not None and number < variable.minimum
    too_high = variable.maximum is not None and number > variable.maximum
    if too_low or too_high:
        raise TrialError(
            f"{where}: value {number!r} is out of range; valid: {_valid_range(variable)}"
        )


def _stored_value(variable: Variable, plot_number: int, value: object) -> _Stored:
    """The (number, text) columns for `value`, or a TrialError saying why it is invalid."""
    where = _where(variable, plot_number)
    wrong_type = f"{where}: value {value!r} ({type(value).__name__}) is not"
    if variable.scale in ("numeric", "ordinal"):
        number = _checked_number(variable, value, wrong_type)
        _check_bounds(variable, number, where)
        return number, None
    if variable.scale == "categorical":
        categories = variable.categories or []
        if not isinstance(value, str):
            raise TrialError(f"{wrong_type} a category; valid: {categories}")
        if value not in categories:
            raise TrialError(f"{where}: value {value!r} is not a category; valid: {categories}")
        return None, value
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TrialError(f"{wrong_type} a calendar date (datetime.date)")
    return None, value.isoformat()


def _checked_number(variable: Variable, value: object, wrong_type: str) -> float:
    ordinal = variable.scale == "ordinal"
    fractional = isinstance(value, float) and ordinal
    if isinstance(value, bool) or not isinstance(value, int | float) or fractional:
        kind = "an integer score" if ordinal else "a number"
        raise TrialError(f"{wrong_type} {kind}; valid: {_valid_range(variable)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise TrialError(f"{wrong_type} a finite number")
    return number


def _loaded_value(variable: Variable, number: float | None, text: str | None) -> Value:
    """The value as the caller gave it, from its stored columns.

    The table's check constraint guarantees one column is set; which one follows the scale.
    """
    if text is not None:
        return date.fromisoformat(text) if variable.scale == "date" else text
    if number is None:
        raise TrialError(f"variable {variable.name!r}: a stored value has neither number nor text")
    return round(number) if variable.scale == "ordinal" else number


def _decimal(text: str) -> float:
    """A number as people type it: "31.5", or "31,5" with the decimal comma of French."""
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")
    return float(text)


def _parsed_text(variable: Variable, plot_number: int, text: str) -> Value:
    """An imported cell read by the variable's scale; unreadable text is a TrialError."""
    readers: dict[str, Any] = {
        "numeric": _decimal,
        "ordinal": int,
        "categorical": str,
        "date": date.fromisoformat,
    }
    try:
        parsed: Value = readers[variable.scale](text.strip())
    except ValueError:
        raise TrialError(
            f"{_where(variable, plot_number)}: {text!r} cannot be read as {variable.scale}"
        ) from None
    return parsed


# --- repository -------------------------------------------------------------------------


def _data_version_query() -> Select[Any]:
    trial_id: BindParameter[int] = bindparam("trial_id", type_=Integer)
    photos = (
        select(Photo.id).join(Plot, Photo.plot_id == Plot.id).where(Plot.trial_id == trial_id)
    ).subquery()
    return select(
        select(func.count(Plot.id)).where(Plot.trial_id == trial_id).scalar_subquery(),
        func.count(Observation.id),
        func.coalesce(func.max(Observation.id), 0),
        func.coalesce(func.sum(Observation.version), 0),
        select(func.count(photos.c.id)).scalar_subquery(),
        select(func.max(photos.c.id)).scalar_subquery(),
    ).where(Observation.trial_id == trial_id)


_DATA_VERSION = _data_version_query()
"""Built once: building it costs five times what running it does."""


class TrialStore:
    """The trials repository: every method is one transaction, retried on contention."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create_site(self, site: SiteIn) -> int:
        def work(session: Session) -> int:
            _require_free(
                session, select(Site.id).where(Site.name == site.name), f"site {site.name!r}"
            )
            return _added(session, Site(**site.model_dump())).id

        return run_in_transaction(self._sessions, work)

    def create_bed(self, bed: BedIn) -> int:
        def work(session: Session) -> int:
            _get(session, Site, bed.site_id, "site")
            taken = select(Bed.id).where(Bed.site_id == bed.site_id, Bed.name == bed.name)
            _require_free(session, taken, f"bed {bed.name!r} on site {bed.site_id}")
            return _added(session, Bed(**bed.model_dump())).id

        return run_in_transaction(self._sessions, work)

    def create_trial(self, trial: TrialIn) -> int:
        def work(session: Session) -> int:
            taken = select(Trial.id).where(Trial.name == trial.name)
            _require_free(session, taken, f"trial {trial.name!r}")
            row = _added(
                session,
                Trial(
                    name=trial.name, design=trial.design, seed=trial.seed, protocol=trial.protocol
                ),
            )
            level_ids = _add_factors(session, row.id, trial.factors)
            _add_treatments(session, row.id, trial.treatments, level_ids)
            return row.id

        return run_in_transaction(self._sessions, work)

    def trial_id(self, name: str) -> int:
        """The trial called `name`; unknown, a TrialError lists the trials there are."""

        def work(session: Session) -> int:
            found = session.scalar(select(Trial.id).where(Trial.name == name))
            if found is None:
                known = session.scalars(select(Trial.name).order_by(Trial.name)).all()
                raise TrialError(
                    f"no trial named {name!r}; the trials are: {', '.join(known) or '(none)'}"
                )
            return found

        return run_in_transaction(self._sessions, work, read_only=True)

    def site_id(self, name: str) -> int | None:
        """The site called `name`, or None when there is none yet."""

        def work(session: Session) -> int | None:
            return session.scalar(select(Site.id).where(Site.name == name))

        return run_in_transaction(self._sessions, work, read_only=True)

    def trials(self) -> list[TrialOut]:
        """Every trial, newest first, with its site (from its plots) and plot count."""
        return run_in_transaction(
            self._sessions, lambda session: _trial_outs(session, None), read_only=True
        )

    def sites(self) -> list[SiteOut]:
        """Every site, by name, with its beds."""

        def work(session: Session) -> list[SiteOut]:
            beds: dict[int, list[BedOut]] = {}
            for bed in session.scalars(select(Bed).order_by(Bed.name)):
                beds.setdefault(bed.site_id, []).append(
                    BedOut(
                        id=bed.id, name=bed.name, size_x_mm=bed.size_x_mm, size_y_mm=bed.size_y_mm
                    )
                )
            return [
                SiteOut(id=site.id, name=site.name, place=site.place, beds=beds.get(site.id, []))
                for site in session.scalars(select(Site).order_by(Site.name))
            ]

        return run_in_transaction(self._sessions, work, read_only=True)

    def trial(self, trial_id: int) -> TrialOut:
        """One trial, or a TrialError naming the id."""
        found = run_in_transaction(
            self._sessions, lambda session: _trial_outs(session, trial_id), read_only=True
        )
        if not found:
            raise TrialError(f"there is no trial {trial_id}")
        return found[0]

    def data_version(self, trial_id: int) -> tuple[int, ...]:
        """Changes whenever a plot, an observation or a photo of the trial is added or an
        observation edited: what a dashboard cache is keyed by. Asked on every visit, so it
        is one quick round trip: counts, last ids and the sum of observation versions."""
        row = read_quickly(
            self._sessions,
            lambda connection: connection.execute(_DATA_VERSION, {"trial_id": trial_id}).one(),
        )
        return tuple(int(value or 0) for value in row)

    def plots(self, trial_id: int) -> list[PlotOut]:
        """The trial's plots in plot-number order."""

        def work(session: Session) -> list[PlotOut]:
            _get(session, Trial, trial_id, "trial")
            rows = session.execute(
                select(Plot, Treatment.label, Site.name)
                .join(Treatment, Plot.treatment_id == Treatment.id)
                .join(Site, Plot.site_id == Site.id)
                .where(Plot.trial_id == trial_id)
                .order_by(Plot.plot_number)
            ).all()
            return [
                PlotOut(
                    plot=p.plot_number, block=p.block, row=p.row, col=p.col, treatment=label,
                    check=p.is_check, x_min_mm=p.x_min_mm, x_max_mm=p.x_max_mm,
                    y_min_mm=p.y_min_mm, y_max_mm=p.y_max_mm, site=site,
                )
                for p, label, site in rows
            ]  # fmt: skip

        return run_in_transaction(self._sessions, work, read_only=True)

    def add_plots(self, trial_id: int, bed_id: int, records: Sequence[PlotIn]) -> list[int]:
        """Lay a field book's plots onto a bed; the ids come back in the records' order."""

        def work(session: Session) -> list[int]:
            _get(session, Trial, trial_id, "trial")
            bed = _get(session, Bed, bed_id, "bed")
            treatments = _treatment_ids(session, trial_id)
            _check_plot_records(session, trial_id, bed, records, treatments)
            rows = [_plot_row(trial_id, bed, record, treatments) for record in records]
            session.add_all(rows)
            session.flush()
            return [row.id for row in rows]

        return run_in_transaction(self._sessions, work)

    def define_variable(self, trial_id: int, variable: VariableIn) -> int:
        def work(session: Session) -> int:
            _get(session, Trial, trial_id, "trial")
            taken = select(Variable.id).where(
                Variable.trial_id == trial_id, Variable.name == variable.name
            )
            _require_free(session, taken, f"variable {variable.name!r} of trial {trial_id}")
            return _added(session, Variable(trial_id=trial_id, **variable.model_dump())).id

        return run_in_transaction(self._sessions, work)

    def ensure_variable(self, trial_id: int, variable: VariableIn) -> int:
        """The id of the trial's variable of that name, defined now if it is new; a
        variable of that name defined differently is refused (values would mix units)."""

        def work(session: Session) -> int:
            _get(session, Trial, trial_id, "trial")
            query = select(Variable).where(
                Variable.trial_id == trial_id, Variable.name == variable.name
            )
            kept = session.scalars(query).first()
            if kept is None:
                return _added(session, Variable(trial_id=trial_id, **variable.model_dump())).id
            differs = {
                field: (getattr(kept, field), wanted)
                for field, wanted in variable.model_dump().items()
                if getattr(kept, field) != wanted
            }
            if differs:
                said = ", ".join(f"{k}: {a!r}, not {b!r}" for k, (a, b) in differs.items())
                raise TrialError(
                    f"variable {variable.name!r} of trial {trial_id} is already defined "
                    f"differently ({said}); use another name"
                )
            return kept.id

        return run_in_transaction(self._sessions, work)

    def record_observations(self, observations: Sequence[ObservationIn]) -> list[int]:
        """Store several observations all-or-nothing (a robot's measurement of every plot):
        every invalid one is listed in one TrialError and nothing is stored."""

        def work(session: Session) -> list[int]:
            stored, problems = [], []
            for number, observation in enumerate(observations, start=1):
                try:
                    stored.append(_add_observation(session, observation).id)
                except TrialError as error:
                    problems.append(f"  {number}: {error}")
            if problems:
                raise TrialError(
                    f"{len(problems)} of {len(observations)} observations are invalid, "
                    "nothing was stored:\n" + "\n".join(problems)
                )
            return stored

        return run_in_transaction(self._sessions, work)

    def record_observation(self, observation: ObservationIn) -> int:
        """Store one observation, or raise TrialError and store nothing if it is invalid."""

        def work(session: Session) -> int:
            return _add_observation(session, observation).id

        return run_in_transaction(self._sessions, work)

    def import_observations(
        self, trial_id: int, rows: Sequence[Mapping[str, object]], *, importer: str
    ) -> list[int]:
        """Import rows (plot, variable, value, observed_at, source) all-or-nothing.

        Every bad row is listed in one TrialError, numbered from 1, and nothing is stored;
        clean rows are stored as recorded by `importer` with kind "import".
        """

        def work(session: Session) -> list[int]:
            _get(session, Trial, trial_id, "trial")
            observations, problems = _read_import_rows(session, trial_id, rows, importer)
            if problems:
                raise TrialError(
                    f"import into trial {trial_id}: {len(problems)} of {len(rows)} rows "
                    "are invalid, nothing was stored:\n" + "\n".join(problems)
                )
            return [_add_observation(session, observation).id for observation in observations]

        return run_in_transaction(self._sessions, work)

    def edit_observation(
        self,
        observation_id: int,
        new_value: Value,
        who: str,
        why: str,
        *,
        expected_version: int | None = None,
    ) -> ObservationOut:
        """Change a value, keeping the old one in the history.

        The row is locked while it changes, so two simultaneous edits both land, one after
        the other. A caller that showed someone version n passes `expected_version=n`: if
        the value changed meanwhile the edit is refused rather than overwriting unseen work.
        """
        if not who.strip() or not why.strip():
            raise TrialError(f"observation {observation_id}: an edit needs who and why")

        def work(session: Session) -> ObservationOut:
            row = session.get(Observation, observation_id, with_for_update=True)
            if row is None:
                raise TrialError(f"observation {observation_id} does not exist")
            _check_version(row, expected_version)
            variable, plot_number = _variable_and_plot(session, row)
            new_num, new_text = _stored_value(variable, plot_number, new_value)
            session.add(
                ObservationChange(
                    observation_id=row.id,
                    version=row.version,
                    old_value_num=row.value_num,
                    old_value_text=row.value_text,
                    changed_by=who,
                    reason=why,
                )
            )
            row.value_num, row.value_text = new_num, new_text
            session.flush()
            return _observation_out(row, variable, plot_number)

        return run_in_transaction(self._sessions, work)

    def observation(self, observation_id: int) -> ObservationOut:
        def work(session: Session) -> ObservationOut:
            row = _get(session, Observation, observation_id, "observation")
            variable, plot_number = _variable_and_plot(session, row)
            return _observation_out(row, variable, plot_number)

        return run_in_transaction(self._sessions, work, read_only=True)

    def history(self, observation_id: int) -> list[HistoryEntry]:
        """The values an observation had before its edits, oldest first."""

        def work(session: Session) -> list[HistoryEntry]:
            row = _get(session, Observation, observation_id, "observation")
            variable, _ = _variable_and_plot(session, row)
            changes = session.scalars(
                select(ObservationChange)
                .where(ObservationChange.observation_id == observation_id)
                .order_by(ObservationChange.version)
            )
            return [
                HistoryEntry(
                    version=change.version,
                    old_value=_loaded_value(variable, change.old_value_num, change.old_value_text),
                    changed_by=change.changed_by,
                    changed_at=change.changed_at,
                    reason=change.reason,
                )
                for change in changes
            ]

        return run_in_transaction(self._sessions, work, read_only=True)

    def tidy_observations(self, trial_id: int) -> list[TidyRow]:
        """Every observation of a trial, one row each, by plot, variable and time."""

        def work(session: Session) -> list[TidyRow]:
            _get(session, Trial, trial_id, "trial")
            query = (
                select(Observation, Plot, Treatment.label, Variable)
                .join(Plot, Observation.plot_id == Plot.id)
                .join(Treatment, Plot.treatment_id == Treatment.id)
                .join(Variable, Observation.variable_id == Variable.id)
                .where(Observation.trial_id == trial_id)
                .order_by(Plot.plot_number, Variable.name, Observation.observed_at, Observation.id)
            )
            return [_tidy_row(*row) for row in session.execute(query).all()]

        return run_in_transaction(self._sessions, work, read_only=True)

    def add_photo(self, photo: PhotoIn) -> int:
        def work(session: Session) -> int:
            _get(session, Plot, photo.plot_id, "plot")
            return _added(session, Photo(**photo.model_dump())).id

        return run_in_transaction(self._sessions, work)

    def add_plot_photo(
        self,
        trial_id: int,
        plot: int,
        path: str,
        taken_at: datetime,
        camera_z_mm: float = 0.0,
        origin: str | None = None,
    ) -> int:
        """Record the photo at `path` of plot number `plot`, as taken from above the plot's
        centre at `camera_z_mm`: an upload says nothing of where the camera stood, and the
        robot's canopy views are squared on their plot, so the centre is true of both.
        `origin` (see `Photo.origin`) may be recorded once only."""

        def work(session: Session) -> int:
            found = _find_plot(session, trial_id, plot)
            photo = PhotoIn(
                plot_id=found.id, path=path, taken_at=taken_at,
                camera_x_mm=(found.x_min_mm + found.x_max_mm) / 2,
                camera_y_mm=(found.y_min_mm + found.y_max_mm) / 2, camera_z_mm=camera_z_mm,
                origin=origin,
            )  # fmt: skip
            return _added(session, Photo(**photo.model_dump())).id

        return run_in_transaction(self._sessions, work)

    def photo_of_origin(self, origin: str) -> int | None:
        """The photo recorded from `origin`, if one was."""

        def work(session: Session) -> int | None:
            return session.scalar(select(Photo.id).filter_by(origin=origin))

        return run_in_transaction(self._sessions, work, read_only=True)

    def photo(self, trial_id: int, photo_id: int) -> PhotoOut:
        """One photo of one of the trial's plots; a TrialError when the trial has none such,
        so a photo cannot be reached through another trial's pages or share link."""

        def work(session: Session) -> PhotoOut:
            found = session.execute(
                select(Photo, Plot.plot_number)
                .join(Plot, Photo.plot_id == Plot.id)
                .where(Photo.id == photo_id, Plot.trial_id == trial_id)
            ).first()
            if found is None:
                raise TrialError(f"trial {trial_id} has no photo {photo_id}")
            row, plot = found
            return PhotoOut(id=row.id, plot=plot, path=row.path, taken_at=row.taken_at)

        return run_in_transaction(self._sessions, work, read_only=True)

    def plot_photos(self, trial_id: int) -> list[PlotPhotos]:
        """Every plot of the trial by plot number, each with its photos oldest first, read
        in one query (the dashboard asks on every visit); no plots for an unknown trial."""

        def work(session: Session) -> list[PlotPhotos]:
            rows = session.execute(
                select(Plot.plot_number, Treatment.label, Photo.id, Photo.path, Photo.taken_at)
                .join(Treatment, Plot.treatment_id == Treatment.id)
                .outerjoin(Photo, Photo.plot_id == Plot.id)
                .where(Plot.trial_id == trial_id)
                .order_by(Plot.plot_number, Photo.taken_at, Photo.id)
            ).all()
            grouped: dict[int, tuple[str, list[PhotoOut]]] = {}
            for plot, treatment, photo_id, path, taken_at in rows:
                _, photos = grouped.setdefault(plot, (treatment, []))
                if photo_id is not None:
                    photos.append(PhotoOut(id=photo_id, plot=plot, path=path, taken_at=taken_at))
            return [
                PlotPhotos(plot=plot, treatment=treatment, photos=photos)
                for plot, (treatment, photos) in grouped.items()
            ]

        return run_in_transaction(self._sessions, work, read_only=True)

    def add_note(self, note: NoteIn) -> int:
        def work(session: Session) -> int:
            _get(session, Trial, note.trial_id, "trial")
            if note.plot_id is not None:
                plot = _get(session, Plot, note.plot_id, "plot")
                if plot.trial_id != note.trial_id:
                    raise TrialError(f"plot {note.plot_id} is not in trial {note.trial_id}")
            return _added(session, Note(**note.model_dump())).id

        return run_in_transaction(self._sessions, work)


# --- transaction helpers ----------------------------------------------------------------


def store_laid_out_trial(
    store: TrialStore,
    *,
    name: str,
    site: str,
    bed: str,
    bed_size_mm: tuple[float, float],
    book: FieldBook,
    rectangles: Sequence[PlotRectangle],
    seed: int | None = None,
) -> int:
    """A field book laid onto a bed, stored as a new trial (the site made if new); its id.

    `rectangles` are the book's plots on the bed, in book order (`trials.plots.lay_out`).
    """
    if len(rectangles) != len(book.plots):
        raise TrialError(
            f"{len(book.plots)} plots in the book but {len(rectangles)} rectangles: lay out "
            "the same book"
        )
    site_id = store.site_id(site) or store.create_site(SiteIn(name=site))
    bed_id = store.create_bed(
        BedIn(site_id=site_id, name=bed, size_x_mm=bed_size_mm[0], size_y_mm=bed_size_mm[1])
    )
    treatments = {
        p.treatment: TreatmentIn(label=p.treatment, levels=p.factors, is_check=p.check)
        for p in book.plots
    }
    trial_id = store.create_trial(
        TrialIn(
            name=name,
            design=book.design,
            seed=book.seed if seed is None else seed,
            factors=book.factors,
            treatments=list(treatments.values()),
        )
    )
    records = [
        PlotIn(
            plot=p.plot, block=p.block, row=p.row, col=p.col, treatment=p.treatment,
            check=p.check, x_min_mm=r.x_min_mm, x_max_mm=r.x_max_mm,
            y_min_mm=r.y_min_mm, y_max_mm=r.y_max_mm,
        )
        for p, r in zip(book.plots, rectangles, strict=True)
    ]  # fmt: skip
    store.add_plots(trial_id, bed_id, records)
    return trial_id


def _trial_outs(session: Session, trial_id: int | None) -> list[TrialOut]:
    """The trials (one, or all newest first) with their site and plot count."""
    plots = select(Plot.trial_id, func.count()).group_by(Plot.trial_id)
    sites = (
        select(Plot.trial_id, Site.name)
        .join(Site, Plot.site_id == Site.id)
        .group_by(Plot.trial_id, Site.name)
    )
    trials = select(Trial).order_by(Trial.id.desc())
    if trial_id is not None:
        plots, sites = (
            plots.where(Plot.trial_id == trial_id),
            sites.where(Plot.trial_id == trial_id),
        )
        trials = trials.where(Trial.id == trial_id)
    counts: dict[int, int] = {row[0]: row[1] for row in session.execute(plots)}
    site_names: dict[int, str] = {row[0]: row[1] for row in session.execute(sites)}
    return [
        TrialOut(
            id=t.id, name=t.name, design=t.design, seed=t.seed, protocol=t.protocol,
            site=site_names.get(t.id), plots=counts.get(t.id, 0),
        )
        for t in session.scalars(trials)
    ]  # fmt: skip


def _added(session: Session, row: RowT) -> RowT:
    session.add(row)
    session.flush()
    return row


def _get(session: Session, model: type[RowT], key: int, what: str) -> RowT:
    row = session.get(model, key)
    if row is None:
        raise TrialError(f"{what} {key} does not exist")
    return row


def _require_free(session: Session, query: Any, what: str) -> None:
    if session.scalar(query) is not None:
        raise TrialError(f"{what} already exists; choose another name")


def _add_factors(
    session: Session, trial_id: int, factors: dict[str, list[str]]
) -> dict[str, dict[str, int]]:
    level_ids: dict[str, dict[str, int]] = {}
    for name, levels in factors.items():
        factor = _added(session, Factor(trial_id=trial_id, name=name))
        level_ids[name] = {
            level: _added(session, FactorLevel(factor_id=factor.id, name=level)).id
            for level in levels
        }
    return level_ids


def _add_treatments(
    session: Session,
    trial_id: int,
    treatments: Sequence[TreatmentIn],
    level_ids: dict[str, dict[str, int]],
) -> None:
    for treatment in treatments:
        row = _added(
            session,
            Treatment(trial_id=trial_id, label=treatment.label, is_check=treatment.is_check),
        )
        links = [
            {"treatment_id": row.id, "level_id": level_ids[factor][level]}
            for factor, level in treatment.levels.items()
        ]
        if links:
            session.execute(treatment_levels.insert(), links)


def _treatment_ids(session: Session, trial_id: int) -> dict[str, int]:
    query = select(Treatment.label, Treatment.id).where(Treatment.trial_id == trial_id)
    return {label: key for label, key in session.execute(query).all()}


def _check_plot_records(
    session: Session,
    trial_id: int,
    bed: Bed,
    records: Sequence[PlotIn],
    treatments: Mapping[str, int],
) -> None:
    existing = set(session.scalars(select(Plot.plot_number).where(Plot.trial_id == trial_id)))
    seen: set[int] = set()
    for record in records:
        if record.plot in existing or record.plot in seen:
            raise TrialError(f"trial {trial_id}: plot number {record.plot} is used twice")
        seen.add(record.plot)
        if record.treatment not in treatments:
            raise TrialError(
                f"plot {record.plot}: treatment {record.treatment!r} is not one of "
                f"trial {trial_id}'s: {sorted(treatments)}"
            )
        _check_inside_bed(record, bed)


def _check_inside_bed(record: PlotIn, bed: Bed) -> None:
    inside = (
        record.x_min_mm >= 0
        and record.x_max_mm <= bed.size_x_mm
        and record.y_min_mm >= 0
        and record.y_max_mm <= bed.size_y_mm
    )
    if not inside:
        raise TrialError(
            f"plot {record.plot}: rectangle x {record.x_min_mm}..{record.x_max_mm} mm, "
            f"y {record.y_min_mm}..{record.y_max_mm} mm leaves bed {bed.name!r}; "
            f"valid: x 0..{bed.size_x_mm} mm, y 0..{bed.size_y_mm} mm"
        )


def _plot_row(trial_id: int, bed: Bed, record: PlotIn, treatments: Mapping[str, int]) -> Plot:
    return Plot(
        trial_id=trial_id,
        site_id=bed.site_id,
        bed_id=bed.id,
        plot_number=record.plot,
        block=record.block,
        row=record.row,
        col=record.col,
        treatment_id=treatments[record.treatment],
        is_check=record.check,
        x_min_mm=record.x_min_mm,
        x_max_mm=record.x_max_mm,
        y_min_mm=record.y_min_mm,
        y_max_mm=record.y_max_mm,
    )


def _find_plot(session: Session, trial_id: int, plot_number: int) -> Plot:
    plot = session.scalar(
        select(Plot).where(Plot.trial_id == trial_id, Plot.plot_number == plot_number)
    )
    if plot is None:
        raise TrialError(f"trial {trial_id} has no plot {plot_number}")
    return plot


def _find_variable(session: Session, trial_id: int, name: str) -> Variable:
    variable = session.scalar(
        select(Variable).where(Variable.trial_id == trial_id, Variable.name == name)
    )
    if variable is None:
        known = session.scalars(select(Variable.name).where(Variable.trial_id == trial_id)).all()
        raise TrialError(f"trial {trial_id} has no variable {name!r}; defined: {sorted(known)}")
    return variable


def _add_observation(session: Session, observation: ObservationIn) -> Observation:
    if observation.origin is not None:
        kept = session.scalar(select(Observation).filter_by(origin=observation.origin))
        if kept is not None:
            return kept
    plot = _find_plot(session, observation.trial_id, observation.plot)
    variable = _find_variable(session, observation.trial_id, observation.variable)
    value_num, value_text = _stored_value(variable, plot.plot_number, observation.value)
    return _added(
        session,
        Observation(
            trial_id=observation.trial_id,
            plot_id=plot.id,
            variable_id=variable.id,
            value_num=value_num,
            value_text=value_text,
            observed_at=observation.observed_at,
            recorder_kind=observation.recorder_kind,
            recorder=observation.recorder,
            source=observation.source,
            origin=observation.origin,
        ),
    )


def _read_import_rows(
    session: Session, trial_id: int, rows: Sequence[Mapping[str, object]], importer: str
) -> tuple[list[ObservationIn], list[str]]:
    observations: list[ObservationIn] = []
    problems: list[str] = []
    for number, raw in enumerate(rows, start=1):
        try:
            observations.append(_import_row(session, trial_id, raw, importer))
        except ValidationError as error:
            fields = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            problems.append(f"row {number}: {fields}")
        except TrialError as error:
            problems.append(f"row {number}: {error}")
    return observations, problems


def _import_row(
    session: Session, trial_id: int, raw: Mapping[str, object], importer: str
) -> ObservationIn:
    row = ImportRow.model_validate(raw)
    plot = _find_plot(session, trial_id, row.plot)
    variable = _find_variable(session, trial_id, row.variable)
    value = _parsed_text(variable, plot.plot_number, row.value)
    _stored_value(variable, plot.plot_number, value)
    return ObservationIn(
        trial_id=trial_id,
        plot=row.plot,
        variable=row.variable,
        value=value,
        observed_at=row.observed_at,
        recorder_kind="import",
        recorder=importer,
        source=row.source,
    )


def _check_version(row: Observation, expected_version: int | None) -> None:
    if expected_version is not None and row.version != expected_version:
        raise TrialError(
            f"observation {row.id} changed meanwhile: it is at version {row.version}, "
            f"the edit was made on version {expected_version}; reload it and edit again"
        )


def _variable_and_plot(session: Session, row: Observation) -> tuple[Variable, int]:
    variable = _get(session, Variable, row.variable_id, "variable")
    plot = _get(session, Plot, row.plot_id, "plot")
    return variable, plot.plot_number


def _observation_out(row: Observation, variable: Variable, plot_number: int) -> ObservationOut:
    return ObservationOut(
        id=row.id,
        trial_id=row.trial_id,
        plot=plot_number,
        variable=variable.name,
        value=_loaded_value(variable, row.value_num, row.value_text),
        observed_at=row.observed_at,
        recorder_kind=_recorder_kind(row.recorder_kind),
        recorder=row.recorder,
        source=row.source,
        version=row.version,
    )


def _recorder_kind(text: str) -> RecorderKind:
    kinds: dict[str, RecorderKind] = {"robot": "robot", "person": "person", "import": "import"}
    return kinds[text]


def _tidy_row(observation: Observation, plot: Plot, treatment: str, variable: Variable) -> TidyRow:
    return TidyRow(
        plot=plot.plot_number,
        block=plot.block,
        treatment=treatment,
        variable=variable.name,
        value=_loaded_value(variable, observation.value_num, observation.value_text),
        unit=variable.unit,
        observed_at=observation.observed_at,
        recorder_kind=_recorder_kind(observation.recorder_kind),
        recorder=observation.recorder,
    )
