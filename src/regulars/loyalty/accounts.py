"""Programs and accounts: which account a customer's points go to.

A program's ``config`` is validated by the pydantic model of its ``type``: ``points``
(:class:`~regulars.loyalty.rules.PointsRules`) and the program types of
:mod:`regulars.loyalty.programs` that :mod:`regulars.loyalty.live` runs.

**Holder of an account.** In a program without a shared household card every customer has
their own account. With ``shared_household`` a customer whose ``customers.household_id`` is
set earns into and spends from the household's account (``household_id`` set,
``customer_id`` null); its holders are the customers whose ``household_id`` is that value
*now*. A customer who leaves the household uses their own account from then on; what they
earned while a member stays with the household. A customer without a household always has
their own account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from regulars.errors import RegularsError
from regulars.loyalty.holdout import in_control_group
from regulars.loyalty.models import SHORTFALL_POLICIES, LoyaltyAccount, LoyaltyProgram
from regulars.loyalty.programs import (
    BadgesConfig,
    CharityConfig,
    CoalitionConfig,
    DiscountCardConfig,
    DrawConfig,
    GiftsConfig,
    MembershipConfig,
    ReferralConfig,
    StampCardConfig,
    TierClubConfig,
)
from regulars.loyalty.rules import PointsRules
from regulars.store.models import Customer
from regulars.store.types import utcnow

_CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "points": PointsRules,
    # Run live by regulars.loyalty.live (listed here, not registered on import, so that
    # creating one never depends on which modules happened to be loaded).
    "discount_card": DiscountCardConfig,
    "stamp_card": StampCardConfig,
    "tiers": TierClubConfig,
    "badges": BadgesConfig,
    "gifts": GiftsConfig,
    "coalition": CoalitionConfig,
    "charity": CharityConfig,
    "draw": DrawConfig,
    "membership": MembershipConfig,
    "referral": ReferralConfig,
}


class ProgramError(RegularsError):
    """A program that cannot be created or found."""


class ControlGroupError(ProgramError):
    """The customer is in the program's control group: no account, no points."""


def program_types() -> list[str]:
    return sorted(_CONFIG_MODELS)


def validate_config(program_type: str, config: dict[str, Any]) -> BaseModel:
    """The validated config; raises :class:`ProgramError` for an unknown type and
    :class:`pydantic.ValidationError` for a bad config."""
    model = _CONFIG_MODELS.get(program_type)
    if model is None:
        raise ProgramError(
            f"unknown program type '{program_type}'; known: {', '.join(program_types())}"
        )
    return model.model_validate(config)


@dataclass(frozen=True)
class ProgramSpec:
    code: str
    name: str
    type: str
    config: dict[str, Any]
    currency: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    shared_household: bool = False
    shortfall_policy: str = "allow_negative"
    active: bool = True


def create_program(session: Session, spec: ProgramSpec) -> LoyaltyProgram:
    """Store a new program; :class:`ProgramError` when the code is taken."""
    if spec.shortfall_policy not in SHORTFALL_POLICIES:
        raise ProgramError(
            f"unknown shortfall_policy '{spec.shortfall_policy}'; "
            f"use {', '.join(SHORTFALL_POLICIES)}"
        )
    config = validate_config(spec.type, spec.config)
    if find_program(session, spec.code) is not None:
        raise ProgramError(f"a program with code '{spec.code}' exists")
    if spec.starts_at and spec.ends_at and spec.ends_at <= spec.starts_at:
        raise ProgramError("ends_at must be after starts_at")
    program = LoyaltyProgram(
        code=spec.code,
        name=spec.name,
        type=spec.type,
        config=config.model_dump(mode="json"),
        active=spec.active,
        starts_at=spec.starts_at or utcnow(),
        ends_at=spec.ends_at,
        currency=spec.currency,
        shared_household=spec.shared_household,
        shortfall_policy=spec.shortfall_policy,
        created_at=utcnow(),
    )
    session.add(program)
    session.flush()
    return program


def find_program(session: Session, code: str) -> LoyaltyProgram | None:
    return session.scalars(select(LoyaltyProgram).where(LoyaltyProgram.code == code)).one_or_none()


