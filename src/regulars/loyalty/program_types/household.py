"""Shared household card: who shares one account, and who may spend from it.

Members are the customers with the same ``customers.household_id``. They are ordered by
``joined_at`` (the customer's ``created_at``), ties by customer id; the first
``max_members`` of them share the account ``household:<household_id>`` and the first of
them is its **owner**. A customer without a household, or beyond ``max_members``, keeps a
personal account ``customer:<customer_id>``. Every member earns into the shared account;
who may spend from it:

* ``any_member``: every member, up to ``member_points_per_order`` per order for members
  other than the owner (None: no limit);
* ``owner_only``: only the owner; the others earn but cannot redeem.

The ledger keeps the shared account; this module only resolves and decides. Live,
:func:`regulars.loyalty.accounting.enrolment.holder_for` resolves every account with
:func:`resolve`, and :func:`regulars.loyalty.points.redemption.redeem` asks :func:`may_spend` with
the redemption's points plus what the account already spent on the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class HouseholdRules(BaseModel):
    """Who shares a household account and who may spend from it: the ``household``
    section of a points program's config (:class:`~regulars.loyalty.program_types.bonus.
    PointsProgramConfig`), used when the program has ``shared_household``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spend_policy: Literal["any_member", "owner_only"] = "any_member"
    max_members: Annotated[int, Field(ge=1, le=100)] = 6
    member_points_per_order: Annotated[int | None, Field(ge=1)] = None


@dataclass(frozen=True)
class HouseholdMember:
    """A customer with their ``household_id`` and when they joined (``created_at``)."""

    customer_id: str
    household_id: str | None
    joined_at: datetime


@dataclass(frozen=True)
class Household:
    """The account a customer earns into, its owner and its members in join order;
    ``household_id`` is set when it is the household's shared account."""

    account_key: str
    owner: str
    members: tuple[str, ...]
    household_id: str | None = None


@dataclass(frozen=True)
class SpendDecision:
    """Whether a redemption from the household account is allowed, and why."""

    allowed: bool
    reason: str


def members_of(
    config: HouseholdRules, household_id: str, customers: Iterable[HouseholdMember]
) -> tuple[str, ...]:
    """The customers who share ``household_id``'s account: the first ``max_members`` of
    its customers by ``(joined_at, customer_id)``; the first is the owner."""
    same = [c for c in customers if c.household_id == household_id]
    ordered = sorted(same, key=lambda c: (c.joined_at, c.customer_id))
    return tuple(c.customer_id for c in ordered[: config.max_members])


def resolve(
    config: HouseholdRules, customer: HouseholdMember, customers: Iterable[HouseholdMember]
) -> Household:
    """The account ``customer`` earns into and spends from, with its members."""
    personal = Household(
        f"customer:{customer.customer_id}", customer.customer_id, (customer.customer_id,)
    )
    if customer.household_id is None:
        return personal
    others = [c for c in customers if c.customer_id != customer.customer_id]
    members = members_of(config, customer.household_id, [*others, customer])
    if customer.customer_id not in members:
        return personal
    household_id = customer.household_id
    return Household(f"household:{household_id}", members[0], members, household_id)


def may_spend(
    config: HouseholdRules, household: Household, customer_id: str, points: int
) -> SpendDecision:
    """Whether ``customer_id`` may redeem ``points`` from the household's account in one order."""
    if customer_id not in household.members:
        return SpendDecision(False, f"{customer_id} is not a member of {household.account_key}")
    if customer_id == household.owner:
        return SpendDecision(True, "owner")
    if config.spend_policy == "owner_only":
        return SpendDecision(False, "only the account owner may spend")
    limit = config.member_points_per_order
    if limit is not None and points > limit:
        return SpendDecision(False, f"members may spend at most {limit} points per order")
    return SpendDecision(True, "member")
