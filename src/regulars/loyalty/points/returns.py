"""Reversing on returns: what a returned order may no longer keep is taken back, what
it spent is given back, proportionally, and the program's shortfall policy decides about
points to reverse that were already spent (:func:`reverse_earning`, the ledger operation
on the earning's lot).

**Returns** (:func:`on_return_recorded`). Let an order of amount ``A`` have earned ``E``
points and spent ``S``; its returns so far total ``c`` (capped at ``A``). Then

    reversed(c)   = E − floor(E × (A − c) / A)      (what the order may no longer keep)
    re-credited(c) = floor((S − C) × c / A)

(``C``: what cancelled redemptions of the order gave back,
:func:`~regulars.loyalty.points.cancellation.cancel_points`), applied to every earn lot of
the order on its own ``E`` (the base lot and each bonus lot, each reversal under its own
key), and each return reverses ``reversed(c_after) − reversed(c_before)`` and re-credits
``re-credited(c_after)`` less what was re-credited before (points may be spent on an order
after a partial return of it). A full return takes back all ``E`` and gives back all
``S − C``; a partial one leaves the customer ``floor(E × kept share)``, never more, so
buying and returning cannot create points. Points to reverse that were already spent (the
lot no longer holds them) follow the program's ``shortfall_policy`` (see :class:`Reversal`).
Re-credited points go into a new lot, available at once, expiring when the latest lot the
spend took from expired, but at the earliest :data:`RECREDIT_MIN_DAYS` after the return
(never, if a spent lot never expires).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting.enrolment import program_of_account
from regulars.loyalty.accounting.ledger import (
    SYSTEM,
    EntrySpec,
    OrderRef,
    Posted,
    add_entry,
    credit,
    debit_lots,
    lock_account,
    move_balance,
    order_points,
    points_money,
    replayed,
    take_from_lot,
)
from regulars.loyalty.catalogue import points_config
from regulars.loyalty.program_store.dispatch import apply_programs_for_return
from regulars.loyalty.program_types.bonus import bounded_key, order_key
from regulars.loyalty.tables import LoyaltyEntry, LoyaltyLot, LoyaltyLotConsumption
from regulars.store.tables import Order, OrderReturn

RECREDIT_MIN_DAYS = 30


def _order_key(order: Order) -> str:
    return order_key(order.shop_id, order.order_id)


@dataclass(frozen=True)
class ReturnOutcome:
    """What one return did to one earn lot of an account (``reversal``), and to the
    account's spent points (``recredit``, on the account's first outcome)."""

    program: str
    account_id: int
    reversal: Reversal | None
    recredit: Posted | None
    refund_deduction: Decimal = Decimal("0.00")
    """Money to take off the refund (policy ``deduct_from_refund``)."""


def refund_deduction(session: Session, shop_id: str, order_id: str, return_id: str) -> Decimal:
    """Money to take off the refund of return ``return_id``: the value of the points it
    reversed that were spent already, in every program whose shortfall policy is
    ``deduct_from_refund`` (recorded as the ``money`` of its ``reverse_earn`` entries)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LoyaltyEntry.money), 0)).where(
            LoyaltyEntry.shop_id == shop_id,
            LoyaltyEntry.order_id == order_id,
            LoyaltyEntry.return_id == return_id,
            LoyaltyEntry.kind == "reverse_earn",
        )
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


def reversed_points(earned: int, amount: Decimal, returned: Decimal) -> int:
    """``E − floor(E × (A − c) / A)``: points an order of amount ``A`` that earned ``E``
    may no longer keep once ``c`` of it came back."""
    returned = min(returned, amount)
    kept = math.floor(Decimal(earned) * (amount - returned) / amount)
    return earned - kept


def recredited_points(spent: int, amount: Decimal, returned: Decimal) -> int:
    """``floor(S × c / A)``: points of the ``S`` an order spent that a return of ``c``
    gives back."""
    returned = min(returned, amount)
    return math.floor(Decimal(spent) * returned / amount)


