"""Calendar periods as half-open date ranges [start, end).

Weeks start on Monday (ISO 8601); months, quarters and years on their first day.
"""

from __future__ import annotations

from datetime import date, timedelta

from regulars.config import Period

_MONTHS_PER = {"month": 1, "quarter": 3, "year": 12}


def period_start(day: date, period: Period) -> date:
    """The first day of the period that contains ``day``."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    months = _MONTHS_PER[period]
    month0 = (day.month - 1) // months * months
    return date(day.year, month0 + 1, 1)


def shift(start: date, period: Period, n: int) -> date:
    """The start of the period ``n`` periods after the one starting at ``start``."""
    if period == "week":
        return start + timedelta(weeks=n)
    total = start.year * 12 + start.month - 1 + n * _MONTHS_PER[period]
    return date(total // 12, total % 12 + 1, 1)


def last_complete_period(as_of: date, period: Period) -> tuple[date, date]:
    """The latest whole period that ends on or before ``as_of``."""
    end = period_start(as_of, period)
    return shift(end, period, -1), end


def label(start: date, period: Period) -> str:
    """A short human label: 2026-W07, 2026-02, 2026-Q1, 2026."""
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{start.year}-{start.month:02d}"
    if period == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)
