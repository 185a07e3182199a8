"""The points ledger: append-only entries over earn lots, exact under concurrency.

Every operation runs in the caller's session (one transaction) and starts by locking the
account row (:func:`lock_account`), so operations on one account are serialised and a
redemption can never spend what a concurrent one already took.

Quantities of an account (all integers):

* ``balance = Σ entries.points``, cached in ``loyalty_accounts.balance`` by every write;
* ``Σ lots.remaining`` — what the lots still hold; ``overdraft = Σ remaining − balance ≥ 0``
  is the part of a negative-balance return (policy ``allow_negative``) not yet paid back;
  later credits pay it first;
* ``available`` — lots whose pending period is over and that have not expired, minus the
  overdraft: what a redemption may spend;
* ``debt`` — points owed after a return under ``claw_back_future``; not in the balance,
  recovered from later earnings by ``claw_back`` entries.

Debits take points from lots oldest-expiring first (never-expiring last, ties by age) and
record each lot taken from in ``loyalty_lot_consumptions``. A lot whose ``expires_at`` has
passed is left alone by everything except the nightly expiry
(:func:`regulars.loyalty.points.expiry.expire_lots`), so the nightly expiry and the day's
operations never race for the same lot.

Idempotency: each entry carries a key unique per account. Repeating an operation with the
same key and the same request returns the first result (``replay=True``); the same key with
a different request raises :class:`~regulars.loyalty.errors.IdempotencyConflictError`
(:func:`fingerprint` hashes a request).

This module holds the operations every program type uses (:func:`credit`, :func:`spend`,
:func:`debit`) and the steps they are made of (:func:`replayed`, :func:`add_entry`,
:func:`take_from_lot`, :func:`debit_lots`, :func:`move_balance`, :func:`claw_back`), which
the operations that give points back — a cancelled redemption
(:mod:`regulars.loyalty.points.cancellation`) and a return
(:mod:`regulars.loyalty.points.returns`) — build on in their own modules.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.errors import (
    AccountClosedError,
    IdempotencyConflictError,
    InsufficientPointsError,
)
from regulars.loyalty.tables import (
    ENTRY_KINDS,
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyLotConsumption,
)

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Posted:
    """The outcome of one ledger operation."""

    entry_id: int
    account_id: int
    kind: str
    points: int
    money: Decimal | None
    balance: int
    replay: bool = False


@dataclass(frozen=True)
class OrderRef:
    shop_id: str
    order_id: str
    return_id: str | None = None


def points_money(points: int, point_value: Decimal) -> Decimal:
    """Money ``points`` are worth, in cents (half-even)."""
    return (Decimal(points) * point_value).quantize(_CENT, rounding=ROUND_HALF_EVEN)


SYSTEM = "system"


def fingerprint(payload: dict[str, Any]) -> str:
    """SHA-256 of a request's canonical JSON, to tell a retry from a different request."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def order_points(session: Session, account_id: int, shop_id: str, order_id: str) -> dict[str, int]:
    """Σ points per entry kind of one order in one account (0 for a kind it has none of)."""
    rows = session.execute(
        select(LoyaltyEntry.kind, func.sum(LoyaltyEntry.points))
        .where(
            LoyaltyEntry.account_id == account_id,
            LoyaltyEntry.shop_id == shop_id,
            LoyaltyEntry.order_id == order_id,
        )
        .group_by(LoyaltyEntry.kind)
    ).all()
    totals = {kind: int(points or 0) for kind, points in rows}
    return {kind: totals.get(kind, 0) for kind in ENTRY_KINDS}


# -- locking and reading ------------------------------------------------------------------