def _returned_before_and_after(session: Session, ret: OrderReturn) -> tuple[Decimal, Decimal]:
    amounts = session.execute(
        select(OrderReturn.id, OrderReturn.amount).where(
            OrderReturn.shop_id == ret.shop_id, OrderReturn.order_id == ret.order_id
        )
    ).all()
    before = sum((a for i, a in amounts if i < ret.id), Decimal("0.00"))
    return before, before + ret.amount


def _order_entries(session: Session, order: Order, kind: str) -> list[LoyaltyEntry]:
    return list(
        session.scalars(
            select(LoyaltyEntry)
            .where(
                LoyaltyEntry.shop_id == order.shop_id,
                LoyaltyEntry.order_id == order.order_id,
                LoyaltyEntry.kind == kind,
            )
            .order_by(LoyaltyEntry.id)
        )
    )


def on_return_recorded(
    session: Session, ret: OrderReturn, *, now: datetime | None = None
) -> list[ReturnOutcome]:
    """Reverse what the returned order earned and re-credit what it spent, proportionally
    (see the module docstring); idempotent by return."""
    now = now or utcnow()
    apply_programs_for_return(session, ret)  # stamp cards, tiers, badges (program_store)
    order = session.scalars(
        select(Order).where(Order.shop_id == ret.shop_id, Order.order_id == ret.order_id)
    ).one_or_none()
    if order is None or order.amount <= 0:
        return []
    before, after = _returned_before_and_after(session, ret)
    ref = OrderRef(ret.shop_id, ret.order_id, ret.return_id)
    # One outcome per earn lot of the order (base and bonus lots, each reversed on its
    # own points), keyed (account, lot); an account's re-credit joins its first outcome.
    outcomes: dict[tuple[int, int], ReturnOutcome] = {}
    first_of_account: dict[int, tuple[int, int]] = {}
    for earn in _order_entries(session, order, "earn"):
        earlier = reversed_points(earn.points, order.amount, before)
        points = reversed_points(earn.points, order.amount, after) - earlier
        key = _reverse_key(ref, order, earn)
        slot = (earn.account_id, earn.id)
        outcomes[slot] = _reverse(session, earn, points, earlier, ref, key, now)
        first_of_account.setdefault(earn.account_id, slot)
    for account_id, (_spent, expiry) in _spent_by_account(session, order).items():
        points = _recredit_due(session, account_id, order, after)
        if points <= 0:
            continue
        recredit = _recredit(session, account_id, points, ref, expiry, now)
        slot = first_of_account.get(account_id, (account_id, 0))
        previous = outcomes.get(slot)
        outcomes[slot] = ReturnOutcome(
            program=program_of_account(session, account_id).code,
            account_id=account_id,
            reversal=previous.reversal if previous else None,
            recredit=recredit,
            refund_deduction=previous.refund_deduction if previous else Decimal("0.00"),
        )
    return list(outcomes.values())


def _reverse_key(ref: OrderRef, order: Order, earn: LoyaltyEntry) -> str:
    """``return:<shop>:<return_id>:reverse`` for the order's base lot, the same followed by
    ``:<earn key>`` for each bonus lot of the order."""
    key = f"return:{ref.shop_id}:{ref.return_id}:reverse"
    if earn.idempotency_key == _order_key(order):
        return bounded_key(key)
    return bounded_key(f"{key}:{earn.idempotency_key}")


