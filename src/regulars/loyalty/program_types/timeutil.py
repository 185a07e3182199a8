"""Time helpers shared by the program rules: UTC checks, local dates, calendar months."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def require_utc(moment: datetime, field: str) -> datetime:
    """``moment`` itself, after checking it is timezone-aware (any zone; compared as UTC)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{field}: a timezone-aware datetime is required, got naive {moment}")
    return moment


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The IANA zone ``name`` (the customer's), else ``default``; an unknown name is an error."""
    key = name or default
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"time_zone: unknown IANA time zone {key!r}") from exc


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar date at ``moment`` on a wall clock in ``tz``."""
    return require_utc(moment, "moment").astimezone(tz).date()


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` starts in ``tz`` (DST-safe: 00:00 always exists)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months; the day is clamped (Jan 31 + 1 month = Feb 28/29)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def days(n: int) -> timedelta:
    """``n`` days as a timedelta (reads better in rule code)."""
    return timedelta(days=n)
