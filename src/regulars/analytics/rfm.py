"""RFM: recency, frequency and monetary scores (quintiles) and named segments.

As of ``as_of``, over counted purchases before it:

* ``recency_days`` = days from the last purchase to ``as_of`` (≥ 1);
  ``frequency`` = number of purchases; ``monetary`` = Σ net amount.
* Scores 1–5 are quintiles: ``ntile(5)`` over all customers ordered by the value
  (recency reversed: the most recent customers get 5). Tied values always share one
  score, the lowest their tie group reaches, so equal customers are never split
  arbitrarily (deterministic whatever the engine's row order). With many one-time
  buyers the low frequency quintiles therefore merge into score 1 — by design.
* ``fm_score = round_half_up((f_score + m_score) / 2)``; ``segment`` comes from the
  R × FM grid in :data:`SEGMENT_GRID`; ``rfm_cell`` is the three digits "RFM".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

import ibis
import ibis.expr.types as ir

from regulars.analytics.summary import customer_summary


@dataclass(frozen=True)
class SegmentInfo:
    """A named RFM segment: who is in it and what to do about them."""

    name: str
    description: str
    action: str


SEGMENTS: Mapping[str, SegmentInfo] = MappingProxyType(
    {
        info.name: info
        for info in (
            SegmentInfo(
                "Champions",
                "Bought recently, buy often and spend the most.",
                "Reward them; ask for reviews and referrals; early access to new products.",
            ),
            SegmentInfo(
                "Loyal",
                "Buy often and spend well; not the very latest buyers.",
                "Upsell higher-value products; invite to the loyalty tier or membership.",
            ),
            SegmentInfo(
                "Potential loyalist",
                "Recent buyers with average frequency and spend.",
                "Offer the loyalty program and personal recommendations.",
            ),
            SegmentInfo(
                "New",
                "Bought very recently, for the first time or little so far.",
                "Welcome series with how-to content; make the second purchase easy.",
            ),
            SegmentInfo(
                "Promising",
                "Recent buyers who have bought little so far.",
                "Build the relationship: content, a small incentive for the next purchase.",
            ),
            SegmentInfo(
                "Need attention",
                "Average recency, frequency and spend.",
                "Limited-time offers based on their purchase history.",
            ),
            SegmentInfo(
                "About to sleep",
                "Below-average recency with low frequency and spend.",
                "Reconnect with popular products and a reason to come back now.",
            ),
            SegmentInfo(
                "At risk",
                "Bought often and spent well, but long ago.",
                "Personal win-back messages and renewals; find out what went wrong.",
            ),
            SegmentInfo(
                "Can't lose them",
                "Used to be among the best customers; have not come back for long.",
                "Win them back personally (call, strong offer); ask for feedback.",
            ),
            SegmentInfo(
                "Hibernating",
                "Last purchase long ago, few purchases, low spend.",
                "Offer other relevant products and special discounts; keep costs low.",
            ),
            SegmentInfo(
                "Lost",
                "Lowest recency, frequency and spend.",
                "Try one reactivation campaign, otherwise stop spending on them.",
            ),
        )
    }
)

# R score (rows, 5 → 1) × FM score (columns, 1 → 5) → segment name.
SEGMENT_GRID: Mapping[int, tuple[str, str, str, str, str]] = MappingProxyType(
    {
        5: ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
        4: ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Champions"),
        3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
        2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
        1: ("Lost", "Lost", "At risk", "Can't lose them", "Can't lose them"),
    }
)


def segment_of(r_score: int, fm_score: int) -> str:
    """The segment name of one (R, FM) cell of :data:`SEGMENT_GRID`."""
    return SEGMENT_GRID[r_score][fm_score - 1]


def _tile(value: ir.Column, tie_break: ir.Column, *, reverse: bool = False) -> ir.IntegerColumn:
    """0-based quintile (Ibis' ntile is 0-based); ``reverse`` ranks high values first."""
    order = value.desc() if reverse else value.asc()
    return ibis.ntile(5).over(order_by=[order, tie_break])


def _shared_score(tile: ir.IntegerColumn, value: ir.Column) -> ir.IntegerColumn:
    """1-based score; every member of a tie group gets the group's lowest quintile."""
    return (tile.min().over(group_by=value) + 1).cast("int64")


def _scores(summary: ir.Table) -> ir.Table:
    """Add ``r_score, f_score, m_score`` (recency reversed: most recent = 5)."""
    tiles = summary.mutate(
        _r=_tile(summary.recency_days, summary.customer_id, reverse=True),
        _f=_tile(summary.frequency, summary.customer_id),
        _m=_tile(summary.monetary, summary.customer_id),
    )
    return tiles.mutate(
        r_score=_shared_score(tiles["_r"], tiles.recency_days),
        f_score=_shared_score(tiles["_f"], tiles.frequency),
        m_score=_shared_score(tiles["_m"], tiles.monetary),
    ).drop("_r", "_f", "_m")


def _segment(r_score: ir.IntegerValue, fm_score: ir.IntegerValue) -> ir.StringValue:
    branches = [
        ((r_score == r) & (fm_score == fm), segment_of(r, fm))
        for r in SEGMENT_GRID
        for fm in range(1, 6)
    ]
    return ibis.cases(*branches)


def rfm_scores(orders: ir.Table, *, as_of: date) -> ir.Table:
    """``customer_id, recency_days, frequency, monetary, r_score, f_score, m_score,
    rfm_cell, segment`` for every customer who bought before ``as_of``."""
    summary = customer_summary(orders, as_of=as_of)
    base = summary.select(
        "customer_id",
        "recency_days",
        frequency=summary.purchases.cast("int64"),
        monetary=summary.revenue,
    )
    scored = _scores(base)
    fm_score = (scored.f_score + scored.m_score + 1) // 2
    return scored.mutate(
        rfm_cell=scored.r_score.cast("string")
        + scored.f_score.cast("string")
        + scored.m_score.cast("string"),
        segment=_segment(scored.r_score, fm_score),
    )


def rfm_grid(customers: ir.Table) -> ir.Table:
    """``r_score, f_score, customers, avg_revenue``: how many customers sit in each cell
    of the recency × frequency grid, and their mean net revenue, by R then F.

    ``customers`` is a customer table (:func:`regulars.analytics.customer_table.
    customer_table`, or any table with ``r_score``, ``f_score`` and ``revenue``); the
    report's RFM grid and the dashboard's are this one query.
    """
    return (
        customers.group_by(["r_score", "f_score"])
        .aggregate(customers=customers.count(), avg_revenue=customers.revenue.mean())
        .order_by(["r_score", "f_score"])
    )
