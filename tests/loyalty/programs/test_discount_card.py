"""Discount card: the % for the next order from cumulative spend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from regulars.loyalty.program_types.discount_card import (
    DiscountCardConfig,
    cumulative_spend,
    discount_amount,
    next_order_discount,
    pct_for_spend,
)
from regulars.loyalty.program_types.history import Purchase, Return

CARD = DiscountCardConfig.model_validate(
    {
        "type": "discount_card",
        "steps": [
            {"threshold": "0", "pct": "5"},
            {"threshold": "10000", "pct": "7"},
            {"threshold": "25000", "pct": "10"},
        ],
    }
)


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def test_steps_of_the_example() -> None:
    """5 % from 0, 7 % from 10,000, 10 % from 25,000."""
    assert pct_for_spend(CARD, Decimal(0)) == 5
    assert pct_for_spend(CARD, Decimal("9999.99")) == 5
    assert pct_for_spend(CARD, Decimal("10000.00")) == 7
    assert pct_for_spend(CARD, Decimal("24999.99")) == 7
    assert pct_for_spend(CARD, Decimal(25000)) == 10


def test_crossing_order_pays_the_old_pct_and_returns_count_back() -> None:
    """Orders 6,000 (1 Mar) and 4,500 (1 Apr): before the second, spend 6,000 → 5 %;
    after it 10,500 → 7 % for the next order. A 1,000 return on 10 Apr: 9,500 → 5 % again.
    The 7 % order of 1,234.56 gets 86.4192 → 86.42 off (half-up)."""
    history = [
        Purchase("o1", "c", at(3, 1), Decimal(6000)),
        Purchase("o2", "c", at(4, 1), Decimal(4500)),
    ]
    assert next_order_discount(CARD, "c", history, [], at(4, 1)).pct == 5
    assert next_order_discount(CARD, "c", history, [], at(4, 2)).pct == 7
    assert next_order_discount(CARD, "someone-else", history, [], at(4, 2)).pct == 5
    returns = [Return("r1", "o2", "c", at(4, 10), Decimal(1000))]
    assert next_order_discount(CARD, "c", history, returns, at(4, 9)).pct == 7
    assert next_order_discount(CARD, "c", history, returns, at(4, 11)).pct == 5
    assert discount_amount(Decimal("1234.56"), Decimal(7)) == Decimal("86.42")
    assert discount_amount(Decimal("0.10"), Decimal(5)) == Decimal("0.01")  # 0.005 → 0.01


def test_rolling_window_forgets_old_spend() -> None:
    """A 365-day card: 12,000 on 1 Jan 2026 12:00 lies in [t − 365 d, t) for
    t up to 1 Jan 2027 12:00 (2026 has 365 days; the start is inclusive), not an hour later."""
    card = CARD.model_copy(update={"window_days": 365})
    history = [Purchase("o1", "c", at(1, 1), Decimal(12000))]
    assert cumulative_spend(card, "c", history, [], at(12, 31)) == 12000
    assert next_order_discount(card, "c", history, [], at(1, 1, 2027)).pct == 7
    later = at(1, 1, 2027) + timedelta(hours=1)
    assert next_order_discount(card, "c", history, [], later).pct == 5
    assert cumulative_spend(CARD, "c", history, [], at(1, 2, 2030)) == 12000


def test_steps_must_grow() -> None:
    with pytest.raises(ValidationError, match="strictly increase"):
        DiscountCardConfig.model_validate(
            {"steps": [{"threshold": 0, "pct": 5}, {"threshold": 100, "pct": 5}]}
        )
    with pytest.raises(ValidationError, match="pct"):
        DiscountCardConfig.model_validate({"steps": [{"threshold": 0, "pct": 120}]})
    with pytest.raises(ValueError, match="as_of: a timezone-aware"):
        next_order_discount(CARD, "c", [], [], datetime(2026, 1, 1))  # type: ignore[arg-type]
