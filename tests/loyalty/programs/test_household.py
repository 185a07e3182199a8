"""Shared household card: who shares the account and who may spend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from regulars.loyalty.program_types.household import (
    HouseholdMember,
    HouseholdRules,
    may_spend,
    resolve,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CUSTOMERS = [
    HouseholdMember("dad", "h-7", T0 + timedelta(days=3)),
    HouseholdMember("mum", "h-7", T0),
    HouseholdMember("kid", "h-7", T0 + timedelta(days=3)),
    HouseholdMember("aunt", "h-7", T0 + timedelta(days=9)),
    HouseholdMember("solo", None, T0),
    HouseholdMember("other", "h-8", T0),
]


def test_members_by_join_time_and_the_first_is_owner() -> None:
    """mum joined first; dad and kid the same day (ordered by id: dad < kid); aunt last."""
    household = resolve(HouseholdRules(), CUSTOMERS[2], CUSTOMERS)
    assert household.account_key == "household:h-7"
    assert household.owner == "mum"
    assert household.members == ("mum", "dad", "kid", "aunt")


def test_no_household_or_over_the_limit_means_a_personal_account() -> None:
    config = HouseholdRules(max_members=3)
    assert resolve(config, CUSTOMERS[4], CUSTOMERS).account_key == "customer:solo"
    aunt = resolve(config, CUSTOMERS[3], CUSTOMERS)
    assert (aunt.account_key, aunt.members) == ("customer:aunt", ("aunt",))
    assert resolve(config, CUSTOMERS[0], CUSTOMERS).members == ("mum", "dad", "kid")


def test_spend_rules() -> None:
    household = resolve(HouseholdRules(), CUSTOMERS[1], CUSTOMERS)
    limited = HouseholdRules(member_points_per_order=500)
    assert may_spend(limited, household, "mum", 10_000).allowed
    assert may_spend(limited, household, "kid", 500).allowed
    decision = may_spend(limited, household, "kid", 501)
    assert (decision.allowed, decision.reason) == (
        False,
        "members may spend at most 500 points per order",
    )
    owner_only = HouseholdRules(spend_policy="owner_only")
    assert not may_spend(owner_only, household, "dad", 1).allowed
    assert may_spend(owner_only, household, "mum", 1).allowed
    outsider = may_spend(HouseholdRules(), household, "other", 1)
    assert (outsider.allowed, outsider.reason) == (False, "other is not a member of household:h-7")
