"""Charity: donations, company matching with a monthly cap, the report per cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regulars.loyalty.program_types.charity import (
    CauseReport,
    CharityConfig,
    Donation,
    cause_report,
    donate,
    matches,
)

CHARITY = CharityConfig.model_validate(
    {
        "type": "charity",
        "point_value": "0.01",
        "causes": [
            {
                "code": "trees",
                "name": "Plant trees",
                "match_ratio": "1",
                "cap_points_per_period": 1000,
            },
            {"code": "food", "name": "Food bank", "match_ratio": "0.5"},
        ],
    }
)


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=UTC)


DONATIONS = [
    Donation("d1", "anna", "trees", 600, at(3, 3)),
    Donation("d2", "ben", "trees", 700, at(3, 10)),
    Donation("d3", "anna", "food", 333, at(3, 20)),
    Donation("d4", "ben", "trees", 200, at(4, 2)),
]


def test_matching_respects_the_monthly_cap_in_time_order() -> None:
    """trees 1:1 capped at 1,000/month: d1 600 → 600; d2 700 → 400 left of the cap;
    food 1:2: d3 333 → floor(166.5) = 166; April's cap is fresh: d4 200 → 200."""
    assert matches(CHARITY, reversed(DONATIONS)) == {"d1": 600, "d2": 400, "d3": 166, "d4": 200}


def test_report_per_cause_and_period() -> None:
    """March: trees 1,300 donated + 1,000 matched = 13.00 + 10.00 = 23.00;
    food 333 + 166 = 3.33 + 1.66 = 4.99. April: trees 200 + 200 = 4.00."""
    march = cause_report(CHARITY, DONATIONS, at(3, 1), at(4, 1))
    assert march == [
        CauseReport("trees", 2, 1300, 1000, Decimal("13.00"), Decimal("10.00"), Decimal("23.00")),
        CauseReport("food", 1, 333, 166, Decimal("3.33"), Decimal("1.66"), Decimal("4.99")),
    ]
    april = cause_report(CHARITY, DONATIONS, at(4, 1), at(5, 1))
    assert april[0] == CauseReport(
        "trees", 1, 200, 200, Decimal("2.00"), Decimal("2.00"), Decimal("4.00")
    )
    assert april[1].donations == 0


def test_donation_debit_and_checks() -> None:
    debit = donate(CHARITY, DONATIONS[0], balance=600)
    assert (debit.key, debit.points, debit.reason) == ("charity:d1", 600, "donation trees")
    with pytest.raises(ValueError, match="exceed the balance of 599"):
        donate(CHARITY, DONATIONS[0], balance=599)
    with pytest.raises(ValueError, match="'cats' is not a cause"):
        donate(CHARITY, Donation("d9", "a", "cats", 5, at(3, 1)), balance=10)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["trees", "food"]),
            st.integers(min_value=1, max_value=900),
            st.integers(min_value=0, max_value=120),
        ),
        max_size=40,
    )
)
def test_match_never_exceeds_ratio_or_monthly_cap(raw: list[tuple[str, int, int]]) -> None:
    donations = [
        Donation(f"d{i}", "c", cause, points, at(1, 1) + timedelta(days=offset))
        for i, (cause, points, offset) in enumerate(raw)
    ]
    matched = matches(CHARITY, donations)
    per_month: dict[tuple[int, int], int] = {}
    for d in donations:
        ratio = CHARITY.cause(d.cause).match_ratio
        assert 0 <= matched[d.donation_id] <= d.points * ratio
        if d.cause == "trees":
            month = (d.at.year, d.at.month)
            per_month[month] = per_month.get(month, 0) + matched[d.donation_id]
    assert all(total <= 1000 for total in per_month.values())
