"""The documented ranges every input is checked against, at the API edge and in import
files alike (docs/api.md, "Limits"). A value outside is refused by name, never clipped,
wrapped or guessed: a year 1 is not 2001, an offset of +25:00 is not a day later.

* Instants: from :data:`EARLIEST` (inclusive) to :data:`LATEST` (exclusive), in UTC.
  Dates without a time: the same calendar range.
* UTC offsets written with a time: at most :data:`MAX_OFFSET_MINUTES` (±14:00, the widest
  any real zone uses).
* Money: at most :data:`MAX_MONEY` in absolute value, two decimals. That keeps every
  amount exact in ``NUMERIC(18, 2)`` and the sums of a million of them exact too.
* Time zones: IANA names this machine knows (``Europe/Berlin``; not ``Mars/Olympus``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from zoneinfo import available_timezones

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""The first instant accepted."""
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""The first instant no longer accepted."""
MAX_OFFSET_MINUTES = 14 * 60
"""The largest UTC offset accepted, in minutes either side."""
MAX_MONEY = Decimal("9999999999999.99")
"""The largest amount accepted (13 digits before the point)."""


def check_instant(value: datetime) -> datetime:
    """``value`` (aware) in UTC if inside the range and its offset is real, else ValueError.

    The range is checked before the conversion, which would overflow at year 1 or 9999.
    """
    offset = value.utcoffset()
    if offset is not None and abs(offset) > timedelta(minutes=MAX_OFFSET_MINUTES):
        raise ValueError("the UTC offset must be between -14:00 and +14:00")
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC)")
    return value.astimezone(UTC)


def check_date(value: date) -> date:
    """``value`` if inside the calendar range, else ValueError."""
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}")
    return value


@cache
def known_time_zones() -> frozenset[str]:
    """The IANA zone names available here (system database or the tzdata package)."""
    return frozenset(available_timezones())


def check_time_zone(name: str) -> str:
    """``name`` if it is a known IANA zone, else ValueError."""
    if name not in known_time_zones():
        raise ValueError(f"unknown time zone '{name}'; use an IANA name like Europe/Berlin")
    return name
