"""Liability, breakage, reward cost, ROI and break-even on a hand-built ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import ibis
import pyarrow as pa
import pytest

from regulars.analytics.validation import AnalysisArgumentError
from regulars.loyalty.economics.measures import (
    Baseline,
    break_even,
    breakage,
    liability,
    outstanding_points,
    points_flow,
    program_roi,
    reward_cost,
)

D = Decimal
PV = D("0.01")

# customer, kind, points, created_at, lot_id, expires_at
LEDGER = [
    ("a", "earn", 100, "2024-01-05", "L1", "2024-03-01"),
    ("a", "earn", 50, "2024-01-20", "L2", "2024-06-01"),
    ("a", "spend", -80, "2024-02-10", None, None),
    ("a", "reverse_earn", -10, "2024-02-15", "L2", None),
    ("b", "earn", 200, "2024-02-01", "L3", "2024-03-15"),
    ("a", "expire", -20, "2024-03-01", "L1", None),
    ("a", "reverse_spend", 30, "2024-03-05", None, None),
    ("b", "expire", -200, "2024-03-15", "L3", None),
    ("a", "adjust", 5, "2024-03-20", None, None),
]


def _ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@pytest.fixture
def entries(load: Callable[[pa.Table], ibis.Table]) -> ibis.Table:
    columns = list(zip(*LEDGER, strict=True))
    return load(
        pa.table(
            {
                "customer_id": pa.array(columns[0], pa.string()),
                "kind": pa.array(columns[1], pa.string()),
                "points": pa.array(columns[2], pa.int64()),
                "created_at": pa.array([_ts(t) for t in columns[3]], pa.timestamp("us")),
                "lot_id": pa.array(columns[4], pa.string()),
                "expires_at": pa.array([_ts(t) for t in columns[5]], pa.timestamp("us")),
            }
        )
    )


def test_monthly_flows_reconcile_to_the_balance(entries: ibis.Table) -> None:
    """January: 150 issued → 150 outstanding (1.50). February: 200 issued, 80 redeemed, 10
    taken back by a return → 260 (2.60). March: 20 + 200 expired, 30 re-credited, +5
    adjusted → 75 (0.75) = a's 100 + 50 − 80 − 10 − 20 + 30 + 5; b has 0."""
    flows = points_flow(entries, date(2024, 1, 1), date(2024, 4, 1), PV)
    assert [f.period_start for f in flows] == [date(2024, m, 1) for m in (1, 2, 3)]
    jan, feb, mar = flows
    assert (jan.issued, jan.outstanding_end, jan.liability_end) == (150, 150, D("1.50"))
    assert (feb.issued, feb.redeemed, feb.reversed, feb.outstanding_end) == (200, 80, 10, 260)
    assert (mar.expired, mar.recredited, mar.adjusted) == (220, 30, 5)
    assert (mar.outstanding_end, mar.liability_end) == (75, D("0.75"))


def test_flows_start_from_the_opening_balance(entries: ibis.Table) -> None:
    (mar,) = points_flow(entries, date(2024, 3, 1), date(2024, 4, 1), PV)
    assert mar.outstanding_end == 75  # 260 brought forward − 185


def test_outstanding_and_liability_at_a_moment(entries: ibis.Table) -> None:
    """Before 2024-03-01 (the expiry of that day not yet): 150 + 200 − 80 − 10 = 260."""
    assert outstanding_points(entries, date(2024, 3, 1)) == 260
    assert liability(entries, date(2024, 3, 1), PV) == D("2.60")
    assert liability(entries, date(2030, 1, 1), D("0.005")) == D("0.375")


def test_breakage_of_lots_that_ended(entries: ibis.Table) -> None:
    """March ends L1 (100 earned, 20 expired → 80 redeemed) and L3 (200 earned, all
    expired): 220 / (220 + 80) = 73.3 %. L2 ends in June: 50 earned, 10 taken back by a
    return, never expired → 40 redeemed → 0 %. Nothing ended before March: no rate."""
    march = breakage(entries, date(2024, 3, 1), date(2024, 4, 1))
    assert (march.lots, march.earned, march.expired, march.redeemed) == (2, 300, 220, 80)
    assert march.rate == pytest.approx(220 / 300)
    june = breakage(entries, date(2024, 6, 1), date(2024, 7, 1))
    assert (june.reversed, june.redeemed, june.rate) == (10, 40, 0.0)
    assert breakage(entries, date(2024, 1, 1), date(2024, 3, 1)).rate is None


def test_reward_cost_nets_recredits(entries: ibis.Table) -> None:
    """80 redeemed in February, 30 re-credited by a return in March → 50 points = 0.50."""
    assert reward_cost(entries, date(2024, 2, 1), date(2024, 4, 1), PV) == D("0.50")
    assert reward_cost(entries, date(2024, 2, 1), date(2024, 3, 1), PV) == D("0.80")


def test_missing_columns_are_named(load: Callable[[pa.Table], ibis.Table]) -> None:
    table = load(pa.table({"customer_id": ["a"], "points": pa.array([1], pa.int64())}))
    with pytest.raises(AnalysisArgumentError, match="kind, created_at, lot_id, expires_at"):
        outstanding_points(table, date(2024, 1, 1))


def test_program_roi() -> None:
    """Cost 1,000, incremental revenue 3,000 at 40 % margin → profit 1,200, net 200,
    ROI 20 %. Without a margin the answer is on revenue: 3,000 − 1,000 = 2,000."""
    roi = program_roi(D(1000), D(3000), D("0.4"))
    assert (roi.incremental_profit, roi.net_benefit, roi.roi) == (D("1200.00"), D("200.00"), 0.2)
    assert roi.pays_for_itself
    on_revenue = program_roi(D(1000), D(3000), None)
    assert on_revenue.basis == "revenue"
    assert on_revenue.net_benefit == D("2000.00")
    assert not program_roi(D(1000), D(2000), D("0.4")).pays_for_itself


def test_break_even_worked_example() -> None:
    """The docstring's example: C = 1,000, m = 0.4 → R* = 2,500 = +5 % of 50,000; AOV 50
    → 50 orders; v = 50 × 300 / 200 = 75 → 33.3 repeat buyers / 800 = +4.17 points."""
    baseline = Baseline(
        buyers=800, orders=1000, revenue=D(50000), repeat_buyers=200, repeat_orders=300
    )
    result = break_even(D(1000), D("0.4"), baseline)
    assert result.required_revenue == D("2500.00")
    assert result.required_revenue_lift_pct == pytest.approx(5.0)
    assert result.required_orders == pytest.approx(50.0)
    assert result.required_repeat_rate_points == pytest.approx(2500 / 75 / 800 * 100)
    no_margin = break_even(D(1000), None, baseline)
    assert (no_margin.basis, no_margin.required_revenue) == ("revenue", D("1000.00"))
    nobody_repeats = Baseline(
        buyers=10, orders=10, revenue=D(100), repeat_buyers=0, repeat_orders=0
    )
    assert break_even(D(10), D("0.5"), nobody_repeats).required_repeat_rate_points is None
