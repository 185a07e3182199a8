"""Whose account: the holder (a customer, or a household with a shared card) of a
customer's account in a program, and finding that account.

**Holder of an account.** In a program without a shared household card every customer has
their own account. With ``shared_household`` a customer whose ``customers.household_id`` is
set is a *member* of the household when they are among its first ``household.max_members``
customers by ``created_at`` (ties by customer id; the first is the owner), exactly as
:func:`regulars.loyalty.program_types.household.resolve` decides: members earn into and spend
from the household's account (``household_id`` set, ``customer_id`` null). The household's
other customers, and customers without a household, have their own account. Membership is
evaluated *now*: a customer who leaves the household uses their own account from then on;
what they earned while a member stays with the household.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from regulars.loyalty.catalogue import household_rules
from regulars.loyalty.program_types.household import (
    Household,
    HouseholdMember,
    HouseholdRules,
    resolve,
)
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyProgram
from regulars.store.tables import Customer


@dataclass(frozen=True)
class Holder:
    """Whose account: exactly one of the two is set."""

    customer_id: str | None
    household_id: str | None


_MEMBER_COLUMNS = (Customer.customer_id, Customer.household_id, Customer.created_at)


def _household_customers(db: Session | Connection, household_id: str) -> list[HouseholdMember]:
    rows = db.execute(select(*_MEMBER_COLUMNS).where(Customer.household_id == household_id))
    return [HouseholdMember(c, h, joined) for c, h, joined in rows]


def household_of(
    db: Session | Connection, rules: HouseholdRules, customer_id: str
) -> Household | None:
    """``customer_id``'s household account under ``rules`` (:func:`~regulars.loyalty.
    programs.household.resolve`); None when they have no household or are beyond its
    ``max_members`` (a personal account). ``db`` may be a session or a connection."""
    row = db.execute(select(*_MEMBER_COLUMNS).where(Customer.customer_id == customer_id)).first()
    if row is None or not row.household_id:
        return None
    customer = HouseholdMember(row.customer_id, row.household_id, row.created_at)
    household = resolve(rules, customer, _household_customers(db, row.household_id))
    return household if household.household_id is not None else None


def holder_of(
    db: Session | Connection, shared: bool, rules: HouseholdRules, customer_id: str
) -> Holder:
    """The holder of ``customer_id``'s account in a program with ``shared_household`` =
    ``shared`` and household ``rules`` (see the module docstring)."""
    household = household_of(db, rules, customer_id) if shared else None
    if household is not None:
        return Holder(None, household.household_id)
    return Holder(customer_id, None)


def holder_for(session: Session, program: LoyaltyProgram, customer_id: str) -> Holder:
    """The holder of ``customer_id``'s account in ``program`` (see the module docstring)."""
    if not program.shared_household:
        return Holder(customer_id, None)
    return holder_of(session, True, household_rules(program.type, program.config), customer_id)


def account_query(program_id: int, holder: Holder) -> Any:
    query = select(LoyaltyAccount).where(LoyaltyAccount.program_id == program_id)
    if holder.customer_id is not None:
        return query.where(LoyaltyAccount.customer_id == holder.customer_id)
    return query.where(LoyaltyAccount.household_id == holder.household_id)


def find_account(
    session: Session, program: LoyaltyProgram, customer_id: str
) -> LoyaltyAccount | None:
    holder = holder_for(session, program, customer_id)
    found: LoyaltyAccount | None = session.scalars(account_query(program.id, holder)).one_or_none()
    return found


def program_of_account(session: Session, account_id: int) -> LoyaltyProgram:
    return session.scalars(
        select(LoyaltyProgram)
        .join(LoyaltyAccount, LoyaltyAccount.program_id == LoyaltyProgram.id)
        .where(LoyaltyAccount.id == account_id)
    ).one()