def _reverse(
    session: Session,
    earn: LoyaltyEntry,
    points: int,
    earlier: int,
    ref: OrderRef,
    key: str,
    now: datetime,
) -> ReturnOutcome:
    program = program_of_account(session, earn.account_id)
    rules = points_config(program)
    assert earn.lot_id is not None  # every earning has its lot
    existing = session.scalars(
        select(LoyaltyEntry).where(
            LoyaltyEntry.account_id == earn.account_id, LoyaltyEntry.idempotency_key == key
        )
    ).one_or_none()
    if existing is not None:  # a retry: report what the first call did
        return ReturnOutcome(
            program.code, earn.account_id, None, None, existing.money or Decimal("0.00")
        )
    spec = EntrySpec(kind="reverse_earn", key=key, actor=SYSTEM, occurred_at=now, order=ref)
    reversal = reverse_earning(
        session,
        earn.account_id,
        earn.lot_id,
        points,
        spec,
        already_reversed=earlier,
        policy=program.shortfall_policy,
        now=now,
    )
    deduction = points_money(reversal.deducted, rules.point_value)
    if reversal.deducted:
        session.get(LoyaltyEntry, reversal.posted.entry_id).money = deduction  # type: ignore[union-attr]
    return ReturnOutcome(program.code, earn.account_id, reversal, None, deduction)


def _spent_by_account(session: Session, order: Order) -> dict[int, tuple[int, datetime | None]]:
    """Per account: points the order's redemptions spent and the expiry a re-credit gets
    (the latest of the lots they took from; None if one of them never expires)."""
    spent: dict[int, int] = {}
    expiries: dict[int, list[datetime | None]] = {}
    for entry in _order_entries(session, order, "spend"):
        spent[entry.account_id] = spent.get(entry.account_id, 0) - entry.points
        expiries.setdefault(entry.account_id, []).extend(
            session.scalars(
                select(LoyaltyLot.expires_at)
                .join(LoyaltyLotConsumption, LoyaltyLotConsumption.lot_id == LoyaltyLot.id)
                .where(LoyaltyLotConsumption.entry_id == entry.id)
            )
        )
    return {account: (points, _latest(expiries[account])) for account, points in spent.items()}


def _latest(expiries: list[datetime | None]) -> datetime | None:
    known = [e for e in expiries if e is not None]
    if not known or len(known) < len(expiries):
        return None
    return max(known)


def _recredit(
    session: Session,
    account_id: int,
    points: int,
    ref: OrderRef,
    expiry: datetime | None,
    now: datetime,
) -> Posted:
    floor = now + timedelta(days=RECREDIT_MIN_DAYS)
    expires = None if expiry is None else max(expiry, floor)
    spec = EntrySpec(
        kind="recredit",
        key=bounded_key(f"return:{ref.shop_id}:{ref.return_id}:recredit"),
        actor=SYSTEM,
        occurred_at=now,
        order=ref,
    )
    return credit(session, account_id, points, spec, available_at=now, expires_at=expires)


def _recredit_due(session: Session, account_id: int, order: Order, returned: Decimal) -> int:
    """What a return bringing the order's returns to ``returned`` re-credits in the account:
    ``floor((S − C) × returned / A) − R`` (see
    :func:`~regulars.loyalty.points.cancellation.cancel_points`), read under the account's
    lock, so a concurrent cancellation is either seen or waits."""
    lock_account(session, account_id)
    totals = order_points(session, account_id, order.shop_id, order.order_id)
    spent = -totals["spend"] - totals["cancel_spend"]
    return recredited_points(spent, order.amount, returned) - totals["recredit"]


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
    replay = replayed(session, account_id, spec.key, spec.request_hash)
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
    entry = add_entry(session, account_id, -total, spec, lot_id=lot.id)
    if from_lot:
        take_from_lot(session, lot, from_lot, entry.id)
        session.flush()
    if policy == "allow_negative" and shortfall:
        other = debit_lots(session, account_id, shortfall, entry.id, now=now, only_available=False)
        negative = shortfall - other
    account.debt += debt
    balance = move_balance(session, account, -total)
    posted = Posted(entry.id, account_id, spec.kind, -total, spec.money, balance)
    return Reversal(posted, from_lot, expiring, shortfall, other, negative, debt, deducted)
