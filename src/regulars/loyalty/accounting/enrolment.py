"""Enrolment and holders: whose account a customer's points go to (a customer's own, or
their household's shared card), finding it, and opening it on enrolment (once, safe under
concurrency; never for the control group) or opting it out and back in.

**Holder of an account.** In a program without a shared household card every customer has
their own account. With ``shared_household`` a customer whose ``customers.household_id`` is
set is a *member* of the household when they are among its first ``household.max_members``
customers by ``created_at`` (ties by customer id; the first is the owner), exactly as
:func:`regulars.loyalty.program_types.household.resolve` decides: members earn into and spend
from the household's account (``household_id`` set, ``customer_id`` null). The household's
other customers, and customers without a household, have their own account. Membership is
evaluated *now*: a customer who leaves the household uses their own account from then on;
what they earned while a member stays with the household.

**Control group.** A customer the program holds out (drawn by
:mod:`regulars.loyalty.accounting.control`) and without an account is never enrolled
(:func:`held_out`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting.control import control_share, control_unit, in_control_group
from regulars.loyalty.catalogue import household_rules
from regulars.loyalty.errors import ControlGroupError
from regulars.loyalty.program_types.household import (
    Household,
    HouseholdMember,
    HouseholdRules,
    resolve,
)
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyProgram
from regulars.store.tables import Customer
from regulars.store.upsert import dialect_insert


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


def held_out(session: Session, program: LoyaltyProgram, customer_id: str) -> bool:
    """Whether ``customer_id`` is in the program's control group (their
    :func:`control_unit` is drawn) and has no account."""
    share = control_share(program)
    if share == 0:
        return False
    if not in_control_group(control_unit(session, program, customer_id), program.code, share):
        return False
    return find_account(session, program, customer_id) is None


def enroll(session: Session, program: LoyaltyProgram, customer_id: str) -> LoyaltyAccount:
    """The customer's account in ``program``, created if missing (safe under concurrency:
    ``INSERT … ON CONFLICT DO NOTHING`` on the unique holder key). Does not re-activate an
    opted-out account; :class:`~regulars.loyalty.errors.ControlGroupError` for a customer of
    the control group."""
    if held_out(session, program, customer_id):
        raise ControlGroupError(
            f"customer '{customer_id}' is in the control group of program '{program.code}': "
            "no account, no points"
        )
    holder = holder_for(session, program, customer_id)
    session.execute(
        dialect_insert(session, LoyaltyAccount)
        .values(
            program_id=program.id,
            customer_id=holder.customer_id,
            household_id=holder.household_id,
            state="active",
            balance=0,
            debt=0,
            enrolled_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    account: LoyaltyAccount = session.scalars(
        account_query(program.id, holder).execution_options(populate_existing=True)
    ).one()
    return account


def set_opted_out(
    session: Session, program: LoyaltyProgram, customer_id: str, opted_out: bool
) -> LoyaltyAccount:
    """Opt the account out (no earning or redeeming; the balance is kept) or back in."""
    account = enroll(session, program, customer_id)
    account.state = "opted_out" if opted_out else "active"
    account.opted_out_at = utcnow() if opted_out else None
    session.flush()
    return account
