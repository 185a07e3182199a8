"""Period KPIs: retention (two definitions), churn, repeat rate, AOV, frequency.

The definitions live in :mod:`regulars.analytics.period_metrics` (counts and rates) and
:mod:`regulars.analytics.activity` ("customer at a moment"); ``docs/metrics.md`` states
them with worked examples. Lifetime value is not a period KPI: it is defined on the
customer at a moment (:mod:`regulars.analytics.lifetime`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, get_args

import ibis.expr.types as ir

from regulars.analytics.activity import DEFAULT_ACTIVITY_WINDOW_DAYS
from regulars.analytics.period_metrics import period_metrics
from regulars.analytics.periods import PeriodUnit, calendar_periods
from regulars.analytics.validation import (
    AnalysisArgumentError,
    require_choice,
    require_period,
    require_positive,
)

Definition = Literal["activity_window", "repeat"]
DEFINITIONS: tuple[str, ...] = get_args(Definition)


@dataclass(frozen=True)
class RetentionCounts:
    """S, N, E, retained, lost and reactivated under one definition of "retained";
    ``crr`` and ``churn_rate`` in percent, None when S = 0."""

    customers_start: int
    customers_new: int
    customers_end: int
    retained: int
    lost: int
    reactivated: int
    crr: float | None
    churn_rate: float | None

    def to_dict(self) -> dict[str, int | float | None]:
        return {
            "customers_start": self.customers_start,
            "customers_new": self.customers_new,
            "customers_end": self.customers_end,
            "retained": self.retained,
            "lost": self.lost,
            "reactivated": self.reactivated,
            "crr": self.crr,
            "churn_rate": self.churn_rate,
        }


@dataclass(frozen=True)
class PeriodKPIs:
    """Every KPI of one period ``[start, end)``.

    Money: ``revenue`` is an exact :class:`~decimal.Decimal`; ``aov`` is a float (a
    ratio). Rates are floats in percent.
    """

    start: date
    end: date
    activity_window_days: int
    definition: Definition
    window: RetentionCounts
    repeat: RetentionCounts
    orders: int
    unique_customers: int
    repeat_buyers: int
    revenue: Decimal
    repeat_purchase_rate: float | None
    aov: float | None
    purchase_frequency: float | None

    @property
    def period_days(self) -> int:
        return (self.end - self.start).days

    @property
    def selected(self) -> RetentionCounts:
        """The retention counts of the chosen ``definition``."""
        return self.window if self.definition == "activity_window" else self.repeat

    @property
    def crr(self) -> float | None:
        return self.selected.crr

    @property
    def churn_rate(self) -> float | None:
        return self.selected.churn_rate

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: dates as ISO strings, Decimals as strings, rates in percent.

        The chosen definition's counts are top-level; the other definition's are nested
        under its name (``"repeat"`` or ``"activity_window"``).
        """
        other = "repeat" if self.definition == "activity_window" else "activity_window"
        other_counts = self.repeat if other == "repeat" else self.window
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "period_days": self.period_days,
            "activity_window_days": self.activity_window_days,
            "definition": self.definition,
            **self.selected.to_dict(),
            other: other_counts.to_dict(),
            "orders": self.orders,
            "unique_customers": self.unique_customers,
            "repeat_buyers": self.repeat_buyers,
            "revenue": str(self.revenue),
            "repeat_purchase_rate": self.repeat_purchase_rate,
            "aov": self.aov,
            "purchase_frequency": self.purchase_frequency,
        }


def _window_counts(row: dict[str, Any]) -> RetentionCounts:
    return RetentionCounts(
        customers_start=row["customers_start"],
        customers_new=row["customers_new"],
        customers_end=row["customers_end"],
        retained=row["retained"],
        lost=row["lost"],
        reactivated=row["reactivated"],
        crr=row["crr"],
        churn_rate=row["churn_rate"],
    )


def _repeat_counts(row: dict[str, Any]) -> RetentionCounts:
    return RetentionCounts(
        customers_start=row["customers_start"],
        customers_new=row["customers_new"],
        customers_end=row["repeat_customers_end"],
        retained=row["repeat_retained"],
        lost=row["repeat_lost"],
        reactivated=row["reactivated"],
        crr=row["repeat_crr"],
        churn_rate=row["repeat_churn_rate"],
    )


