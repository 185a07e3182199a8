"""Tiers / VIP club: hand-computed timelines of upgrades, grace and downgrades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from regulars.loyalty.program_types.earning import Tier
from regulars.loyalty.program_types.history import Purchase, Return
from regulars.loyalty.program_types.outcomes import Discount, Perk
from regulars.loyalty.program_types.tiers import (
    QualifyingEvent,
    TierClubConfig,
    TierState,
    benefits,
    earn_multiplier,
    evaluate,
    points_events,
    spend_events,
    window_value,
)

CLUB = TierClubConfig(
    code="vip",
    tiers=[
        Tier(name="silver", threshold=Decimal(500), discount_pct=Decimal(3)),
        Tier(
            name="gold",
            threshold=Decimal(2000),
            earn_multiplier=Decimal("1.5"),
            discount_pct=Decimal(5),
            perks=["personal_manager", "priority_service", "free_delivery"],
        ),
    ],
    window_days=365,
    grace_days=30,
)
START = TierState("eva", as_of=datetime(2025, 1, 1, tzinfo=UTC))


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def buy(order_id: str, when: datetime, amount: int) -> Purchase:
    return Purchase(order_id, "eva", when, Decimal(amount))


HISTORY = [
    buy("e1", at(2025, 1, 10), 300),
    buy("e2", at(2025, 2, 1), 250),
    buy("e3", at(2025, 6, 1), 1500),
    buy("e4", at(2026, 3, 1), 600),
]


Moves = list[tuple[str | None, str | None, datetime]]


def changes(
    now: datetime, history: list[Purchase] = HISTORY, returns: list[Return] | None = None
) -> tuple[TierState, Moves]:
    result = evaluate(CLUB, spend_events("eva", history, returns or []), START, now)
    return result.state, [(c.old, c.new, c.effective_at) for c in result.changes]


def test_timeline_up_at_once_down_after_window_and_grace() -> None:
    """window 365 d, grace 30 d, silver 500, gold 2,000:

    * 10 Jan 2025 300 → 300: no tier; 1 Feb 250 → 550: silver at once;
    * 1 Jun 2025 1,500 → 2,050: gold at once, its window runs to 1 Jun 2026;
    * 1 Jun 2026: value over (1 Jun 2025, 1 Jun 2026] = 600 (the 1,500 sits exactly on the
      open end) < 2,000 → grace to 1 Jul 2026; still 600 then → silver (≥ 500) on 1 Jul;
    * silver's window runs to 1 Jul 2027: value 0 → grace to 31 Jul 2027 → no tier.
    """
    state, moved = changes(at(2025, 12, 31))
    assert moved == [(None, "silver", at(2025, 2, 1)), ("silver", "gold", at(2025, 6, 1))]
    assert (state.tier, state.window_start, state.grace_until) == ("gold", at(2025, 6, 1), None)
    state, moved = changes(at(2026, 6, 30))
    assert (state.tier, state.grace_until) == ("gold", at(2026, 7, 1))
    assert window_value(CLUB, spend_events("eva", HISTORY, []), at(2026, 6, 1)) == 600
    state, moved = changes(at(2027, 8, 1))
    assert moved[2:] == [("gold", "silver", at(2026, 7, 1)), ("silver", None, at(2027, 7, 31))]
    assert (state.tier, state.window_start, state.grace_until, state.as_of) == (
        None,
        None,
        None,
        at(2027, 8, 1),
    )


def test_purchase_during_grace_keeps_the_tier() -> None:
    """Gold's window ends 1 Jun 2026 with 600 → grace. On 15 Jun 2026 she spends 1,500:
    (15 Jun 2025, 15 Jun 2026] holds 600 + 1,500 = 2,100 ≥ 2,000 → gold kept, the next
    window runs from 15 Jun 2026 to 15 Jun 2027."""
    history = [*HISTORY, buy("e5", at(2026, 6, 15), 1500)]
    state, moved = changes(at(2026, 12, 1), history)
    assert moved == [(None, "silver", at(2025, 2, 1)), ("silver", "gold", at(2025, 6, 1))]
    assert (state.tier, state.window_start, state.grace_until) == ("gold", at(2026, 6, 15), None)


def test_renewal_when_the_window_still_qualifies() -> None:
    """Silver from 1 Feb 2025; 1 Jan 2026 she buys 600: at 1 Feb 2026 the window
    (1 Feb 2025, 1 Feb 2026] holds 600 ≥ 500 → silver renewed until 1 Feb 2027."""
    history = [buy("a", at(2025, 2, 1), 550), buy("b", at(2026, 1, 1), 600)]
    state, moved = changes(at(2026, 3, 1), history)
    assert moved == [(None, "silver", at(2025, 2, 1))]
    assert (state.tier, state.window_start) == ("silver", at(2026, 2, 1))


def test_a_return_never_downgrades_before_the_window_ends() -> None:
    """Gold on 1 Jun 2025 with 2,050; returning 1,500 on 5 Jun leaves 550, but gold stays
    until its window ends (1 Jun 2026). Then grace to 1 Jul 2026, when the window
    (1 Jul 2025, 1 Jul 2026] holds nothing: straight from gold to no tier."""
    returns = [Return("r", "e3", "eva", at(2025, 6, 5), Decimal(1500))]
    history = HISTORY[:3]
    state, moved = changes(at(2025, 12, 1), history, returns)
    assert state.tier == "gold"
    state, moved = changes(at(2026, 7, 2), history, returns)
    assert moved[-1] == ("gold", None, at(2026, 7, 1))


def test_no_grace_downgrades_at_the_window_end_and_points_basis() -> None:
    """Points basis, no grace: 2,000 points on 1 Mar 2025 → gold; 600 on 1 Jan 2026; at
    1 Mar 2026 the window holds 600 → silver at once."""
    club = CLUB.model_copy(update={"basis": "points", "grace_days": 0})
    events = points_events([(at(2025, 3, 1), 2000), (at(2026, 1, 1), 600)])
    result = evaluate(club, events, START, at(2026, 4, 1))
    assert [(c.old, c.new, c.effective_at) for c in result.changes] == [
        (None, "gold", at(2025, 3, 1)),
        ("gold", "silver", at(2026, 3, 1)),
    ]
    assert result.changes[1].key == "tier:vip:eva:2026-03-01T12:00:00+00:00"


def test_benefits_and_multiplier() -> None:
    assert benefits(CLUB, None) == []
    assert benefits(CLUB, "gold") == [
        Perk("personal_manager"),
        Perk("priority_service"),
        Perk("free_delivery"),
        Discount(reason="tier gold", pct=Decimal(5)),
    ]
    assert earn_multiplier(CLUB, "gold") == Decimal("1.5")
    assert earn_multiplier(CLUB, None) == 1
    with pytest.raises(ValueError, match="'platinum' is not a tier"):
        benefits(CLUB, "platinum")


def test_config_rejects_unordered_tiers() -> None:
    with pytest.raises(ValidationError, match="strictly increasing threshold"):
        TierClubConfig(
            code="x",
            tiers=[Tier(name="b", threshold=Decimal(10)), Tier(name="a", threshold=Decimal(5))],
        )


events_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=1500), st.integers(min_value=-800, max_value=2500)
    ),
    max_size=25,
)


@given(events_strategy, st.lists(st.integers(min_value=0, max_value=1600), max_size=5))
def test_evaluating_in_steps_equals_evaluating_once(
    raw: list[tuple[int, int]], cuts: list[int]
) -> None:
    """Running the evaluation daily, weekly or once gives the same changes and end state,
    and consecutive changes chain (each starts where the previous ended)."""
    base = datetime(2025, 1, 1, tzinfo=UTC)
    events = [QualifyingEvent(base + timedelta(days=d, hours=1), Decimal(v)) for d, v in raw]
    end = base + timedelta(days=1700)
    once = evaluate(CLUB, events, TierState("eva", as_of=base), end)
    state, stepped = TierState("eva", as_of=base), []
    for cut in sorted(cuts):
        result = evaluate(CLUB, events, state, base + timedelta(days=cut))
        state, stepped = result.state, stepped + result.changes
    result = evaluate(CLUB, events, state, end)
    assert stepped + result.changes == once.changes
    assert result.state == once.state
    for before, after in zip(once.changes, once.changes[1:], strict=False):
        assert before.new == after.old
        assert before.effective_at < after.effective_at
