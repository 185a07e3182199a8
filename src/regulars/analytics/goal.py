"""Retention goals: a realistic target CRR and what reaching it takes.

**Suggested target** (:func:`suggest_target`): cut churn by a fifth — close 20 % of the
gap between the current CRR and 100 % — but move at least 1 and at most 10 points, never
above 100, rounded half-up to 0.1. Examples: 86.7 → 89.4; 50 → 60; 20 → 30 (capped);
99.5 → 100. With a series of periods the current CRR is the median of their CRRs, so a
single unusual period does not set the goal.

**Gap and effort** (:func:`retention_goal`), for a period with S customers at the start:
``gap_points = target − current``; ``target_retained = ceil(target × S / 100)``;
``extra_customers_to_keep = max(0, target_retained − retained)`` per period.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import ibis.expr.types as ir

from regulars.analytics.kpis import PeriodKPIs
from regulars.analytics.validation import AnalysisArgumentError

GAP_SHARE_TO_CLOSE = Decimal("0.2")
MIN_STEP_POINTS = Decimal("1")
MAX_STEP_POINTS = Decimal("10")


@dataclass(frozen=True)
class RetentionGoal:
    """Where retention stands against a target, per period of the KPIs."""

    definition: str
    customers_start: int
    retained: int
    current_crr: float
    target_crr: float
    gap_points: float
    target_retained: int
    extra_customers_to_keep: int
    current_churn_rate: float
    target_churn_rate: float


def retention_goal(kpis: PeriodKPIs, target_crr: float) -> RetentionGoal:
    """Compare the KPIs' CRR (their chosen definition) with ``target_crr`` (percent)."""
    if not 0 <= target_crr <= 100:
        raise AnalysisArgumentError(f"target_crr must be within 0..100; got {target_crr}")
    counts = kpis.selected
    if counts.crr is None:
        raise AnalysisArgumentError("no customers at the start of the period: CRR undefined")
    exact_target = Decimal(str(target_crr)) * counts.customers_start / 100
    target_retained = int(exact_target.to_integral_value(rounding=ROUND_CEILING))
    return RetentionGoal(
        definition=kpis.definition,
        customers_start=counts.customers_start,
        retained=counts.retained,
        current_crr=counts.crr,
        target_crr=target_crr,
        gap_points=target_crr - counts.crr,
        target_retained=target_retained,
        extra_customers_to_keep=max(0, target_retained - counts.retained),
        current_churn_rate=100.0 - counts.crr,
        target_churn_rate=100.0 - target_crr,
    )


def _current_crr(current: PeriodKPIs | ir.Table | float | Iterable[float | None]) -> float:
    if isinstance(current, PeriodKPIs):
        value = current.crr
    elif isinstance(current, int | float):
        value = float(current)
    elif isinstance(current, ir.Table):
        value = current.crr.median().execute()
    else:
        values = [v for v in current if v is not None and not math.isnan(v)]
        value = statistics.median(values) if values else None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise AnalysisArgumentError("no CRR to start from (no customers at the start)")
    if not 0 <= value <= 100:
        raise AnalysisArgumentError(f"a CRR must be within 0..100; got {value}")
    return float(value)


def suggest_target(current: PeriodKPIs | ir.Table | float | Iterable[float | None]) -> float:
    """A realistic target CRR (percent) from the current one — see the module docstring.

    ``current`` is a :class:`PeriodKPIs`, a CRR in percent, an iterable of CRRs or a
    :func:`~regulars.analytics.kpis.kpi_series` table (median of its ``crr`` column).
    """
    crr = Decimal(str(_current_crr(current)))
    step = (100 - crr) * GAP_SHARE_TO_CLOSE
    step = min(max(step, MIN_STEP_POINTS), MAX_STEP_POINTS)
    target = min(crr + step, Decimal(100))
    return float(target.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
