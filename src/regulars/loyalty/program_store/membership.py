"""Paid membership live: subscribe, renew, cancel (at period end or at once with the
prorated refund of :func:`regulars.loyalty.program_types.membership.unused_refund`), and the
earn multiplier a member's purchases get.

The state of a membership is a ``loyalty_memberships`` row; every charge and refund the
rules decide is a ``loyalty_membership_payments`` row under the rule's idempotency key, and
``charged`` / ``refunded`` on the membership are their sums. Every change first renews the
membership up to the moment of the change (a period that ended is charged again, or the
membership ends if it was cancelled at period end), so the stored period is always the
running one. Changes of one membership are serialised by a lock on the program row.

**Earn multiplier** (:func:`earn_multiplier`): points orders earn in ``points`` programs
are multiplied by the largest ``earn_multiplier`` of the plans the customer is an active
member of at the order's time (1 without one); the tier multiplier applies on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.loyalty.catalogue import lock_program, typed_config
from regulars.loyalty.program_cache import loaded_programs
from regulars.loyalty.program_store.tables import Membership, MembershipPayment
from regulars.loyalty.program_types import MembershipConfig, membership
from regulars.loyalty.program_types.outcomes import Charge, Refund
from regulars.loyalty.tables import LoyaltyProgram
from regulars.loyalty.webhooks import emit


class MembershipStateError(RegularsError):
    """A change the membership's state does not allow (e.g. subscribing while a member):
    a conflict with the state, not a bad value (HTTP 409)."""


@dataclass(frozen=True)
class MembershipView:
    program: str
    customer_id: str
    plan: str
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool
    ended_at: datetime | None
    active: bool
    charged: Decimal
    refunded: Decimal
    last_refund: Decimal | None = None
    created: bool = False


def membership_config(program: LoyaltyProgram) -> MembershipConfig:
    return typed_config(program, "membership", MembershipConfig)


def _row(session: Session, program: LoyaltyProgram, customer_id: str) -> Membership | None:
    return session.scalars(
        select(Membership)
        .where(Membership.program_id == program.id, Membership.customer_id == customer_id)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _subscription(row: Membership) -> membership.Subscription:
    return membership.Subscription(
        row.customer_id,
        row.plan,
        row.period_start,
        row.period_end,
        row.cancel_at_period_end,
        row.ended_at,
    )


def _store(row: Membership, sub: membership.Subscription) -> None:
    row.plan, row.period_start, row.period_end = sub.plan, sub.period_start, sub.period_end
    row.cancel_at_period_end, row.ended_at = sub.cancel_at_period_end, sub.ended_at


def _pay(session: Session, row: Membership, outcome: Charge | Refund, at: datetime) -> None:
    """Record a charge or refund once (its key is unique)."""
    exists = session.scalar(
        select(MembershipPayment.id).where(MembershipPayment.key == outcome.key)
    )
    if exists is not None:
        return
    kind = "charge" if isinstance(outcome, Charge) else "refund"
    session.add(
        MembershipPayment(
            membership_id=row.id,
            key=outcome.key,
            kind=kind,
            amount=outcome.amount,
            reason=outcome.reason,
            occurred_at=at,
        )
    )
    if kind == "charge":
        row.charged += outcome.amount
    else:
        row.refunded += outcome.amount
    session.flush()
    payload = {
        "program": _program_code(session, row.program_id),
        "customer_id": row.customer_id,
        "plan": row.plan,
        "amount": str(outcome.amount),
        "reason": outcome.reason,
        "occurred_at": at.isoformat(),
    }
    event = "membership_charged" if kind == "charge" else "membership_refunded"
    emit(session, event, f"{event}:{outcome.key}", payload)


def _program_code(session: Session, program_id: int) -> str:
    program = session.get(LoyaltyProgram, program_id)
    assert program is not None  # a membership's program is never deleted before it
    return program.code


def _view(program: LoyaltyProgram, row: Membership, at: datetime) -> MembershipView:
    return MembershipView(
        program=program.code,
        customer_id=row.customer_id,
        plan=row.plan,
        period_start=row.period_start,
        period_end=row.period_end,
        cancel_at_period_end=row.cancel_at_period_end,
        ended_at=row.ended_at,
        active=membership.is_active(_subscription(row), at),
        charged=row.charged,
        refunded=row.refunded,
    )


def _apply(
    session: Session,
    row: Membership,
    sub: membership.Subscription,
    payments: Sequence[Charge | Refund],
    at: datetime,
) -> None:
    """Record ``payments`` (each once), then store the subscription they lead to."""
    for payment in payments:
        _pay(session, row, payment, at)
    _store(row, sub)
    session.flush()


def _renewed(session: Session, program: LoyaltyProgram, row: Membership, now: datetime) -> None:
    sub, charges = membership.renew(membership_config(program), _subscription(row), now)
    _apply(session, row, sub, charges, now)


def subscribe(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    plan: str,
    now: datetime | None = None,
) -> MembershipView:
    """Start a membership and charge its first period. Subscribing again to the plan one is
    an active member of returns the membership unchanged (``created`` False); another plan
    while a member is refused (change plans by cancelling first)."""
    config = membership_config(program)
    now = now or utcnow()
    lock_program(session, program)
    row = _row(session, program, customer_id)
    if row is not None:
        _renewed(session, program, row, now)
        if membership.is_active(_subscription(row), now):
            if row.plan != config.plan(plan).code:
                raise MembershipStateError(
                    f"customer {customer_id} is a member on plan '{row.plan}' until "
                    f"{row.period_end.isoformat()}; cancel it first"
                )
            return _view(program, row, now)
    sub, charge = membership.subscribe(config, customer_id, plan, now)
    if row is None:
        row = Membership(program_id=program.id, customer_id=customer_id, created_at=utcnow())
        row.charged, row.refunded = Decimal("0.00"), Decimal("0.00")
        session.add(row)
    _store(row, sub)
    session.flush()
    _pay(session, row, charge, now)
    return replace(_view(program, row, now), created=True)


def _existing(session: Session, program: LoyaltyProgram, customer_id: str) -> Membership:
    row = _row(session, program, customer_id)
    if row is None:
        raise LookupError(f"customer {customer_id} has no membership of '{program.code}'")
    return row


def renew(
    session: Session, program: LoyaltyProgram, customer_id: str, now: datetime | None = None
) -> MembershipView:
    """Charge every period that started by ``now`` (or end a membership cancelled at period
    end); running it again charges nothing twice."""
    now = now or utcnow()
    lock_program(session, program)
    row = _existing(session, program, customer_id)
    _renewed(session, program, row, now)
    return _view(program, row, now)


def cancel(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    *,
    immediate: bool,
    now: datetime | None = None,
) -> MembershipView:
    """Cancel at period end, or at once with the prorated refund. Cancelling a membership
    that already ended, or again at period end, changes nothing."""
    config = membership_config(program)
    now = now or utcnow()
    lock_program(session, program)
    row = _existing(session, program, customer_id)
    _renewed(session, program, row, now)
    sub = _subscription(row)
    if sub.ended_at is not None or (sub.cancel_at_period_end and not immediate):
        return _view(program, row, now)
    sub, refunds = membership.cancel(config, sub, now, immediate)
    _apply(session, row, sub, refunds, now)
    refunded = sum((r.amount for r in refunds), Decimal("0.00"))
    return replace(_view(program, row, now), last_refund=refunded)


def change_plan(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    plan: str,
    now: datetime | None = None,
) -> MembershipView:
    """Move an active member to ``plan`` now, with proration
    (:func:`regulars.loyalty.program_types.membership.change_plan`: one charge or refund
    for the difference, recorded once under its key). Changing to the plan one is on
    changes nothing; a membership that is not active cannot change
    (:class:`MembershipStateError`)."""
    config = membership_config(program)
    now = now or utcnow()
    lock_program(session, program)
    row = _existing(session, program, customer_id)
    _renewed(session, program, row, now)
    sub = _subscription(row)
    if not membership.is_active(sub, now) or sub.cancel_at_period_end:
        raise MembershipStateError(
            f"customer {customer_id}'s membership of '{program.code}' is not running "
            "(ended, or cancelled at period end): subscribe again instead"
        )
    target = config.plan(plan).code
    if target == row.plan:
        return _view(program, row, now)
    changed, payments = membership.change_plan(config, sub, target, now)
    _apply(session, row, changed, payments, now)
    refunded = sum((p.amount for p in payments if isinstance(p, Refund)), Decimal("0.00"))
    return replace(_view(program, row, now), last_refund=refunded, created=True)


def find(
    session: Session, program: LoyaltyProgram, customer_id: str, now: datetime | None = None
) -> MembershipView:
    """The membership as it stands at ``now`` (renewals not yet applied are not charged)."""
    membership_config(program)
    return _view(program, _existing(session, program, customer_id), now or utcnow())


def renew_all(session: Session, now: datetime | None = None) -> int:
    """Renew every membership of every membership program up to ``now``; returns how many
    memberships are still running."""
    now = now or utcnow()
    running = 0
    programs = session.scalars(select(LoyaltyProgram).where(LoyaltyProgram.type == "membership"))
    for program in list(programs):
        lock_program(session, program)
        rows = session.scalars(
            select(Membership).where(
                Membership.program_id == program.id, Membership.ended_at.is_(None)
            )
        )
        for row in list(rows):
            _renewed(session, program, row, now)
            running += row.ended_at is None
    return running


def earn_multiplier(session: Session, customer_id: str, at: datetime) -> Decimal:
    """The largest ``earn_multiplier`` of the plans ``customer_id`` is an active member of
    at ``at`` (1 without an active membership). No query when the shop has no membership
    program (the transaction's :func:`~regulars.loyalty.program_cache.loaded_programs`)."""
    if not any(program.type == "membership" for program in loaded_programs(session)):
        return Decimal(1)
    rows = session.execute(
        select(Membership, LoyaltyProgram)
        .join(LoyaltyProgram, LoyaltyProgram.id == Membership.program_id)
        .where(
            Membership.customer_id == customer_id,
            LoyaltyProgram.type == "membership",
            Membership.period_start <= at,
        )
    )
    best = Decimal(1)
    for row, program in rows:
        multiplier, _perks = membership.benefits(membership_config(program), _subscription(row), at)
        best = max(best, multiplier)
    return best