def period_kpis_table(
    orders: ir.Table,
    start: date,
    end: date,
    *,
    activity_window_days: int = DEFAULT_ACTIVITY_WINDOW_DAYS,
) -> ir.Table:
    """The one-row Ibis table behind :func:`period_kpis`: every column of
    :func:`regulars.analytics.period_metrics.period_metrics` for ``[start, end)``."""
    require_period(start, end)
    require_positive("activity_window_days", activity_window_days)
    return period_metrics(orders, [(start, end)], activity_window_days)


def period_kpis(
    orders: ir.Table,
    start: date,
    end: date,
    *,
    activity_window_days: int = DEFAULT_ACTIVITY_WINDOW_DAYS,
    definition: Definition = "activity_window",
) -> PeriodKPIs:
    """Compute every KPI of ``[start, end)`` with one small query.

    ``definition`` picks which "retained" is reported at the top level (both are
    computed).
    """
    require_choice("definition", definition, DEFINITIONS)
    table = period_kpis_table(orders, start, end, activity_window_days=activity_window_days)
    row: dict[str, Any] = table.to_pyarrow().to_pylist()[0]
    return _kpis_of_row(row, start, end, activity_window_days, definition)


def period_kpis_many(
    orders: ir.Table,
    bounds: Sequence[tuple[date, date]],
    *,
    activity_window_days: int = DEFAULT_ACTIVITY_WINDOW_DAYS,
    definition: Definition = "activity_window",
) -> list[PeriodKPIs]:
    """:func:`period_kpis` of several periods ``[start, end)`` in one query, in the order
    given; the periods may overlap but their starts must differ (rows are keyed by it)."""
    require_choice("definition", definition, DEFINITIONS)
    require_positive("activity_window_days", activity_window_days)
    if len({start for start, _ in bounds}) != len(bounds):
        raise AnalysisArgumentError("period_kpis_many: every period needs its own start")
    for start, end in bounds:
        require_period(start, end)
    rows = period_metrics(orders, bounds, activity_window_days).to_pyarrow().to_pylist()
    by_start = {row["period_start"]: row for row in rows}
    return [
        _kpis_of_row(by_start[start], start, end, activity_window_days, definition)
        for start, end in bounds
    ]


def _kpis_of_row(
    row: dict[str, Any], start: date, end: date, activity_window_days: int, definition: Definition
) -> PeriodKPIs:
    return PeriodKPIs(
        start=start,
        end=end,
        activity_window_days=activity_window_days,
        definition=definition,
        window=_window_counts(row),
        repeat=_repeat_counts(row),
        orders=row["orders"],
        unique_customers=row["unique_customers"],
        repeat_buyers=row["repeat_buyers"],
        revenue=Decimal(row["revenue"]),
        repeat_purchase_rate=row["repeat_purchase_rate"],
        aov=row["aov"],
        purchase_frequency=row["purchase_frequency"],
    )


def kpi_series(
    orders: ir.Table,
    *,
    period: PeriodUnit,
    start: date,
    end: date,
    activity_window_days: int = DEFAULT_ACTIVITY_WINDOW_DAYS,
) -> ir.Table:
    """One row per calendar period intersecting ``[start, end)`` (whole periods; see
    :func:`regulars.analytics.periods.calendar_periods`), all computed in one query.

    Columns: :data:`regulars.analytics.period_metrics.COLUMNS` — ``period_start,
    period_end, customers_start, customers_new, customers_end, retained, lost,
    reactivated, crr, churn_rate, repeat_retained, repeat_lost, repeat_customers_end,
    repeat_crr, repeat_churn_rate, orders, unique_customers, repeat_buyers, revenue,
    repeat_purchase_rate, aov, purchase_frequency`` — with the same
    definitions as :func:`period_kpis` (``repeat_*`` = the repeat-based variant, except
    ``repeat_purchase_rate`` and ``repeat_buyers``).
    """
    require_positive("activity_window_days", activity_window_days)
    bounds = calendar_periods(start, end, period)
    return period_metrics(orders, bounds, activity_window_days)
