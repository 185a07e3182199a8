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
passed is left alone by everything except :func:`expire_due`, so the nightly expiry and the
day's operations never race for the same lot.

Idempotency: each entry carries a key unique per account. Repeating an operation with the
same key and the same request returns the first result (``replay=True``); the same key with
a different request raises :class:`IdempotencyConflictError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import ColumnElement, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.errors import (
    AccountClosedError,
    IdempotencyConflictError,
    InsufficientPointsError,
)
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry, LoyaltyLot, LoyaltyLotConsumption

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


def _replay(session: Session, account_id: int, key: str, request_hash: str | None) -> Posted | None:
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


def _add_entry(
    session: Session, account_id: int, points: int, spec: EntrySpec, lot_id: int | None = None
) -> LoyaltyEntry:
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
        reason=spec.reason,
        occurred_at=spec.occurred_at,
        created_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def _move_balance(session: Session, account: LoyaltyAccount, delta: int) -> int:
    """Change the cached balance; the row is locked (:func:`lock_account`), so writing the
    new value is as safe as ``balance = balance + delta``."""
    account.balance += delta
    session.flush()
    return account.balance


def _take(session: Session, lot: LoyaltyLot, points: int, entry_id: int) -> None:
    lot.remaining -= points
    session.add(LoyaltyLotConsumption(entry_id=entry_id, lot_id=lot.id, points=points))


def _debit_lots(
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
        _take(session, lot, portion, entry_id)
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
    replay = _replay(session, account_id, spec.key, spec.request_hash)
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
    entry = _add_entry(session, account_id, points, spec, lot_id=lot.id)
    if owed_overdraft > 0:
        _take(session, lot, min(points, owed_overdraft), entry.id)
    _move_balance(session, account, points)
    _claw_back(session, account, [(lot, lot.remaining)], spec)
    session.flush()
    return Posted(entry.id, account_id, spec.kind, points, spec.money, account.balance)


def _claw_back(
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
    entry = _add_entry(session, account.id, -recovered, claw, lot_id=portions[0][0].id)
    left = recovered
    for lot, most in portions:
        taken = min(most, left)
        if taken > 0:
            _take(session, lot, taken, entry.id)
            left -= taken
    account.debt -= recovered
    _move_balance(session, account, -recovered)
    return recovered


def spend(
    session: Session, account_id: int, points: int, spec: EntrySpec, *, now: datetime
) -> Posted:
    """Redeem ``points`` (> 0) from available lots; :class:`InsufficientPointsError` if short."""
    if points <= 0:
        raise ValueError("a redemption needs points > 0")
    account = lock_account(session, account_id)
    replay = _replay(session, account_id, spec.key, spec.request_hash)
    if replay is not None:
        return replay
    if account.state != "active":
        raise AccountClosedError("the account has opted out of the program")
    spendable = available_points(session, account, now)
    if points > spendable:
        raise InsufficientPointsError(points, spendable)
    entry = _add_entry(session, account_id, -points, spec)
    _debit_lots(session, account_id, points, entry.id, now=now, only_available=True)
    balance = _move_balance(session, account, -points)
    return Posted(entry.id, account_id, spec.kind, -points, spec.money, balance)


def debit(
    session: Session, account_id: int, points: int, spec: EntrySpec, *, now: datetime
) -> Posted:
    """A manual or imported debit of ``points`` (> 0) from any live lot, pending included."""
    if points <= 0:
        raise ValueError("a debit needs points > 0")
    account = lock_account(session, account_id)
    replay = _replay(session, account_id, spec.key, spec.request_hash)
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
    entry = _add_entry(session, account_id, -points, spec)
    _debit_lots(session, account_id, points, entry.id, now=now, only_available=False)
    balance = _move_balance(session, account, -points)
    return Posted(entry.id, account_id, spec.kind, -points, spec.money, balance)


@dataclass(frozen=True)
class Cancellation:
    """What cancelling a redemption (what is left of it) did.

    ``posted`` is the ``cancel_spend`` entry: the points given back, into the lots the
    spend took them from. Of those, ``expired`` went back into lots already past their
    expiry and expired at once (one ``expire`` entry per such lot); what came back into
    live lots first paid any overdraft and then ``clawed_back`` repaid claw-back debt,
    as every credit does. The balance rises by ``points − expired − clawed_back``.
    """

    posted: Posted
    spend_entry_id: int
    expired: int
    clawed_back: int


def cancel_spend(
    session: Session,
    account_id: int,
    spend_entry_id: int,
    points: int,
    spec: EntrySpec,
    *,
    now: datetime,
) -> Cancellation:
    """Give back ``points`` (0 ≤ points ≤ what it spent) of spend entry ``spend_entry_id``
    into the very lots it took them from, so they keep their expiry dates.

    The spend's consumptions are given back in the order it made them (oldest-expiring
    first), each up to what it took, as negative consumptions of the ``cancel_spend`` entry:
    ``remaining = points − Σ consumptions − expired`` holds for every lot. A lot whose
    ``expires_at`` ≤ ``now`` is not touched (it belongs to the nightly expiry): its points
    come back and expire at once — an ``expire`` entry of the same size under
    ``<spec.key>:expire:<lot id>`` — so a late cancellation never revives expired points.
    The points that came back into live lots pay the overdraft first (the entry's own
    consumptions shrink by it) and then the debt (:func:`_claw_back`).

    Idempotent by ``spec.key``; the caller decides ``points`` under the account's lock.
    """
    if points < 0:
        raise ValueError("a cancellation gives back points ≥ 0")
    account = lock_account(session, account_id)
    replay = _replay(session, account_id, spec.key, spec.request_hash)
    if replay is not None:
        return Cancellation(replay, spend_entry_id, *_cancellation_parts(session, replay, spec.key))
    taken = _consumptions(session, spend_entry_id)
    if points > sum(points for points, _lot in taken):
        raise ValueError("a cancellation gives back at most what the spend took")
    owed_overdraft = overdraft(session, account)
    entry = _add_entry(session, account_id, points, spec)
    expired, live = _give_back(session, account, taken, points, entry, now=now)
    _move_balance(session, account, points - expired)
    paid = _pay_overdraft(session, live, owed_overdraft, entry.id)
    unpaid = [(lot, back - paid[lot.id]) for lot, back in live if back > paid[lot.id]]
    clawed = _claw_back(session, account, unpaid, spec)
    session.flush()
    posted = Posted(entry.id, account_id, spec.kind, points, spec.money, account.balance)
    return Cancellation(posted, spend_entry_id, expired, clawed)


def _consumptions(session: Session, entry_id: int) -> list[tuple[int, LoyaltyLot]]:
    """(points, lot) the entry took, in the order it took them."""
    rows = session.execute(
        select(LoyaltyLotConsumption.points, LoyaltyLot)
        .join(LoyaltyLot, LoyaltyLot.id == LoyaltyLotConsumption.lot_id)
        .where(LoyaltyLotConsumption.entry_id == entry_id)
        .order_by(LoyaltyLotConsumption.id)
        .execution_options(populate_existing=True)
    ).all()
    return [(points, lot) for points, lot in rows]


def _give_back(
    session: Session,
    account: LoyaltyAccount,
    taken_from: list[tuple[int, LoyaltyLot]],
    points: int,
    entry: LoyaltyEntry,
    *,
    now: datetime,
) -> tuple[int, list[tuple[LoyaltyLot, int]]]:
    """Put ``points`` back along the spend's consumptions ``taken_from``; returns the points
    that expired at once and the live lots with what each got back."""
    left, expired = points, 0
    live: list[tuple[LoyaltyLot, int]] = []
    for taken, lot in taken_from:
        back = min(taken, left)
        if back <= 0:
            break
        left -= back
        if lot.expires_at is not None and lot.expires_at <= now:
            _expire_at_once(session, account.id, lot, back, entry)
            expired += back
        else:
            lot.remaining += back
            live.append((lot, back))
    return expired, live


def _expire_at_once(
    session: Session, account_id: int, lot: LoyaltyLot, points: int, entry: LoyaltyEntry
) -> None:
    session.add(LoyaltyLotConsumption(entry_id=entry.id, lot_id=lot.id, points=-points))
    spec = EntrySpec(
        kind="expire",
        key=f"{entry.idempotency_key}:expire:{lot.id}",
        actor=entry.actor,
        occurred_at=entry.occurred_at,
        reason="given back by a cancellation after the lot expired",
    )
    _add_entry(session, account_id, -points, spec, lot_id=lot.id)


def _pay_overdraft(
    session: Session, live: list[tuple[LoyaltyLot, int]], owed: int, entry_id: int
) -> dict[int, int]:
    """Record the live lots' give-back as negative consumptions, less what pays the
    overdraft ``owed``; returns what each lot (by id) paid."""
    paid: dict[int, int] = {}
    left = owed
    for lot, back in live:
        pays = min(back, max(left, 0))
        left -= pays
        lot.remaining -= pays
        paid[lot.id] = pays
        if back - pays:
            session.add(LoyaltyLotConsumption(entry_id=entry_id, lot_id=lot.id, points=pays - back))
    session.flush()
    return paid


def _cancellation_parts(session: Session, posted: Posted, key: str) -> tuple[int, int]:
    """``(expired, clawed_back)`` of a cancellation already written under ``key``."""
    rows = session.execute(
        select(LoyaltyEntry.kind, LoyaltyEntry.points).where(
            LoyaltyEntry.account_id == posted.account_id,
            LoyaltyEntry.idempotency_key.startswith(f"{key}:", autoescape=True),
        )
    ).all()
    expired = -sum(points for kind, points in rows if kind == "expire")
    clawed = -sum(points for kind, points in rows if kind == "claw_back")
    return expired, clawed


@dataclass(frozen=True)
class Reversal:
    """What reversing ``points`` of an earning did.

    Of the points to reverse, ``from_lot`` came out of the earning's own lot and
    ``expiring`` had expired (or is past its expiry, left for the nightly expiry): neither
    is charged twice. ``shortfall`` had already been spent and follows the program's
    policy: taken from other lots (``from_other_lots``) and then left as a negative balance
    (``negative``), owed as ``debt``, or reported as ``deducted`` points to take off the
    refund.
    """

    posted: Posted
    from_lot: int
    expiring: int
    shortfall: int
    from_other_lots: int = 0
    negative: int = 0
    debt: int = 0
    deducted: int = 0


def _spent_from_lot(session: Session, lot: LoyaltyLot) -> int:
    """Points debits took from ``lot``, other than the reversals of its own earning, less
    what cancelled redemptions gave back to it (negative consumptions)."""
    own_reversal = (LoyaltyEntry.kind == "reverse_earn") & (LoyaltyEntry.lot_id == lot.id)
    spent = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLotConsumption.points), 0))
        .join(LoyaltyEntry, LoyaltyEntry.id == LoyaltyLotConsumption.entry_id)
        .where(LoyaltyLotConsumption.lot_id == lot.id, ~own_reversal)
    )
    return int(spent or 0)


def reverse_earning(
    session: Session,
    account_id: int,
    lot_id: int,
    points: int,
    spec: EntrySpec,
    *,
    already_reversed: int,
    policy: str,
    now: datetime,
) -> Reversal:
    """Take back ``points`` (≥ 0) more of what lot ``lot_id`` earned, ``already_reversed``
    having been taken back before; see :class:`Reversal`.

    Reversals are covered by the part of the lot that was not spent, ``U = points of the
    lot − spent from it``, in order: this one covers ``min(R + X, U) − min(R, U)`` where
    ``R`` is ``already_reversed`` and ``X`` is ``points``; the rest is the shortfall. The
    covered part comes out of the lot's ``remaining``, or had expired.
    """
    account = lock_account(session, account_id)
    replay = _replay(session, account_id, spec.key, spec.request_hash)
    if replay is not None:
        return Reversal(replay, 0, 0, 0)
    lot = session.scalars(
        select(LoyaltyLot).where(LoyaltyLot.id == lot_id).execution_options(populate_existing=True)
    ).one()
    unspent = lot.points - _spent_from_lot(session, lot)
    cover = min(already_reversed + points, unspent) - min(already_reversed, unspent)
    past_expiry = lot.expires_at is not None and lot.expires_at <= now
    from_lot = 0 if past_expiry else min(cover, lot.remaining)
    expiring = cover - from_lot
    shortfall = points - cover
    other = negative = debt = deducted = 0
    if policy == "allow_negative":
        total = from_lot + shortfall
    elif policy == "claw_back_future":
        total, debt = from_lot, shortfall
    elif policy == "deduct_from_refund":
        total, deducted = from_lot, shortfall
    else:
        raise ValueError(f"unknown shortfall policy '{policy}'")
    entry = _add_entry(session, account_id, -total, spec, lot_id=lot.id)
    if from_lot:
        _take(session, lot, from_lot, entry.id)
        session.flush()
    if policy == "allow_negative" and shortfall:
        other = _debit_lots(session, account_id, shortfall, entry.id, now=now, only_available=False)
        negative = shortfall - other
    account.debt += debt
    balance = _move_balance(session, account, -total)
    posted = Posted(entry.id, account_id, spec.kind, -total, spec.money, balance)
    return Reversal(posted, from_lot, expiring, shortfall, other, negative, debt, deducted)


# -- expiry -------------------------------------------------------------------------------


def due_for_expiry(now: datetime) -> list[ColumnElement[bool]]:
    """The lots :func:`expire_lots` expires at ``now``: past ``expires_at``, points left."""
    return [LoyaltyLot.expires_at <= now, LoyaltyLot.remaining > 0]


def expire_lots(session: Session, now: datetime) -> int:
    """Expire what is left of every lot whose ``expires_at`` ≤ ``now``, set-based.

    Three statements, whatever the number of accounts:

    1. ``INSERT INTO loyalty_entries … SELECT`` one ``expire`` entry of ``−remaining`` per
       due lot (key ``expire:<lot id>``, so a lot expires once);
    2. ``UPDATE loyalty_accounts SET balance = balance − due FROM (SELECT account_id,
       Σ remaining AS due … GROUP BY account_id)`` for the accounts holding due lots;
    3. ``UPDATE loyalty_lots SET remaining = 0`` for the due lots.

    Due lots are frozen (no other operation touches a lot past its expiry), so the three
    statements see the same lots. Running it again expires nothing more. Returns the
    number of points expired.
    """
    due = due_for_expiry(now)
    expiring = int(
        session.scalar(select(func.coalesce(func.sum(LoyaltyLot.remaining), 0)).where(*due)) or 0
    )
    if expiring == 0:
        return 0
    created = utcnow()
    rows = select(
        LoyaltyLot.account_id,
        literal("expire"),
        -LoyaltyLot.remaining,
        LoyaltyLot.id,
        literal("expire:") + func.cast(LoyaltyLot.id, LoyaltyEntry.idempotency_key.type),
        literal("system"),
        LoyaltyLot.expires_at,
        literal(created, LoyaltyEntry.created_at.type),
    ).where(*due)
    session.execute(
        insert(LoyaltyEntry).from_select(
            [
                "account_id",
                "kind",
                "points",
                "lot_id",
                "idempotency_key",
                "actor",
                "occurred_at",
                "created_at",
            ],
            rows,
        )
    )
    per_account = (
        select(LoyaltyLot.account_id, func.sum(LoyaltyLot.remaining).label("due"))
        .where(*due)
        .group_by(LoyaltyLot.account_id)
        .subquery()
    )
    session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.id == per_account.c.account_id)
        .values(balance=LoyaltyAccount.balance - per_account.c.due)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(LoyaltyLot)
        .where(*due)
        .values(remaining=0)
        .execution_options(synchronize_session=False)
    )
    return expiring