def lock_account(session: Session, account_id: int) -> LoyaltyAccount:
    """Lock the account row for this transaction and return its current state.

    PostgreSQL: ``SELECT … FOR UPDATE``. SQLite has no row locks: a no-op ``UPDATE`` as the
    transaction's first write takes the database write lock, which is held until commit
    (the Python driver opens the transaction just before it, so nothing read earlier is
    stale).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.id == account_id)
            .values(balance=LoyaltyAccount.balance)
        )
        query = select(LoyaltyAccount).where(LoyaltyAccount.id == account_id)
    else:
        query = select(LoyaltyAccount).where(LoyaltyAccount.id == account_id).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).one()


def _live(now: datetime) -> ColumnElement[bool]:
    """Lots not past their expiry at ``now``."""
    return or_(LoyaltyLot.expires_at.is_(None), LoyaltyLot.expires_at > now)


def lots_remaining(session: Session, account_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLot.remaining), 0)).where(
            LoyaltyLot.account_id == account_id
        )
    )
    return int(total or 0)


def overdraft(session: Session, account: LoyaltyAccount) -> int:
    """Points a negative-balance return took beyond what the lots held, not yet paid back."""
    return lots_remaining(session, account.id) - account.balance


def available_points(session: Session, account: LoyaltyAccount, now: datetime) -> int:
    """What a redemption may spend at ``now``: available, unexpired lots less the overdraft."""
    in_lots = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLot.remaining), 0)).where(
            LoyaltyLot.account_id == account.id,
            LoyaltyLot.remaining > 0,
            LoyaltyLot.available_at <= now,
            _live(now),
        )
    )
    return max(0, int(in_lots or 0) - overdraft(session, account))


def replayed(
    session: Session, account_id: int, key: str, request_hash: str | None
) -> Posted | None:
    """The first result of the operation recorded under ``key`` in the account (None when
    there is none yet); :class:`~regulars.loyalty.errors.IdempotencyConflictError` when
    that entry was written for a different request."""
    entry = session.scalars(
        select(LoyaltyEntry).where(
            LoyaltyEntry.account_id == account_id, LoyaltyEntry.idempotency_key == key
        )
    ).one_or_none()
    if entry is None:
        return None
    if entry.request_hash != request_hash:
        raise IdempotencyConflictError(key)
    balance = session.scalar(select(LoyaltyAccount.balance).where(LoyaltyAccount.id == account_id))
    return Posted(
        entry.id, account_id, entry.kind, entry.points, entry.money, int(balance or 0), True
    )


# -- writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntrySpec:
    """What an entry records besides its points."""

    kind: str
    key: str
    actor: str
    occurred_at: datetime
    request_hash: str | None = None
    reason: str | None = None
    money: Decimal | None = None
    order: OrderRef | None = None
    customer_id: str | None = None
    """The customer who spent or was adjusted (a household account's member)."""


def add_entry(
    session: Session, account_id: int, points: int, spec: EntrySpec, lot_id: int | None = None
) -> LoyaltyEntry:
    """Write one entry of ``points`` (signed) as ``spec`` describes it, naming ``lot_id``
    (the lot an earning created, or the one an expiry or reversal takes from)."""
    entry = LoyaltyEntry(
        account_id=account_id,
        kind=spec.kind,
        points=points,
        money=spec.money,
        shop_id=spec.order.shop_id if spec.order else None,
        order_id=spec.order.order_id if spec.order else None,
        return_id=spec.order.return_id if spec.order else None,
        lot_id=lot_id,
        idempotency_key=spec.key,
        request_hash=spec.request_hash,
        actor=spec.actor,
        customer_id=spec.customer_id,
        reason=spec.reason,
        occurred_at=spec.occurred_at,
        created_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def move_balance(session: Session, account: LoyaltyAccount, delta: int) -> int:
    """Change the cached balance; the row is locked (:func:`lock_account`), so writing the
    new value is as safe as ``balance = balance + delta``."""
    account.balance += delta
    session.flush()
    return account.balance


def take_from_lot(session: Session, lot: LoyaltyLot, points: int, entry_id: int) -> None:
    """Take ``points`` from ``lot`` for entry ``entry_id``, recording the consumption."""
    lot.remaining -= points
    session.add(LoyaltyLotConsumption(entry_id=entry_id, lot_id=lot.id, points=points))


def debit_lots(
    session: Session,
    account_id: int,
    points: int,
    entry_id: int,
    *,
    now: datetime,
    only_available: bool,
) -> int:
    """Take up to ``points`` from the account's live lots, oldest-expiring first; returns
    what was taken."""
    query = select(LoyaltyLot).where(
        LoyaltyLot.account_id == account_id,
        LoyaltyLot.remaining > 0,
        _live(now),
    )
    if only_available:
        query = query.where(LoyaltyLot.available_at <= now)
    query = query.order_by(
        LoyaltyLot.expires_at.is_(None), LoyaltyLot.expires_at, LoyaltyLot.id
    ).execution_options(populate_existing=True)
    taken = 0
    for lot in session.scalars(query):
        if taken == points:
            break
        portion = min(lot.remaining, points - taken)
        take_from_lot(session, lot, portion, entry_id)
        taken += portion
    session.flush()
    return taken


def credit(
    session: Session,
    account_id: int,
    points: int,
    spec: EntrySpec,
    *,
    available_at: datetime,
    expires_at: datetime | None,
) -> Posted:
    """Put ``points`` (> 0) into a new lot: an earning, re-credit, import or manual credit.

    The new lot first pays any overdraft (a consumption by the credit entry itself), then
    any claw-back debt (a ``claw_back`` entry taking from the new lot).
    """
    if points <= 0:
        raise ValueError("a credit needs points > 0")
    account = lock_account(session, account_id)
    replay = replayed(session, account_id, spec.key, spec.request_hash)
    if replay is not None:
        return replay
    owed_overdraft = overdraft(session, account)
    order = spec.order
    lot = LoyaltyLot(
        account_id=account_id,
        points=points,
        remaining=points,
        available_at=available_at,
        expires_at=expires_at,
        shop_id=order.shop_id if order else None,
        order_id=order.order_id if order else None,
        created_at=utcnow(),
    )
    session.add(lot)
    session.flush()
    entry = add_entry(session, account_id, points, spec, lot_id=lot.id)
    if owed_overdraft > 0:
        take_from_lot(session, lot, min(points, owed_overdraft), entry.id)
    move_balance(session, account, points)
    claw_back(session, account, [(lot, lot.remaining)], spec)
    session.flush()
    return Posted(entry.id, account_id, spec.kind, points, spec.money, account.balance)


def claw_back(
    session: Session,
    account: LoyaltyAccount,
    portions: list[tuple[LoyaltyLot, int]],
    spec: EntrySpec,
) -> int:
    """Repay claw-back debt from ``portions`` — (lot, points it may give), in order — with
    one ``claw_back`` entry (key ``<spec.key>:claw_back``); returns the points recovered."""
    recovered = min(account.debt, sum(most for _lot, most in portions))
    if recovered <= 0:
        return 0
    claw = EntrySpec(
        kind="claw_back",
        key=f"{spec.key}:claw_back",
        actor=spec.actor,
        occurred_at=spec.occurred_at,
        reason="debt from an earlier return",
        order=spec.order,
    )
    entry = add_entry(session, account.id, -recovered, claw, lot_id=portions[0][0].id)
    left = recovered
    for lot, most in portions:
        taken = min(most, left)
        if taken > 0:
            take_from_lot(session, lot, taken, entry.id)
            left -= taken
    account.debt -= recovered
    move_balance(session, account, -recovered)
    return recovered


def spend(
    session: Session, account_id: int, points: int, spec: EntrySpec, *, now: datetime
) -> Posted:
    """Redeem ``points`` (> 0) from available lots;
    :class:`~regulars.loyalty.errors.InsufficientPointsError` if short."""
    if points <= 0:
        raise ValueError("a redemption needs points > 0")
    account = lock_account(session, account_id)
    replay = replayed(session, account_id, spec.key, spec.request_hash)
    if replay is not None:
        return replay
    if account.state != "active":
        raise AccountClosedError("the account has opted out of the program")
    spendable = available_points(session, account, now)
    if points > spendable:
        raise InsufficientPointsError(points, spendable)
    entry = add_entry(session, account_id, -points, spec)
    debit_lots(session, account_id, points, entry.id, now=now, only_available=True)
    balance = move_balance(session, account, -points)
    return Posted(entry.id, account_id, spec.kind, -points, spec.money, balance)


def debit(
    session: Session, account_id: int, points: int, spec: EntrySpec, *, now: datetime
) -> Posted:
    """A manual or imported debit of ``points`` (> 0) from any live lot, pending included."""
    if points <= 0:
        raise ValueError("a debit needs points > 0")
    account = lock_account(session, account_id)
    replay = replayed(session, account_id, spec.key, spec.request_hash)
    if replay is not None:
        return replay
    live = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLot.remaining), 0)).where(
            LoyaltyLot.account_id == account_id,
            _live(now),
        )
    )
    coverable = max(0, int(live or 0) - overdraft(session, account))
    if points > coverable:
        raise InsufficientPointsError(points, coverable)
    entry = add_entry(session, account_id, -points, spec)
    debit_lots(session, account_id, points, entry.id, now=now, only_available=False)
    balance = move_balance(session, account, -points)
    return Posted(entry.id, account_id, spec.kind, -points, spec.money, balance)
