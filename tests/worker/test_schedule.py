"""Daily schedules on the shop's wall clock, across DST changes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from regulars.errors import RegularsError
from regulars.worker.schedule import Daily, Every

BERLIN = "Europe/Berlin"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_daily_at_three_in_utc() -> None:
    daily = Daily(hour=3)
    assert daily.next_after(utc(2026, 3, 1, 2, 59)) == utc(2026, 3, 1, 3)
    assert daily.next_after(utc(2026, 3, 1, 3)) == utc(2026, 3, 2, 3)  # strictly after
    assert daily.next_after(utc(2026, 3, 1, 23)) == utc(2026, 3, 2, 3)


def test_berlin_winter_and_summer_offsets() -> None:
    daily = Daily(hour=3, timezone=BERLIN)
    assert daily.next_after(utc(2026, 1, 10, 12)) == utc(2026, 1, 11, 2)  # CET, UTC+1
    assert daily.next_after(utc(2026, 7, 10, 12)) == utc(2026, 7, 11, 1)  # CEST, UTC+2


def test_spring_forward_day_in_berlin() -> None:
    # 29 March 2026: clocks jump from 02:00 CET to 03:00 CEST (01:00 UTC).
    daily = Daily(hour=3, timezone=BERLIN)
    saturday = daily.next_after(utc(2026, 3, 27, 12))
    sunday = daily.next_after(saturday)
    monday = daily.next_after(sunday)
    assert saturday == utc(2026, 3, 28, 2)  # 03:00 CET
    assert sunday == utc(2026, 3, 29, 1)  # 03:00 CEST
    assert monday == utc(2026, 3, 30, 1)
    assert sunday - saturday == timedelta(hours=23)
    # 02:00 does not exist that day: it runs shifted by the gap, at 03:00 CEST, once.
    skipped = Daily(hour=2, timezone=BERLIN)
    assert skipped.next_after(utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1)
    assert skipped.next_after(utc(2026, 3, 29, 1)) == utc(2026, 3, 30, 0)


def test_fall_back_day_in_berlin() -> None:
    # 25 October 2026: clocks go back from 03:00 CEST to 02:00 CET (01:00 UTC).
    daily = Daily(hour=3, timezone=BERLIN)
    saturday = daily.next_after(utc(2026, 10, 23, 12))
    sunday = daily.next_after(saturday)
    assert saturday == utc(2026, 10, 24, 1)  # 03:00 CEST
    assert sunday == utc(2026, 10, 25, 2)  # 03:00 CET
    assert sunday - saturday == timedelta(hours=25)
    # 02:00 happens twice that day: the first one (CEST, 00:00 UTC) runs, the second not.
    twice = Daily(hour=2, timezone=BERLIN)
    first = twice.next_after(utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0)
    assert twice.next_after(first) == utc(2026, 10, 26, 1)


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(RegularsError, match="unknown time zone"):
        Daily(hour=3, timezone="Mars/Olympus")
    with pytest.raises(RegularsError, match="hour"):
        Daily(hour=24)
    with pytest.raises(ValueError, match="aware"):
        Daily(hour=3).next_after(datetime(2026, 1, 1))


def test_every_is_a_utc_grid_that_ignores_daylight_saving() -> None:
    every = Every(minutes=5)
    assert every.next_after(datetime(2026, 3, 1, 12, 2, 59, tzinfo=UTC)) == datetime(
        2026, 3, 1, 12, 5, tzinfo=UTC
    )
    # Strictly after: an occurrence's own due time gives the next one.
    assert every.next_after(datetime(2026, 3, 1, 12, 5, tzinfo=UTC)) == datetime(
        2026, 3, 1, 12, 10, tzinfo=UTC
    )
    # Berlin falls back at 03:00 CEST = 01:00 UTC on 25 October 2026: the repeated hour
    # still has 12 occurrences per UTC hour, each due time exactly 5 minutes apart.
    berlin = ZoneInfo("Europe/Berlin")
    moment = datetime(2026, 10, 25, 2, 58, tzinfo=berlin)  # first 02:58 (CEST)
    due = [every.next_after(moment)]
    for _ in range(30):
        due.append(every.next_after(due[-1]))
    assert {b - a for a, b in itertools.pairwise(due)} == {timedelta(minutes=5)}
    assert due[0] == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    # Any moment in the same 5-minute slot gives the same due time (two workers agree).
    assert every.next_after(datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)) == every.next_after(
        datetime(2026, 3, 1, 12, 4, 59, tzinfo=UTC)
    )


def test_every_refuses_a_bad_interval() -> None:
    with pytest.raises(RegularsError, match="1 to 1440 minutes"):
        Every(minutes=0)
