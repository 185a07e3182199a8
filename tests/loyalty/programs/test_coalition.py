"""Coalition partners: issue and accept points; settlement per partner and period."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from regulars.loyalty.program_types.coalition import (
    CoalitionConfig,
    Settlement,
    partner_earn,
    partner_redeem,
    settlement_report,
)

COALITION = CoalitionConfig.model_validate(
    {
        "type": "coalition",
        "partners": [
            {
                "code": "fuel",
                "name": "FuelCo",
                "earn_per_unit": "2",
                "issue_value": "0.008",
                "accepts_points": True,
                "redeem_value": "0.007",
            },
            {
                "code": "cinema",
                "name": "Cinema",
                "earn_per_unit": "1",
                "issue_value": "0.01",
                "accepts_points": True,
                "redeem_value": "0.0095",
            },
            {"code": "bakery", "name": "Bakery", "earn_per_unit": "1", "issue_value": "0.01"},
        ],
    }
)


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 15, tzinfo=UTC)


def test_settlement_worked_example() -> None:
    """March 2026.

    FuelCo issues floor(45.67 × 2) = 91 and floor(120.00 × 2) = 240 → 331 points,
    331 × 0.008 = 2.648 → owes the program 2.65; 500 points were paid at FuelCo,
    500 × 0.007 = 3.50 owed to it; net 2.65 − 3.50 = −0.85 (the program pays 0.85).
    Cinema issues floor(33.33) = 33 → 0.33; accepts 1,200 → 11.40; net −11.07.
    Bakery: nothing. The 1 April sale is outside the period.
    """
    txs = [
        partner_earn(COALITION, "fuel", "f1", Decimal("45.67"), at(3, 2))[0],
        partner_earn(COALITION, "fuel", "f2", Decimal("120.00"), at(3, 30))[0],
        partner_earn(COALITION, "fuel", "f3", Decimal("99.00"), at(4, 1))[0],
        partner_redeem(COALITION, "fuel", "f4", 500, 1000, at(3, 5))[0],
        partner_earn(COALITION, "cinema", "c1", Decimal("33.33"), at(3, 8))[0],
        partner_redeem(COALITION, "cinema", "c2", 1200, 5000, at(3, 9))[0],
    ]
    report = settlement_report(COALITION, txs, at(3, 1), at(4, 1))
    assert report == [
        Settlement("fuel", 331, Decimal("2.65"), 500, Decimal("3.50"), Decimal("-0.85")),
        Settlement("cinema", 33, Decimal("0.33"), 1200, Decimal("11.40"), Decimal("-11.07")),
        Settlement("bakery", 0, Decimal("0.00"), 0, Decimal("0.00"), Decimal("0.00")),
    ]


def test_partner_earn_and_redeem_outcomes() -> None:
    tx, earn = partner_earn(COALITION, "fuel", "f1", Decimal("45.67"), at(3, 2))
    assert (tx.kind, tx.points, tx.partner) == ("issue", 91, "fuel")
    assert earn is not None
    assert (earn.key, earn.points, earn.available_at) == ("partner:fuel:f1", 91, at(3, 2))
    assert partner_earn(COALITION, "fuel", "f0", Decimal("0.49"), at(3, 2))[1] is None
    _, debit = partner_redeem(COALITION, "cinema", "c2", 1200, 1200, at(3, 9))
    assert (debit.key, debit.points) == ("partner:cinema:c2", 1200)
    with pytest.raises(ValueError, match="bakery does not accept points"):
        partner_redeem(COALITION, "bakery", "b1", 10, 100, at(3, 9))
    with pytest.raises(ValueError, match="exceed the balance"):
        partner_redeem(COALITION, "fuel", "f9", 101, 100, at(3, 9))
    with pytest.raises(ValueError, match="'spa' is not a coalition partner"):
        partner_earn(COALITION, "spa", "s1", Decimal(1), at(3, 9))
