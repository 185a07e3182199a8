"""Recurring schedules: when the next occurrence of a recurring job is due.

A schedule is evaluated on the shop's wall clock and turned into a UTC instant, because
"every night at 03:00" means 03:00 in the shop, in winter and in summer alike.

Daylight saving time (Europe/Berlin as the example, the rule is the zone's):

* **Spring forward** (last Sunday of March, 02:00 → 03:00): a daily job at 03:00 runs at
  03:00 CEST = 01:00 UTC, 23 hours after the day before. A time the clock skips (02:30)
  runs shifted forward by the length of the gap (03:30 CEST), once.
* **Fall back** (last Sunday of October, 03:00 → 02:00): 03:00 CET = 02:00 UTC, 25 hours
  after the day before. A time the clock shows twice (02:30) runs at its first
  occurrence (02:30 CEST), once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from regulars.clock import zone
from regulars.errors import RegularsError


class Recurrence(Protocol):
    """Anything that says when the next occurrence after a moment is due."""

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (aware), as an aware UTC datetime."""
        ...


@dataclass(frozen=True)
class Daily:
    """Every day at ``hour:minute`` wall-clock time in ``timezone``."""

    hour: int
    minute: int = 0
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not (0 <= self.hour <= 23 and 0 <= self.minute <= 59):
            raise RegularsError(
                f"a daily time needs 0 ≤ hour ≤ 23 and 0 ≤ minute ≤ 59, got "
                f"{self.hour}:{self.minute:02d}"
            )
        zone(self.timezone)

    def at(self, day: datetime) -> datetime:
        """The UTC instant of this schedule on the local calendar day of ``day``.

        ``fold=0`` picks the first of two repeated wall times and shifts a skipped one
        forward by the gap (PEP 495), which is the rule of the module docstring.
        """
        local = datetime.combine(day.date(), time(self.hour, self.minute), zone(self.timezone))
        return local.astimezone(UTC)

    def next_after(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        local_day = moment.astimezone(zone(self.timezone))
        candidate = self.at(local_day)
        if candidate <= moment:
            candidate = self.at(local_day + timedelta(days=1))
        return candidate


@dataclass(frozen=True)
class Every:
    """Every ``minutes`` minutes, on a grid of UTC instants counted from the Unix epoch.

    The grid ignores wall clocks, so daylight saving time changes nothing (a 5-minute
    job runs 12 times in every hour, also in the hour the clock repeats), and every worker
    computes the same due times: ``next_after(m) = epoch + (⌊(m − epoch) / step⌋ + 1) × step``.
    Two workers scheduling the next occurrence therefore enqueue the same ``due_at``, which
    the queue keeps once.
    """

    minutes: int

    def __post_init__(self) -> None:
        if not 1 <= self.minutes <= 24 * 60:
            raise RegularsError(f"an interval needs 1 to 1440 minutes, got {self.minutes}")

    def next_after(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        step = timedelta(minutes=self.minutes)
        elapsed = moment.astimezone(UTC) - _EPOCH
        return _EPOCH + (elapsed // step + 1) * step


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
