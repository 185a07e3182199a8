"""Referral: rewards after the first paid order's return window, limits, self-referral."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from regulars.loyalty.program_types.history import Purchase, Return
from regulars.loyalty.program_types.referral import (
    Identity,
    Referral,
    ReferralConfig,
    decide,
    self_referral_reason,
)

CONFIG = ReferralConfig(
    referrer_points=500,
    referee_points=300,
    return_window_days=14,
    min_order_amount=Decimal(20),
    max_rewards_per_referrer=3,
    max_rewards_per_period=2,
    period_days=30,
)
T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)
ANNA = Identity("anna", email="Anna@Example.com", phone="+49 30 1234", household_id="h1")
BEN = Identity("ben", email="ben@example.com", phone="+49 30 9999")
REFERRAL = Referral("anna", "ben", T0)
FIRST = Purchase("b1", "ben", T0 + timedelta(days=2), Decimal("49.90"))


def test_pending_until_the_first_order_then_its_return_window() -> None:
    """Referral on 1 Apr; Ben's first order on 3 Apr 09:00 → due 17 Apr 09:00."""
    nothing = decide(CONFIG, REFERRAL, ANNA, BEN, [], [], [], T0 + timedelta(days=1))
    assert (nothing.status, nothing.reason) == ("pending", "no paid order yet")
    due = FIRST.at + timedelta(days=14)
    early = decide(CONFIG, REFERRAL, ANNA, BEN, [FIRST], [], [], due - timedelta(seconds=1))
    assert (early.status, early.due_at, early.rewards) == ("pending", due, [])
    done = decide(CONFIG, REFERRAL, ANNA, BEN, [FIRST], [], [], due)
    assert done.status == "rewarded"
    assert [(e.key, e.points, e.available_at) for e in done.rewards] == [
        ("referral:ben:referrer", 500, due),
        ("referral:ben:referee", 300, due),
    ]


def test_first_order_returned_or_too_small_is_rejected() -> None:
    """49.90 with 30.00 returned leaves 19.90 < 20 → rejected; a 15.00 first order too."""
    late = T0 + timedelta(days=30)
    returns = [Return("r", "b1", "ben", T0 + timedelta(days=5), Decimal(30))]
    decision = decide(CONFIG, REFERRAL, ANNA, BEN, [FIRST], returns, [], late)
    assert (decision.status, decision.reason) == ("rejected", "first order returned")
    small = Purchase("b0", "ben", T0 + timedelta(days=1), Decimal(15))
    decision = decide(CONFIG, REFERRAL, ANNA, BEN, [small, FIRST], [], [], late)
    assert (decision.status, decision.reason) == ("rejected", "first order below 20")


def test_existing_customer_is_not_a_referral() -> None:
    old = Purchase("b0", "ben", T0 - timedelta(days=100), Decimal(80))
    decision = decide(CONFIG, REFERRAL, ANNA, BEN, [old, FIRST], [], [], T0 + timedelta(days=30))
    assert (decision.status, decision.reason) == ("rejected", "existing customer")


def test_referrer_limits_per_period_and_in_total() -> None:
    """Due 17 Apr. Two rewards on 20 Mar and 10 Apr: both inside (18 Mar, 17 Apr] → period
    limit 2 reached, only Ben is rewarded. With rewards on 1 Jan, 1 Feb and 1 Mar the total
    limit of 3 is reached."""
    due = FIRST.at + timedelta(days=14)
    recent = [datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC)]
    decision = decide(CONFIG, REFERRAL, ANNA, BEN, [FIRST], [], recent, due)
    assert decision.reason == "referee only: referrer limit of 2 per period reached"
    assert [e.key for e in decision.rewards] == ["referral:ben:referee"]
    spread = [datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3)]
    decision = decide(CONFIG, REFERRAL, ANNA, BEN, [FIRST], [], spread, due)
    assert decision.reason == "referee only: referrer limit of 3 reached"
    one_old = [datetime(2026, 3, 17, 9, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC)]
    assert decide(CONFIG, REFERRAL, ANNA, BEN, [FIRST], [], one_old, due).reason == "both rewarded"


@pytest.mark.parametrize(
    ("referee", "reason"),
    [
        (Identity("anna"), "same customer"),
        (Identity("x", email="  anna@example.COM "), "same email"),
        (Identity("x", phone="+4930-1234"), "same phone"),
        (Identity("x", household_id="h1"), "same household"),
        (
            Identity("x", payment_fingerprints=frozenset({"card:ab12"})),
            "same payment fingerprint",
        ),
    ],
)
def test_self_referral_detection(referee: Identity, reason: str) -> None:
    anna = Identity(
        ANNA.customer_id,
        ANNA.email,
        ANNA.phone,
        ANNA.household_id,
        frozenset({"card:ab12", "card:ff00"}),
    )
    assert self_referral_reason(anna, referee) == reason
    decision = decide(
        CONFIG, Referral("anna", referee.customer_id, T0), anna, referee, [], [], [], T0
    )
    assert (decision.status, decision.reason) == ("rejected", f"self-referral: {reason}")


def test_strangers_are_not_self_referrals() -> None:
    assert self_referral_reason(ANNA, BEN) is None
    assert self_referral_reason(Identity("a", email=" "), Identity("b", email=" ")) is None
