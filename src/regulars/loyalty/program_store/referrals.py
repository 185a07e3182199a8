"""Referrals live: record who referred whom, reward both sides once the referee's first
paid order is past its return window.

:func:`refer` records a referral; a self-referral (same customer, email, phone or
household, by :func:`regulars.loyalty.program_types.referral.self_referral_reason`) is refused
with the rule's reason and nothing is stored. The referee is the natural id: one referral
per referee and program; the same referral again returns it, another referrer for the same
referee is refused.

:func:`evaluate` decides every pending referral at ``now`` with
:func:`regulars.loyalty.program_types.referral.decide` from the store (the referee's orders and
returns, the referrer's earlier rewards) and credits the rewards through the ledger into
the two customers' accounts in the ``points`` program (the oldest running one): keys
``referral:<referee>:referrer`` / ``…:referee``, so an evaluation run twice (or by two
workers) credits once. The daily worker job ``loyalty.referrals`` runs it for every
referral program; ``POST …/referrals/evaluate`` runs it on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting import ledger
from regulars.loyalty.accounting.enrolment import enroll
from regulars.loyalty.catalogue import lock_program, points_config, points_program, typed_config
from regulars.loyalty.program_store.tables import Referral
from regulars.loyalty.program_types import ReferralConfig, referral
from regulars.loyalty.program_types.history import Purchase, Return
from regulars.loyalty.program_types.outcomes import Earn
from regulars.loyalty.tables import LoyaltyProgram
from regulars.store.tables import Customer, Order, OrderReturn


class SelfReferralError(ValueError):
    """The two customers look like one person."""


class ReferralConflictError(ValueError):
    """The referee was already referred by someone else."""


@dataclass(frozen=True)
class ReferralView:
    program: str
    referrer_id: str
    referee_id: str
    state: str
    reason: str
    due_at: datetime | None
    rewarded_at: datetime | None
    referrer_rewarded: bool
    created: bool = False


def referral_config(program: LoyaltyProgram) -> ReferralConfig:
    return typed_config(program, "referral", ReferralConfig)


def _view(program: LoyaltyProgram, row: Referral, created: bool = False) -> ReferralView:
    return ReferralView(
        program.code,
        row.referrer_id,
        row.referee_id,
        row.state,
        row.reason,
        row.due_at,
        row.rewarded_at,
        row.referrer_rewarded,
        created,
    )


def _identity(session: Session, customer_id: str) -> referral.Identity:
    row = session.scalars(select(Customer).where(Customer.customer_id == customer_id)).one()
    return referral.Identity(customer_id, row.email, row.phone, row.household_id)


def _find(session: Session, program: LoyaltyProgram, referee_id: str) -> Referral | None:
    return session.scalars(
        select(Referral).where(Referral.program_id == program.id, Referral.referee_id == referee_id)
    ).one_or_none()


def refer(
    session: Session,
    program: LoyaltyProgram,
    referrer_id: str,
    referee_id: str,
    *,
    code: str | None = None,
    now: datetime | None = None,
) -> ReferralView:
    """Record that ``referrer_id`` referred ``referee_id`` (see the module docstring)."""
    referral_config(program)
    reason = referral.self_referral_reason(
        _identity(session, referrer_id), _identity(session, referee_id)
    )
    if reason is not None:
        raise SelfReferralError(f"self-referral: {reason}")
    lock_program(session, program)
    found = _find(session, program, referee_id)
    if found is not None:
        if found.referrer_id != referrer_id:
            raise ReferralConflictError(
                f"customer {referee_id} was already referred by someone else"
            )
        return _view(program, found)
    row = Referral(
        program_id=program.id,
        referrer_id=referrer_id,
        referee_id=referee_id,
        code=code,
        state="pending",
        reason="no paid order yet",
        referrer_rewarded=False,
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return _view(program, row, created=True)


def find(session: Session, program: LoyaltyProgram, referee_id: str) -> ReferralView:
    referral_config(program)
    row = _find(session, program, referee_id)
    if row is None:
        raise LookupError(f"customer {referee_id} has no referral in '{program.code}'")
    return _view(program, row)


def _history(session: Session, customer_id: str) -> tuple[list[Purchase], list[Return]]:
    orders = session.execute(
        select(Order.order_id, Order.ordered_at, Order.amount, Order.status).where(
            Order.customer_id == customer_id
        )
    )
    purchases = [
        Purchase(order_id, customer_id, at, amount)
        for order_id, at, amount, status in orders
        if status != "cancelled"
    ]
    returns = session.execute(
        select(
            OrderReturn.return_id, OrderReturn.order_id, OrderReturn.returned_at, OrderReturn.amount
        ).where(OrderReturn.customer_id == customer_id)
    )
    return purchases, [
        Return(rid, oid, customer_id, at, amount) for rid, oid, at, amount in returns
    ]


def _referrer_rewards(
    session: Session, program: LoyaltyProgram, referrer_id: str
) -> list[datetime]:
    return [
        at
        for at in session.scalars(
            select(Referral.rewarded_at).where(
                Referral.program_id == program.id,
                Referral.referrer_id == referrer_id,
                Referral.referrer_rewarded.is_(True),
            )
        )
        if at is not None
    ]


def _credit(session: Session, paid_into: LoyaltyProgram, customer_id: str, earn: Earn) -> None:
    account = enroll(session, paid_into, customer_id)
    spec = ledger.EntrySpec(
        kind="earn",
        key=earn.key,
        actor="system",
        occurred_at=earn.available_at,
        reason=earn.reason,
        money=ledger.points_money(earn.points, points_config(paid_into).point_value),
    )
    ledger.credit(
        session,
        account.id,
        earn.points,
        spec,
        available_at=earn.available_at,
        expires_at=earn.expires_at,
    )


def _decide_one(
    session: Session,
    program: LoyaltyProgram,
    config: ReferralConfig,
    row: Referral,
    now: datetime,
) -> None:
    purchases, returns = _history(session, row.referee_id)
    decision = referral.decide(
        config,
        referral.Referral(row.referrer_id, row.referee_id, row.created_at),
        _identity(session, row.referrer_id),
        _identity(session, row.referee_id),
        purchases,
        returns,
        _referrer_rewards(session, program, row.referrer_id),
        now,
    )
    row.state, row.reason, row.due_at = decision.status, decision.reason, decision.due_at
    if decision.status != "rewarded":
        return
    paid_into = points_program(session, None)
    for earn in decision.rewards:
        side_is_referrer = earn.key.endswith(":referrer")
        _credit(session, paid_into, row.referrer_id if side_is_referrer else row.referee_id, earn)
        row.referrer_rewarded = row.referrer_rewarded or side_is_referrer
    row.rewarded_at = decision.due_at


def evaluate(
    session: Session, program: LoyaltyProgram, now: datetime | None = None
) -> dict[str, int]:
    """Decide every pending referral of ``program`` at ``now``; counts by resulting state."""
    config = referral_config(program)
    now = now or utcnow()
    lock_program(session, program)
    pending = session.scalars(
        select(Referral)
        .where(Referral.program_id == program.id, Referral.state == "pending")
        .order_by(Referral.created_at, Referral.id)
    )
    counts = {"pending": 0, "rewarded": 0, "rejected": 0}
    for row in list(pending):
        _decide_one(session, program, config, row, now)
        counts[row.state] += 1
    session.flush()
    return counts


def evaluate_all(session: Session, now: datetime | None = None) -> dict[str, int]:
    """:func:`evaluate` every active referral program; the counts summed."""
    totals = {"pending": 0, "rewarded": 0, "rejected": 0}
    programs = session.scalars(
        select(LoyaltyProgram).where(
            LoyaltyProgram.type == "referral", LoyaltyProgram.active.is_(True)
        )
    )
    for program in list(programs):
        for state, count in evaluate(session, program, now).items():
            totals[state] += count
    return totals