def list_programs(session: Session) -> list[LoyaltyProgram]:
    return list(session.scalars(select(LoyaltyProgram).order_by(LoyaltyProgram.id)))


def points_rules(program: LoyaltyProgram) -> PointsRules:
    """The earning rules of a ``points`` program."""
    if program.type != "points":
        raise ProgramError(f"program '{program.code}' is a '{program.type}' program, not points")
    return PointsRules.model_validate(program.config)


def running_points_programs(session: Session, at: datetime) -> list[LoyaltyProgram]:
    """Active ``points`` programs running at ``at``, oldest first."""
    query = (
        select(LoyaltyProgram)
        .where(
            LoyaltyProgram.type == "points",
            LoyaltyProgram.active.is_(True),
            LoyaltyProgram.starts_at <= at,
        )
        .order_by(LoyaltyProgram.id)
    )
    return [p for p in session.scalars(query) if p.ends_at is None or at < p.ends_at]


def default_program(session: Session) -> LoyaltyProgram | None:
    """The program an account request without ``?program=`` means: the oldest active one."""
    return session.scalars(
        select(LoyaltyProgram)
        .where(LoyaltyProgram.active.is_(True))
        .order_by(LoyaltyProgram.id)
        .limit(1)
    ).first()


@dataclass(frozen=True)
class Holder:
    """Whose account: exactly one of the two is set."""

    customer_id: str | None
    household_id: str | None


def holder_for(session: Session, program: LoyaltyProgram, customer_id: str) -> Holder:
    """The holder of ``customer_id``'s account in ``program`` (see the module docstring)."""
    if program.shared_household:
        household = session.scalar(
            select(Customer.household_id).where(Customer.customer_id == customer_id)
        )
        if household:
            return Holder(None, household)
    return Holder(customer_id, None)


def holder_customers(session: Session, account: LoyaltyAccount) -> list[str]:
    """The customers who earn into and spend from ``account``."""
    if account.customer_id is not None:
        return [account.customer_id]
    return list(
        session.scalars(
            select(Customer.customer_id)
            .where(Customer.household_id == account.household_id)
            .order_by(Customer.customer_id)
        )
    )


def _account_query(program_id: int, holder: Holder) -> Any:
    query = select(LoyaltyAccount).where(LoyaltyAccount.program_id == program_id)
    if holder.customer_id is not None:
        return query.where(LoyaltyAccount.customer_id == holder.customer_id)
    return query.where(LoyaltyAccount.household_id == holder.household_id)


def find_account(
    session: Session, program: LoyaltyProgram, customer_id: str
) -> LoyaltyAccount | None:
    holder = holder_for(session, program, customer_id)
    found: LoyaltyAccount | None = session.scalars(_account_query(program.id, holder)).one_or_none()
    return found


def control_share(program: LoyaltyProgram) -> float:
    """The program's control share (0 for program types without one)."""
    if program.type != "points":
        return 0.0
    return float(points_rules(program).control_share)


def held_out(session: Session, program: LoyaltyProgram, customer_id: str) -> bool:
    """Whether ``customer_id`` is in the program's control group and has no account."""
    share = control_share(program)
    if share == 0 or not in_control_group(customer_id, program.code, share):
        return False
    return find_account(session, program, customer_id) is None


def enroll(session: Session, program: LoyaltyProgram, customer_id: str) -> LoyaltyAccount:
    """The customer's account in ``program``, created if missing (safe under concurrency:
    ``INSERT … ON CONFLICT DO NOTHING`` on the unique holder key). Does not re-activate an
    opted-out account; :class:`ControlGroupError` for a customer of the control group."""
    if held_out(session, program, customer_id):
        raise ControlGroupError(
            f"customer '{customer_id}' is in the control group of program '{program.code}': "
            "no account, no points"
        )
    holder = holder_for(session, program, customer_id)
    conn = session.connection()
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    session.execute(
        dialect_insert(LoyaltyAccount)
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
        _account_query(program.id, holder).execution_options(populate_existing=True)
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
