"""When schedule rules fall: DST in Europe/Paris, regimens, ends, one-offs, properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from controller.schedule_rules import (
    EventRule,
    RegimenItem,
    RegimenRule,
    next_occurrence,
    occurrences,
    to_utc,
)

PARIS = ZoneInfo("Europe/Paris")
FAR = datetime(2030, 1, 1, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def instants(rule: EventRule | RegimenRule, until: datetime = FAR) -> list[datetime]:
    return [o.at for o in occurrences(rule, None, until)]


def local(instant: datetime) -> datetime:
    return instant.astimezone(PARIS).replace(tzinfo=None)


def daily(start: datetime, **extra: object) -> EventRule:
    return EventRule.model_validate(
        {
            "zone": "Europe/Paris",
            "start_local": start,
            "every": 1,
            "unit": "days",
            "job": "water",
            **extra,
        }
    )


def test_daily_0700_stays_at_0700_local_across_march_and_october_changes() -> None:
    march = instants(daily(datetime(2026, 3, 27, 7), end_local=datetime(2026, 3, 31)))
    assert [local(at).time() for at in march] == [time(7)] * 4
    assert [at.hour for at in march] == [6, 6, 5, 5]  # CET then CEST
    october = instants(daily(datetime(2026, 10, 23, 7), end_local=datetime(2026, 10, 27)))
    assert [at.hour for at in october] == [5, 5, 6, 6]


def test_nonexistent_spring_forward_time_runs_when_the_clocks_jump() -> None:
    # 2026-03-29: 02:00 CET becomes 03:00 CEST, at 01:00 UTC.
    assert to_utc(datetime(2026, 3, 29, 2, 30), PARIS) == utc(2026, 3, 29, 1)
    rule = daily(datetime(2026, 3, 28, 2, 30), end_local=datetime(2026, 3, 31))
    assert instants(rule) == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]


def test_ambiguous_fall_back_time_runs_once_at_its_first_occurrence() -> None:
    # 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice.
    rule = daily(datetime(2026, 10, 24, 2, 30), end_local=datetime(2026, 10, 27))
    assert instants(rule) == [
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


def test_hourly_repeats_in_elapsed_time_through_the_25_hour_day() -> None:
    rule = EventRule(
        zone="Europe/Paris",
        start_local=datetime(2026, 10, 25),
        every=1,
        unit="hours",
        end_local=datetime(2026, 10, 26),
        job="photo",
    )
    found = instants(rule)
    assert len(found) == 25
    assert {b - a for a, b in pairwise(found)} == {timedelta(hours=1)}


def test_one_off_runs_once_and_weekly_end_is_exclusive() -> None:
    once = EventRule(zone="Europe/Paris", start_local=datetime(2026, 6, 1, 9), job="sow")
    assert instants(once) == [utc(2026, 6, 1, 7)]
    assert next_occurrence(once, (utc(2026, 6, 1, 7), 0)) is None
    weekly = EventRule(
        zone="Europe/Paris",
        start_local=datetime(2026, 6, 1, 9),
        every=2,
        unit="weeks",
        end_local=datetime(2026, 6, 29, 9),
        job="weed",
    )
    assert [local(at) for at in instants(weekly)] == [
        datetime(2026, 6, 1, 9),
        datetime(2026, 6, 15, 9),
    ]


def test_regimen_items_fall_at_day_offsets_in_local_time_with_their_jobs() -> None:
    rule = RegimenRule(
        zone="Europe/Paris",
        start_date=date(2026, 3, 28),
        items=[
            RegimenItem(day_offset_days=2, time_of_day=time(7), job="water", params={"ml": 200}),
            RegimenItem(day_offset_days=0, time_of_day=time(9, 30), job="sow"),
        ],
    )
    found = list(occurrences(rule, None, FAR))
    assert [(o.at, o.item, o.job) for o in found] == [
        (utc(2026, 3, 28, 8, 30), 1, "sow"),
        (utc(2026, 3, 30, 5), 0, "water"),
    ]
    assert found[1].params == {"ml": 200}
    assert next_occurrence(rule, found[0].position) == found[1]


@pytest.mark.parametrize(
    "fields",
    [
        {"start_local": datetime(2026, 1, 1, tzinfo=UTC)},
        {"every": 2},
        {"end_local": datetime(2025, 1, 1)},
        {"zone": "Mars/Olympus"},
    ],
)
def test_invalid_event_rules_are_refused(fields: dict[str, object]) -> None:
    base = {"zone": "Europe/Paris", "start_local": datetime(2026, 1, 1), "job": "water"}
    with pytest.raises(ValidationError):
        EventRule.model_validate({**base, **fields})


def test_regimen_times_of_day_must_be_wall_times() -> None:
    with pytest.raises(ValidationError, match="local wall time"):
        RegimenItem(day_offset_days=0, time_of_day=time(7, tzinfo=UTC), job="water")


local_times = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1))


@given(local_times)
def test_to_utc_is_the_first_instant_at_or_after_the_wall_time(wall: datetime) -> None:
    instant = to_utc(wall, PARIS)
    assert local(instant) >= wall
    assert local(instant - timedelta(seconds=1)) < wall or local(instant) == wall


@settings(max_examples=50, deadline=None)
@given(local_times, st.integers(1, 3), st.sampled_from(["days", "weeks"]))
def test_wall_repeats_keep_the_time_of_day_and_never_repeat(
    start: datetime, every: int, unit: str
) -> None:
    start = start.replace(second=0, microsecond=0)
    rule = EventRule.model_validate(
        {"zone": "Europe/Paris", "start_local": start, "every": every, "unit": unit, "job": "water"}
    )
    found = instants(rule, until=to_utc(start, PARIS) + timedelta(days=400))
    assert found == sorted(set(found))
    moved = [at for at in found if local(at).time() != start.time()]
    assert all(local(at).hour == 3 and local(at).minute == 0 for at in moved)  # spring gap


@settings(max_examples=50, deadline=None)
@given(
    local_times,
    st.integers(7, 500),
    st.sampled_from(["minutes", "hours", "days"]),
    st.integers(0, 2000),
)
def test_resuming_from_any_cursor_gives_the_same_occurrences(
    start: datetime, every: int, unit: str, cut_h: int
) -> None:
    rule = EventRule.model_validate(
        {"zone": "Europe/Paris", "start_local": start, "every": every, "unit": unit, "job": "water"}
    )
    until = to_utc(start, PARIS) + timedelta(hours=2000)
    whole = list(occurrences(rule, None, until))
    cut = to_utc(start, PARIS) + timedelta(hours=cut_h)
    head = list(occurrences(rule, None, cut))
    tail = list(occurrences(rule, head[-1].position if head else None, until))
    assert head + tail == whole
