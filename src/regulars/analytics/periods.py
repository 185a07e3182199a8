"""Calendar periods: weeks, months, quarters and years as half-open date ranges.

Every period is ``[period_start, next_period_start)``. Weeks start on Monday (ISO 8601),
months on the 1st, quarters on 1 January/April/July/October and years on 1 January.
The same boundaries are computed twice, and must agree: in Python (to build the small
tables of reporting periods) and in the engine (:func:`truncate`, to put each purchase
into its period); both engines' ``date_trunc`` use these same ISO boundaries.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, get_args

import ibis.expr.types as ir

from regulars.analytics.validation import require_choice, require_period
from regulars.config import Period

PeriodUnit = Period  # one definition, shared with the settings
PERIOD_UNITS: tuple[str, ...] = get_args(PeriodUnit)

_MONTHS_PER_PERIOD = {"month": 1, "quarter": 3, "year": 12}
_TRUNCATE_CODE: dict[str, Literal["W", "M", "Q", "Y"]] = {
    "week": "W",
    "month": "M",
    "quarter": "Q",
    "year": "Y",
}


def period_floor(day: date, unit: PeriodUnit) -> date:
    """The first day of the calendar period that contains ``day``."""
    require_choice("period", unit, PERIOD_UNITS)
    if unit == "week":
        return day - timedelta(days=day.weekday())
    months = _MONTHS_PER_PERIOD[unit]
    month0 = (day.month - 1) // months * months
    return date(day.year, month0 + 1, 1)


def next_period_start(period_start: date, unit: PeriodUnit) -> date:
    """The first day of the period after the one starting on ``period_start``."""
    return shift_periods(period_start, unit, 1)


def shift_periods(period_start: date, unit: PeriodUnit, n: int) -> date:
    """The start of the period ``n`` periods after (``n`` < 0: before) ``period_start``."""
    if unit == "week":
        return period_start + timedelta(weeks=n)
    month_index = period_start.year * 12 + period_start.month - 1 + n * _MONTHS_PER_PERIOD[unit]
    return date(month_index // 12, month_index % 12 + 1, 1)


def last_complete_period(as_of: date, unit: PeriodUnit) -> tuple[date, date]:
    """The latest whole period that ends on or before ``as_of`` (``as_of`` is exclusive)."""
    end = period_floor(as_of, unit)
    return shift_periods(end, unit, -1), end


def period_label(period_start: date, unit: PeriodUnit) -> str:
    """A short human label: 2026-W07, 2026-02, 2026-Q1, 2026."""
    if unit == "week":
        year, week, _ = period_start.isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        return f"{period_start.year}-{period_start.month:02d}"
    if unit == "quarter":
        return f"{period_start.year}-Q{(period_start.month - 1) // 3 + 1}"
    return str(period_start.year)


def previous_period_start(period_start: date, unit: PeriodUnit) -> date:
    """The first day of the period before the one starting on ``period_start``."""
    return period_floor(period_start - timedelta(days=1), unit)


def calendar_periods(start: date, end: date, unit: PeriodUnit) -> list[tuple[date, date]]:
    """Every whole calendar period that intersects ``[start, end)``, in order.

    The first period may begin before ``start`` and the last may end after ``end``:
    rows always describe whole weeks/months/quarters/years, never fragments.
    """
    require_period(start, end)
    bounds: list[tuple[date, date]] = []
    period_start = period_floor(start, unit)
    while period_start < end:
        period_end = next_period_start(period_start, unit)
        bounds.append((period_start, period_end))
        period_start = period_end
    return bounds


def truncate(day: ir.DateValue, unit: PeriodUnit) -> ir.DateValue:
    """Engine-side :func:`period_floor`: the start of the period containing ``day``."""
    require_choice("period", unit, PERIOD_UNITS)
    return day.truncate(_TRUNCATE_CODE[unit])


def periods_between(
    later: ir.DateValue, earlier: ir.DateValue, unit: PeriodUnit
) -> ir.IntegerValue:
    """Whole periods from ``earlier`` to ``later``; both must be period starts.

    On period starts the count is exact: days / 7 for weeks, calendar months / 1, 3 or
    12 otherwise (the engines' month difference is exact on first-of-month dates).
    """
    if unit == "week":
        return later.delta(earlier, unit="day") // 7
    return later.delta(earlier, unit="month") // _MONTHS_PER_PERIOD[unit]
