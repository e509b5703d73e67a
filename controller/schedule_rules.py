"""When scheduled events fall: pure rules, no database, no clock.

A schedule is either an *event* (once, or every N minutes/hours/days/weeks until an end) or
a *regimen* (items at day offsets and times of day from a start date, as on FarmBot). Rules
are written in the robot's local wall time and an explicit IANA zone, and every occurrence
comes out as a timezone-aware UTC instant, which is what the journal stores.

Daylight saving, decided once here so the runner never has to think about it:

- Days and weeks repeat in local wall time, so a daily 07:00 watering stays at 07:00 across
  the change; minutes and hours repeat in elapsed time (every 2 h means 2 h apart, even on
  the 23- or 25-hour day).
- A local time that does not exist (spring forward: 02:30 in Paris on the last Sunday of
  March) runs at the first valid instant after it, the moment the clocks jump (03:00).
- A local time that happens twice (fall back) runs once, at its first occurrence.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Unit = Literal["minutes", "hours", "days", "weeks"]
WALL_UNITS: frozenset[str] = frozenset({"days", "weeks"})
"""Units that repeat in local wall time rather than elapsed time."""

_UNIT_STEP = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
    "weeks": timedelta(weeks=1),
}
_FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    zone: str = Field(description="the robot's IANA time zone, e.g. Europe/Paris")

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"unknown time zone {zone!r}; give an IANA name such as 'Europe/Paris'"
            ) from error
        return zone


class EventRule(_Rule):
    """A job once at `start_local`, or every `every` `unit` from it while before `end_local`."""

    kind: Literal["event"] = "event"
    start_local: datetime = Field(description="local wall time, without a time zone")
    every: int | None = Field(default=None, ge=1)
    unit: Unit | None = None
    end_local: datetime | None = Field(default=None, description="exclusive, local wall time")
    job: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in ("start_local", "end_local"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is not None:
                raise ValueError(
                    f"{name} must be a local wall time without a zone; "
                    f"the zone is given by `zone` ({self.zone})"
                )
        if (self.every is None) != (self.unit is None):
            raise ValueError("give both `every` and `unit` for a repeating event, or neither")
        if self.end_local is not None and self.end_local <= self.start_local:
            raise ValueError(
                f"end_local {self.end_local} must be after start_local {self.start_local}"
            )
        return self


class RegimenItem(BaseModel):
    """One step of a regimen: `job` at `time_of_day` on day `day_offset_days` (0 = start)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day_offset_days: int = Field(ge=0)
    time_of_day: time
    job: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("time_of_day")
    @classmethod
    def _wall_time(cls, time_of_day: time) -> time:
        if time_of_day.tzinfo is not None:
            raise ValueError("time_of_day is a local wall time; the regimen's `zone` says where")
        return time_of_day


class RegimenRule(_Rule):
    """Items counted in local days from `start_date` (a relative-day recipe)."""

    kind: Literal["regimen"] = "regimen"
    start_date: date
    items: list[RegimenItem] = Field(min_length=1)


Rule = Annotated[EventRule | RegimenRule, Field(discriminator="kind")]


@dataclass(frozen=True)
class Occurrence:
    """One due run: when (UTC), which regimen item (0 for events), and what to run."""

    at: datetime
    item: int
    job: str
    params: dict[str, Any]

    @property
    def position(self) -> tuple[datetime, int]:
        """Order key: occurrences are handled strictly in this order."""
        return (self.at, self.item)


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the local wall time `local` in `zone` (DST rules as above)."""
    first = local.replace(tzinfo=zone, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == local:
        return utc  # exists (fold=0 is the first of two when ambiguous)
    return _gap_end(local.replace(tzinfo=zone, fold=1).astimezone(UTC), utc, zone)


def _gap_end(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jump, between `low` (old offset) and `high` (new offset).

    Bisection on whole seconds (transitions fall on them): zoneinfo does not expose its
    transitions.
    """
    low_s, high_s = math.floor(low.timestamp()), math.ceil(high.timestamp())
    low_offset = _offset(low_s, zone)
    while high_s - low_s > 1:
        middle_s = (low_s + high_s) // 2
        if _offset(middle_s, zone) == low_offset:
            low_s = middle_s
        else:
            high_s = middle_s
    return datetime.fromtimestamp(high_s, UTC)


def _offset(timestamp_s: int, zone: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(timestamp_s, zone).utcoffset()


def occurrences(
    rule: EventRule | RegimenRule,
    after: tuple[datetime, int] | None,
    until: datetime,
) -> Iterator[Occurrence]:
    """Occurrences whose position is after `after` (None: from the start) and `at <= until`.

    Ascending by position. Splitting a range at any point yields the same occurrences, which
    is what lets the runner resume from a stored cursor.
    """
    source = _regimen(rule) if isinstance(rule, RegimenRule) else _event(rule, after)
    for occurrence in source:
        if occurrence.at > until:
            return
        if after is None or occurrence.position > after:
            yield occurrence


def next_occurrence(
    rule: EventRule | RegimenRule, after: tuple[datetime, int] | None
) -> Occurrence | None:
    """The first occurrence after `after`, or None when the rule has ended."""
    return next(occurrences(rule, after, _FAR_FUTURE), None)


def _event(rule: EventRule, after: tuple[datetime, int] | None) -> Iterator[Occurrence]:
    zone = ZoneInfo(rule.zone)
    end = None if rule.end_local is None else to_utc(rule.end_local, zone)
    for at in _event_instants(rule, zone, None if after is None else after[0]):
        if end is not None and at >= end:
            return
        yield Occurrence(at=at, item=0, job=rule.job, params=rule.params)


def _event_instants(rule: EventRule, zone: ZoneInfo, after: datetime | None) -> Iterator[datetime]:
    start = to_utc(rule.start_local, zone)
    if rule.every is None or rule.unit is None:
        yield start
        return
    step = _UNIT_STEP[rule.unit] * rule.every
    if rule.unit in WALL_UNITS:
        # Start a step early: a DST change moves instants by at most an hour.
        k = 0 if after is None else max(0, (_local(after, zone) - rule.start_local) // step - 1)
        while True:
            yield to_utc(rule.start_local + k * step, zone)
            k += 1
    k = 0 if after is None else max(0, (after - start) // step)
    while True:
        yield start + k * step
        k += 1


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _regimen(rule: RegimenRule) -> Iterator[Occurrence]:
    zone = ZoneInfo(rule.zone)
    found = [
        Occurrence(
            at=to_utc(
                datetime.combine(
                    rule.start_date + timedelta(days=item.day_offset_days), item.time_of_day
                ),
                zone,
            ),
            item=index,
            job=item.job,
            params=item.params,
        )
        for index, item in enumerate(rule.items)
    ]
    return iter(sorted(found, key=lambda occurrence: occurrence.position))
