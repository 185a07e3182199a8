"""Customer kinds: one-time, occasional and regular, and the regularity scale.

As of ``as_of``, over counted purchases before it. Let a customer's *visits* be their
distinct purchase days, ``k = visits − 1`` the number of gaps between consecutive
visits, ``span`` = last visit − first visit (= Σ gaps) and ``CV`` the coefficient of
variation (population standard deviation / mean) of the gaps:

    CV = sqrt(k · Σgap² − span²) / span

``regularity`` (0–100) is the product of three factors, each in [0, 1]:

* evenness  = max(0, 1 − CV / max_cv): 1 for clockwork gaps, 0 at ``max_cv``
  (default 1.0, the CV of purely random — Poisson — purchase timing);
* evidence  = min(1, k / full_evidence_gaps): few gaps prove little (default 4 gaps);
* duration  = min(1, span / long_tenure_days): regular *over a long time*
  (default 180 days).

``regularity = 100 × evenness × evidence × duration``. Kinds:

* ``one-time`` — exactly one purchase (regularity 0);
* ``regular`` — more than one purchase and regularity ≥ ``regular_threshold`` (50);
* ``occasional`` — every other repeat buyer (several purchases on a single day have no
  gap and regularity 0).

The gap sums are exact integers, so both engines compute bit-identical floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from regulars.analytics.expr import days_between
from regulars.analytics.summary import purchases_before
from regulars.analytics.validation import AnalysisArgumentError

ONE_TIME, OCCASIONAL, REGULAR = "one-time", "occasional", "regular"


@dataclass(frozen=True)
class KindConfig:
    """Thresholds of the regularity measure (see the module docstring).

    ``max_cv``: gap CV at which evenness reaches 0. ``full_evidence_gaps``: gaps needed
    for full evidence. ``long_tenure_days``: first→last visit span for full duration.
    ``regular_threshold``: regularity (0–100) from which a repeat buyer is regular.
    """

    max_cv: float = 1.0
    full_evidence_gaps: int = 4
    long_tenure_days: int = 180
    regular_threshold: float = 50.0

    def __post_init__(self) -> None:
        if self.max_cv <= 0 or self.full_evidence_gaps < 1 or self.long_tenure_days < 1:
            raise AnalysisArgumentError(
                "KindConfig needs max_cv > 0, full_evidence_gaps >= 1, long_tenure_days >= 1"
            )
        if not 0 <= self.regular_threshold <= 100:
            raise AnalysisArgumentError("KindConfig.regular_threshold must be within 0..100")


def _gap_statistics(orders: ir.Table, as_of: date) -> ir.Table:
    """``customer_id, purchases, gaps, span_days, gap_square_sum`` per customer."""
    bought = purchases_before(orders, as_of)
    counts = bought.group_by("customer_id").agg(purchases=bought.count())
    days = bought.select("customer_id", "order_date").distinct()
    previous = days.order_date.lag().over(group_by=days.customer_id, order_by=days.order_date)
    gaps = days.mutate(gap=days_between(days.order_date, previous))
    stats = gaps.group_by("customer_id").agg(
        gaps=gaps.gap.count(),
        span_days=gaps.gap.sum().coalesce(0),
        gap_square_sum=(gaps.gap * gaps.gap).sum().coalesce(0),
    )
    return counts.join(stats, "customer_id")


def _regularity(stats: ir.Table, config: KindConfig) -> ir.FloatingValue:
    k = stats.gaps.cast("float64")
    span = stats.span_days.cast("float64")
    spread = (stats.gaps * stats.gap_square_sum - stats.span_days * stats.span_days).cast("float64")
    cv = spread.sqrt() / span.nullif(0.0)
    evenness = ibis.greatest(1.0 - cv / config.max_cv, 0.0)
    evidence = ibis.least(k / config.full_evidence_gaps, 1.0)
    duration = ibis.least(span / config.long_tenure_days, 1.0)
    # No gap (one visit day) means no evidence of any rhythm: regularity 0.
    return (100.0 * evenness * evidence * duration).coalesce(0.0)


def customer_kinds(orders: ir.Table, *, as_of: date, config: KindConfig | None = None) -> ir.Table:
    """``customer_id, kind, regularity`` for every customer who bought before ``as_of``."""
    config = config or KindConfig()
    stats = _gap_statistics(orders, as_of)
    regularity = _regularity(stats, config)
    kind = ibis.cases(
        (stats.purchases == 1, ONE_TIME),
        (regularity >= config.regular_threshold, REGULAR),
        else_=OCCASIONAL,
    )
    return stats.select("customer_id", kind=kind, regularity=regularity)
