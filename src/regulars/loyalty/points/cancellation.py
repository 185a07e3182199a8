"""Cancelling a redemption: how much comes back (:func:`cancel_points`: what is left of
it once the order's returns re-credited their share) and where to (:func:`cancel_spend`:
into the very lots the spend took the points from, so their expiry dates are kept), once,
audited once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting.enrolment import find_account, program_of_account
from regulars.loyalty.accounting.ledger import (
    SYSTEM,
    EntrySpec,
    OrderRef,
    Posted,
    add_entry,
    claw_back,
    fingerprint,
    lock_account,
    move_balance,
    order_points,
    overdraft,
    replayed,
)
from regulars.loyalty.errors import RedemptionNotFoundError
from regulars.loyalty.tables import (
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyLotConsumption,
    LoyaltyProgram,
)
from regulars.store.audit import record


def cancel_redemption(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    key: str,
    *,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> Cancellation:
    """Cancel the redemption :func:`~regulars.loyalty.points.redemption.redeem` made under
    ``key`` in the customer's account: give its points back (:func:`cancel_points`);
    :class:`~regulars.loyalty.errors.RedemptionNotFoundError` if the account has no
    redemption under ``key``."""
    account = find_account(session, program, customer_id)
    if account is None:
        raise RedemptionNotFoundError(key)
    lock_account(session, account.id)  # the spend and its cancellation are read locked
    spend_entry = session.scalars(
        select(LoyaltyEntry).where(
            LoyaltyEntry.account_id == account.id,
            LoyaltyEntry.idempotency_key == f"redeem:{key}",
            LoyaltyEntry.kind == "spend",
        )
    ).one_or_none()
    if spend_entry is None:
        raise RedemptionNotFoundError(key)
    return cancel_points(session, program, spend_entry, actor=actor, reason=reason, now=now)


def cancel_order_redemptions(
    session: Session, shop_id: str, order_id: str, *, now: datetime | None = None
) -> list[Cancellation]:
    """Cancel every redemption tied to an order recorded as cancelled (the order hook)."""
    spends = session.scalars(
        select(LoyaltyEntry)
        .where(
            LoyaltyEntry.shop_id == shop_id,
            LoyaltyEntry.order_id == order_id,
            LoyaltyEntry.kind == "spend",
        )
        .order_by(LoyaltyEntry.id)
    ).all()
    reason = f"order {order_id} cancelled"
    return [
        cancel_points(
            session,
            program_of_account(session, e.account_id),
            e,
            actor=SYSTEM,
            reason=reason,
            now=now,
        )
        for e in spends
    ]


def cancel_points(
    session: Session,
    program: LoyaltyProgram,
    spend_entry: LoyaltyEntry,
    *,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> Cancellation:
    """Give back what is left of redemption ``spend_entry``, once, audited once.

    **What comes back.** A redemption of ``S_i`` points gives back ``min(S_i, S − C − R)``,
    where — for a redemption tied to an order, in its account — ``S`` is what the order's
    redemptions spent, ``C`` what cancellations gave back and ``R`` what the order's returns
    re-credited (:func:`~regulars.loyalty.points.returns.on_return_recorded` re-credits
    ``floor((S − C) × returned / A) − R``). So cancellations and returns together never give
    back more than was spent, in whichever order they come; a redemption without an order
    gives back ``S_i``. The points go back into the lots the spend took them from
    (:func:`cancel_spend`): expiry dates are kept, and
    points whose lot has expired meanwhile come back and expire at once.

    Idempotent: the key is ``cancel:<spend entry id>``, so a retry — or the order hook
    after the API — answers the first cancellation and gives back nothing more. The
    account row is locked before anything is read, so concurrent cancellations, spends
    and returns of the account queue.
    """
    now = now or utcnow()
    lock_account(session, spend_entry.account_id)
    spent = -spend_entry.points
    points = min(spent, _left_to_give_back(session, spend_entry))
    spec = EntrySpec(
        kind="cancel_spend",
        key=f"cancel:{spend_entry.id}",
        actor=actor,
        occurred_at=now,
        request_hash=fingerprint({"cancel": spend_entry.id}),
        reason=reason,
        money=_money_share(spend_entry.money, points, spent),
        order=OrderRef(spend_entry.shop_id, spend_entry.order_id)
        if spend_entry.shop_id is not None and spend_entry.order_id is not None
        else None,
    )
    done = cancel_spend(session, spend_entry.account_id, spend_entry.id, points, spec, now=now)
    if not done.posted.replay:
        _audit_cancellation(session, program, spend_entry, done, actor, reason)
    return done


def _left_to_give_back(session: Session, spend_entry: LoyaltyEntry) -> int:
    """``S − C − R`` of the spend's order in its account (module of :func:`cancel_points`);
    the spend's own points when it has no order."""
    if spend_entry.shop_id is None or spend_entry.order_id is None:
        return -spend_entry.points
    totals = order_points(
        session, spend_entry.account_id, spend_entry.shop_id, spend_entry.order_id
    )
    return max(0, -totals["spend"] - totals["cancel_spend"] - totals["recredit"])


def _money_share(money: Decimal | None, points: int, spent: int) -> Decimal | None:
    """The part of a redemption's money that ``points`` of its ``spent`` points are worth
    (cents, half-even); all of it when everything comes back."""
    if money is None or spent == 0:
        return money
    if points == spent:
        return money
    return (money * points / spent).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def _audit_cancellation(
    session: Session,
    program: LoyaltyProgram,
    spend_entry: LoyaltyEntry,
    done: Cancellation,
    actor: str,
    reason: str | None,
) -> None:
    record(
        session,
        actor=actor,
        action="loyalty.redemption.cancel",
        target_type="loyalty_account",
        target_id=str(spend_entry.account_id),
        details={
            "program": program.code,
            "redemption_entry_id": spend_entry.id,
            "order_id": spend_entry.order_id,
            "points": done.posted.points,
            "expired": done.expired,
            "clawed_back": done.clawed_back,
            "reason": reason,
            "entry_id": done.posted.entry_id,
        },
    )


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
    consumptions shrink by it) and then the debt
    (:func:`~regulars.loyalty.accounting.ledger.claw_back`).

    Idempotent by ``spec.key``; the caller decides ``points`` under the account's lock.
    """
    if points < 0:
        raise ValueError("a cancellation gives back points ≥ 0")
    account = lock_account(session, account_id)
    replay = replayed(session, account_id, spec.key, spec.request_hash)
    if replay is not None:
        return Cancellation(replay, spend_entry_id, *_cancellation_parts(session, replay, spec.key))
    taken = _consumptions(session, spend_entry_id)
    if points > sum(points for points, _lot in taken):
        raise ValueError("a cancellation gives back at most what the spend took")
    owed_overdraft = overdraft(session, account)
    entry = add_entry(session, account_id, points, spec)
    expired, live = _give_back(session, account, taken, points, entry, now=now)
    move_balance(session, account, points - expired)
    paid = _pay_overdraft(session, live, owed_overdraft, entry.id)
    unpaid = [(lot, back - paid[lot.id]) for lot, back in live if back > paid[lot.id]]
    clawed = claw_back(session, account, unpaid, spec)
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
    add_entry(session, account_id, -points, spec, lot_id=lot.id)


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
