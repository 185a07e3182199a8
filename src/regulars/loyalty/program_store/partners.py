"""Coalition partners live: sales that issue points, payments with points, the settlement.

A ``coalition`` program has its own accounts: its points are the coalition's currency,
earned at any partner and spent at any partner that accepts them (the shop itself is one
of the partners). Each partner call names the partner's own transaction id; it is the
idempotency key (``partner:<partner>:<transaction_id>`` in the ledger, unique per program
and partner in ``loyalty_partner_transactions``): the same call again returns the first
result, another call under the same id is refused.

A sale of ``a`` at partner ``p`` credits ``floor(a × earn_per_unit_p)`` points (expiring
after the program's ``expiry_days``). A payment of ``n`` points spends them atomically
like ``/redeem``: the account row is locked, so concurrent payments never overdraw. The
settlement of :func:`regulars.loyalty.program_types.coalition.settlement_report` sums the
recorded transactions of ``[start, end)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting import ledger
from regulars.loyalty.accounting.enrolment import enroll
from regulars.loyalty.accounting.ledger import fingerprint
from regulars.loyalty.catalogue import typed_config
from regulars.loyalty.errors import (
    AccountClosedError,
    IdempotencyConflictError,
    InsufficientPointsError,
)
from regulars.loyalty.program_store.tables import PartnerTransaction
from regulars.loyalty.program_types import CoalitionConfig, coalition
from regulars.loyalty.tables import LoyaltyProgram


@dataclass(frozen=True)
class PartnerResult:
    """A recorded partner transaction and the account's balance after it."""

    partner: str
    transaction_id: str
    kind: str
    customer_id: str
    points: int
    balance: int
    replay: bool


def coalition_config(program: LoyaltyProgram) -> CoalitionConfig:
    return typed_config(program, "coalition", CoalitionConfig)


def _existing(
    session: Session, program: LoyaltyProgram, partner: str, transaction_id: str
) -> PartnerTransaction | None:
    return session.scalars(
        select(PartnerTransaction).where(
            PartnerTransaction.program_id == program.id,
            PartnerTransaction.partner == partner,
            PartnerTransaction.transaction_id == transaction_id,
        )
    ).one_or_none()


def _replayed(
    found: PartnerTransaction,
    call: tuple[str, str, int, Decimal | None],
    balance: int,
) -> PartnerResult:
    """The first result of a repeated call (kind, customer, points, amount), or a conflict
    when the call differs."""
    kind, customer_id, points, _amount = call
    if (found.kind, found.customer_id, found.points, found.amount) != call:
        raise IdempotencyConflictError(f"partner:{found.partner}:{found.transaction_id}")
    return PartnerResult(
        found.partner, found.transaction_id, kind, customer_id, points, balance, True
    )


def _record(
    session: Session,
    program: LoyaltyProgram,
    tx: coalition.PartnerTransaction,
    customer_id: str,
    amount: Decimal | None,
    entry_id: int | None,
) -> None:
    session.add(
        PartnerTransaction(
            program_id=program.id,
            partner=tx.partner,
            transaction_id=tx.transaction_id,
            kind=tx.kind,
            customer_id=customer_id,
            points=tx.points,
            amount=amount,
            entry_id=entry_id,
            occurred_at=tx.at,
            created_at=utcnow(),
        )
    )
    session.flush()


def record_sale(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    partner: str,
    transaction_id: str,
    amount: Decimal,
    *,
    actor: str,
    at: datetime | None = None,
) -> PartnerResult:
    """A sale of ``amount`` at ``partner``: credit its points to the customer's account."""
    config = coalition_config(program)
    if amount <= 0:
        raise ValueError(f"amount: must be positive, got {amount}")
    at = at or utcnow()
    tx, earn = coalition.partner_earn(config, partner, transaction_id, amount, at)
    account = ledger.lock_account(session, enroll(session, program, customer_id).id)
    found = _existing(session, program, tx.partner, transaction_id)
    if found is not None:
        return _replayed(found, ("issue", customer_id, tx.points, amount), account.balance)
    if account.state != "active":
        raise AccountClosedError("the account has opted out of the program")
    if earn is None:  # a sale too small to earn a point still counts for the settlement
        _record(session, program, tx, customer_id, amount, None)
        return PartnerResult(
            tx.partner, transaction_id, "issue", customer_id, 0, account.balance, False
        )
    value = config.partner(tx.partner).issue_value
    spec = ledger.EntrySpec(
        kind="earn",
        key=earn.key,
        actor=actor,
        occurred_at=at,
        request_hash=fingerprint({"customer": customer_id, "amount": amount}),
        reason=earn.reason,
        money=ledger.points_money(earn.points, value),
    )
    posted = ledger.credit(
        session,
        account.id,
        earn.points,
        spec,
        available_at=earn.available_at,
        expires_at=earn.expires_at,
    )
    _record(session, program, tx, customer_id, amount, posted.entry_id)
    return PartnerResult(
        tx.partner, transaction_id, "issue", customer_id, tx.points, posted.balance, False
    )


def record_redemption(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    partner: str,
    transaction_id: str,
    points: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> PartnerResult:
    """Pay ``points`` at ``partner``; :class:`~regulars.loyalty.errors.InsufficientPointsError`
    when the available points do not cover them (checked under the account's lock)."""
    config = coalition_config(program)
    now = now or utcnow()
    account = ledger.lock_account(session, enroll(session, program, customer_id).id)
    found = _existing(session, program, config.partner(partner).code, transaction_id)
    if found is not None:
        return _replayed(found, ("redeem", customer_id, points, None), account.balance)
    if account.state != "active":
        raise AccountClosedError("the account has opted out of the program")
    available = ledger.available_points(session, account, now)
    if points > available:
        raise InsufficientPointsError(points, available)
    tx, debit = coalition.partner_redeem(config, partner, transaction_id, points, available, now)
    spec = ledger.EntrySpec(
        kind="spend",
        key=debit.key,
        actor=actor,
        occurred_at=now,
        request_hash=fingerprint({"customer": customer_id, "points": points}),
        reason=debit.reason,
        money=ledger.points_money(points, config.partner(tx.partner).redeem_value),
    )
    posted = ledger.spend(session, account.id, points, spec, now=now)
    _record(session, program, tx, customer_id, None, posted.entry_id)
    return PartnerResult(
        tx.partner, transaction_id, "redeem", customer_id, points, posted.balance, False
    )


def settlement(
    session: Session,
    program: LoyaltyProgram,
    start: datetime,
    end: datetime,
    partner: str | None = None,
) -> list[coalition.Settlement]:
    """The settlement of ``[start, end)``, one line per partner (or only ``partner``)."""
    config = coalition_config(program)
    if end <= start:
        raise ValueError("end: must be after start")
    if partner is not None:
        config.partner(partner)
    rows = session.scalars(
        select(PartnerTransaction).where(
            PartnerTransaction.program_id == program.id,
            PartnerTransaction.occurred_at >= start,
            PartnerTransaction.occurred_at < end,
        )
    )
    txs = [
        coalition.PartnerTransaction(
            r.transaction_id,
            r.partner,
            "issue" if r.kind == "issue" else "redeem",
            r.points,
            r.occurred_at,
        )
        for r in rows
    ]
    lines = coalition.settlement_report(config, txs, start, end)
    return [line for line in lines if partner is None or line.partner == partner]
