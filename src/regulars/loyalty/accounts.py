"""Programs and accounts: which account a customer's points go to.

A program's ``config`` is validated by the config model of its ``type`` in the one registry
of program types, the discriminated union :data:`regulars.loyalty.program_types.ProgramConfig`
(:data:`~regulars.loyalty.program_types.PROGRAM_MODELS` reads the model of each type off it): a
``points`` program's is :class:`~regulars.loyalty.program_types.bonus.PointsProgramConfig`, the
others are the types :mod:`regulars.loyalty.live` runs.

**Holder of an account.** In a program without a shared household card every customer has
their own account. With ``shared_household`` a customer whose ``customers.household_id`` is
set is a *member* of the household when they are among its first ``household.max_members``
customers by ``created_at`` (ties by customer id; the first is the owner), exactly as
:func:`regulars.loyalty.program_types.household.resolve` decides: members earn into and spend
from the household's account (``household_id`` set, ``customer_id`` null). The household's
other customers, and customers without a household, have their own account. Membership is
evaluated *now*: a customer who leaves the household uses their own account from then on;
what they earned while a member stays with the household.

**Control unit.** In a ``shared_household`` program the control-group draw
(:func:`~regulars.loyalty.holdout.in_control_group`) is made for ``household:<household_id>``
for every customer of a household, so a household is wholly in or out; otherwise for the
customer id (:func:`control_unit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.loyalty.holdout import in_control_group
from regulars.loyalty.program_types import PROGRAM_MODELS, PROGRAM_TYPES, PointsProgramConfig
from regulars.loyalty.program_types.household import (
    Household,
    HouseholdMember,
    HouseholdRules,
    resolve,
)
from regulars.loyalty.tables import SHORTFALL_POLICIES, LoyaltyAccount, LoyaltyProgram
from regulars.store.tables import Customer


class ProgramError(RegularsError):
    """A program that cannot be created or found."""


class ControlGroupError(ProgramError):
    """The customer is in the program's control group: no account, no points."""


def program_types() -> list[str]:
    return sorted(PROGRAM_TYPES)


def validate_config(program_type: str, config: dict[str, Any]) -> BaseModel:
    """``config`` validated by the model of ``program_type`` (a ``type`` key in it must
    agree); raises :class:`ProgramError` for an unknown or disagreeing type and
    :class:`pydantic.ValidationError` (locations relative to the config) for a bad config."""
    model = PROGRAM_MODELS.get(program_type)
    if model is None:
        raise ProgramError(
            f"unknown program type '{program_type}'; known: {', '.join(program_types())}"
        )
    stated = config.get("type", program_type)
    if stated != program_type:
        raise ProgramError(f"config.type '{stated}' is not the program type '{program_type}'")
    return model.model_validate({**config, "type": program_type})


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
    if (
        isinstance(config, PointsProgramConfig)
        and config.household != HouseholdRules()
        and not spec.shared_household
    ):
        raise ProgramError(
            "config.household only applies with shared_household: true; "
            "set it or leave the household section out"
        )
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


def points_config(program: LoyaltyProgram) -> PointsProgramConfig:
    """The whole config of a ``points`` program (earning rules, bonuses, household)."""
    if program.type != "points":
        raise ProgramError(f"program '{program.code}' is a '{program.type}' program, not points")
    return PointsProgramConfig.model_validate({**program.config, "type": "points"})


def household_rules(program_type: str, config: dict[str, Any]) -> HouseholdRules:
    """Who shares a household account of a program with this stored type and config: a
    points program's ``household`` section (a program of another type with
    ``shared_household`` uses the defaults)."""
    if program_type == "points":
        return PointsProgramConfig.model_validate({**config, "type": "points"}).household
    return HouseholdRules()


def loaded_programs(session: Session) -> list[LoyaltyProgram]:
    """Every program (any type, active or not), oldest first, read once per transaction.

    A shop has a handful of programs and an earning order asks for the running ones up to
    five times (the hooks' check, the points programs, the live programs twice, the
    membership and tier multipliers), so the transaction reads them once. The list is the
    session's own objects: a change to one is seen at once. It is forgotten when a program
    is added to the session (:func:`create_program`), when an ``UPDATE`` or ``DELETE``
    statement targets the programs table (:func:`regulars.loyalty.live.common.lock_program`)
    and on any rollback, savepoints included; the next call reads the table again.
    """
    cached = session.info.get(_PROGRAMS)
    if cached is not None and cached[0] is session.get_transaction():
        return list(cached[1])
    programs = list(session.scalars(select(LoyaltyProgram).order_by(LoyaltyProgram.id)))
    session.info[_PROGRAMS] = (session.get_transaction(), programs)
    return list(programs)


_PROGRAMS = "regulars.loyalty.program_types"


def forget_programs(session: Session) -> None:
    """Drop the transaction's :func:`loaded_programs`."""
    session.info.pop(_PROGRAMS, None)


@event.listens_for(Session, "transient_to_pending")
def _program_added(session: Session, instance: object) -> None:
    if isinstance(instance, LoyaltyProgram):
        forget_programs(session)


@event.listens_for(Session, "do_orm_execute")
def _programs_written(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(
        mapper.class_ is LoyaltyProgram for mapper in state.all_mappers
    ):
        forget_programs(state.session)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    forget_programs(session)


def runs_at(program: LoyaltyProgram, at: datetime) -> bool:
    """Whether ``program`` is active and ``starts_at <= at < ends_at`` (no end: open)."""
    return (
        program.active
        and program.starts_at <= at
        and (program.ends_at is None or at < program.ends_at)
    )


def running_programs(session: Session, types: Sequence[str], at: datetime) -> list[LoyaltyProgram]:
    """Active programs of ``types`` running at ``at``, oldest first (:func:`runs_at`)."""
    return [p for p in loaded_programs(session) if p.type in types and runs_at(p, at)]


def running_points_programs(session: Session, at: datetime) -> list[LoyaltyProgram]:
    """Active ``points`` programs running at ``at``, oldest first."""
    return running_programs(session, ("points",), at)


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
    return float(points_config(program).control_share)


def unit_of(shared_household: bool, customer_id: str, household_id: str | None) -> str:
    """What the control-group draw is made for: ``household:<household_id>`` for a customer
    of a household in a ``shared_household`` program, else the customer id."""
    if shared_household and household_id:
        return f"household:{household_id}"
    return customer_id


def control_unit(session: Session, program: LoyaltyProgram, customer_id: str) -> str:
    """:func:`unit_of` the customer in ``program``."""
    household = None
    if program.shared_household:
        household = session.scalar(
            select(Customer.household_id).where(Customer.customer_id == customer_id)
        )
    return unit_of(program.shared_household, customer_id, household)


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
