"""Paid membership: periods, renewal, cancellation and plan changes with exact proration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regulars.loyalty.program_types.membership import (
    MembershipConfig,
    benefits,
    cancel,
    change_plan,
    is_active,
    period_end,
    renew,
    subscribe,
    unused_refund,
)
from regulars.loyalty.program_types.outcomes import Charge, Perk, Refund

CLUB = MembershipConfig.model_validate(
    {
        "type": "membership",
        "code": "plus",
        "plans": [
            {"code": "monthly", "price": "9.99", "period": "month", "earn_multiplier": "2"},
            {
                "code": "premium",
                "price": "19.99",
                "period": "month",
                "earn_multiplier": "3",
                "perks": ["free_delivery"],
            },
            {"code": "yearly", "price": "99.00", "period": "year", "earn_multiplier": "2"},
        ],
    }
)
JAN31 = datetime(2026, 1, 31, 10, tzinfo=UTC)


def test_monthly_periods_clamp_and_renew() -> None:
    """31 Jan → 28 Feb (clamped) → 28 Mar: two renewals by 1 Apr, each charged 9.99."""
    sub, first = subscribe(CLUB, "mia", "monthly", JAN31)
    assert first == Charge(
        "membership:plus:mia:2026-01-31T10:00:00+00:00", Decimal("9.99"), "membership monthly"
    )
    assert sub.period_end == datetime(2026, 2, 28, 10, tzinfo=UTC)
    sub, charges = renew(CLUB, sub, datetime(2026, 4, 1, tzinfo=UTC))
    assert [c.key for c in charges] == [
        "membership:plus:mia:2026-02-28T10:00:00+00:00",
        "membership:plus:mia:2026-03-28T10:00:00+00:00",
    ]
    assert (sub.period_start, sub.period_end) == (
        datetime(2026, 3, 28, 10, tzinfo=UTC),
        datetime(2026, 4, 28, 10, tzinfo=UTC),
    )
    assert renew(CLUB, sub, datetime(2026, 4, 1, tzinfo=UTC)) == (sub, [])


def test_benefits_only_while_active() -> None:
    sub, _ = subscribe(CLUB, "mia", "premium", JAN31)
    assert benefits(CLUB, sub, JAN31 + timedelta(days=3)) == (Decimal(3), [Perk("free_delivery")])
    assert benefits(CLUB, sub, JAN31 - timedelta(seconds=1)) == (Decimal(1), [])
    assert not is_active(sub, sub.period_end)


def test_cancel_at_period_end_then_it_stops() -> None:
    sub, _ = subscribe(CLUB, "mia", "monthly", JAN31)
    sub, refunds = cancel(CLUB, sub, JAN31 + timedelta(days=10), immediate=False)
    assert refunds == []
    sub, charges = renew(CLUB, sub, datetime(2026, 6, 1, tzinfo=UTC))
    assert (charges, sub.ended_at) == ([], datetime(2026, 2, 28, 10, tzinfo=UTC))
    with pytest.raises(ValueError, match="already ended"):
        cancel(CLUB, sub, datetime(2026, 6, 1, tzinfo=UTC), immediate=True)


def test_immediate_cancellation_prorates_by_days_rounding_down() -> None:
    """Yearly 99.00 from 1 Mar 2026 (365 days). Cancelled on 11 Mar: days 1..11 used,
    354 unused: 99 × 354 / 365 = 96.0164… → refund 96.01, kept 2.99."""
    start = datetime(2026, 3, 1, 8, tzinfo=UTC)
    sub, _ = subscribe(CLUB, "mia", "yearly", start)
    sub, [refund] = cancel(CLUB, sub, datetime(2026, 3, 11, 20, tzinfo=UTC), immediate=True)
    assert refund.amount == Decimal("96.01")
    assert sub.ended_at == datetime(2026, 3, 11, 20, tzinfo=UTC)
    assert not is_active(sub, datetime(2026, 3, 12, tzinfo=UTC))


def test_upgrade_and_downgrade_inside_a_month() -> None:
    """Monthly 9.99 from 1 Apr (30 days); on 16 Apr days 1..16 used, 14 unused.
    Credit 9.99 × 14/30 = 4.662 → 4.66; premium 19.99 × 14/30 = 9.3286… → 9.32;
    upgrade charges 9.32 − 4.66 = 4.66. Going back on the same day refunds 4.66."""
    start = datetime(2026, 4, 1, 9, tzinfo=UTC)
    sub, _ = subscribe(CLUB, "mia", "monthly", start)
    day16 = datetime(2026, 4, 16, 12, tzinfo=UTC)
    up, [charge] = change_plan(CLUB, sub, "premium", day16)
    assert isinstance(charge, Charge)
    assert (charge.amount, up.plan, up.period_end) == (Decimal("4.66"), "premium", sub.period_end)
    down, [refund] = change_plan(CLUB, up, "monthly", day16)
    assert isinstance(refund, Refund)
    assert (refund.amount, down.plan) == (Decimal("4.66"), "monthly")


def test_switch_to_yearly_starts_a_new_period() -> None:
    """Monthly → yearly on 16 Apr: 99.00 − 4.66 credit = 94.34, new period to 16 Apr 2027."""
    sub, _ = subscribe(CLUB, "mia", "monthly", datetime(2026, 4, 1, 9, tzinfo=UTC))
    day16 = datetime(2026, 4, 16, 12, tzinfo=UTC)
    yearly, [charge] = change_plan(CLUB, sub, "yearly", day16)
    assert charge.amount == Decimal("94.34")
    assert (yearly.period_start, yearly.period_end) == (
        day16,
        datetime(2027, 4, 16, 12, tzinfo=UTC),
    )
    with pytest.raises(ValueError, match="'gold' is not a plan"):
        change_plan(CLUB, sub, "gold", day16)
    with pytest.raises(ValueError, match="renew the membership first"):
        change_plan(CLUB, sub, "premium", datetime(2026, 6, 1, tzinfo=UTC))


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10000), places=2)


@given(
    prices,
    st.sampled_from(["monthly", "yearly"]),
    st.integers(min_value=0, max_value=800),
    st.integers(min_value=0, max_value=400 * 24),
)
def test_proration_sums_to_the_price(price: Decimal, plan: str, start_day: int, hours: int) -> None:
    """refund + kept = price, 0 ≤ refund < price (the started day is used), cents only, and
    the refund never grows as time passes."""
    start = datetime(2024, 1, 1, 7, tzinfo=UTC) + timedelta(days=start_day)
    end = period_end(CLUB.plan(plan), start)
    moment = start + timedelta(hours=hours)
    refund = unused_refund(price, start, end, moment)
    kept = price - refund
    assert refund + kept == price
    assert Decimal(0) <= refund < price
    assert refund.as_tuple().exponent == -2
    assert unused_refund(price, start, end, moment + timedelta(hours=13)) <= refund
    if moment >= end:
        assert refund == 0
