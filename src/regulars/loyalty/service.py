"""Loyalty use cases on top of the ledger: earning on orders, reversing on returns,
redeeming and cancelling redemptions, manual adjustments, the checkout quote, account
views and the nightly expiry.

Each function works in the caller's session (one transaction) and raises
:class:`~regulars.loyalty.ledger.LedgerError` or
:class:`~regulars.loyalty.accounts.ProgramError` for outcomes a caller must see.

**Returns** (:func:`on_return_recorded`). Let an order of amount ``A`` have earned ``E``
points and spent ``S``; its returns so far total ``c`` (capped at ``A``). Then

    reversed(c)   = E − floor(E × (A − c) / A)      (what the order may no longer keep)
    re-credited(c) = floor((S − C) × c / A)

(``C``: what cancelled redemptions of the order gave back, :func:`cancel_points`) and each
return reverses ``reversed(c_after) − reversed(c_before)`` and re-credits
``re-credited(c_after)`` less what was re-credited before (points may be spent on an
order after a partial return of it). A full return takes back all ``E`` and gives back all
``S − C``; a partial one leaves the customer ``floor(E × kept share)``, never more, so
buying and returning cannot create points. Points to reverse that were already spent (the
lot no longer holds them) follow the program's ``shortfall_policy`` (see
:class:`~regulars.loyalty.ledger.Reversal`). Re-credited points go into a new lot,
available at once, expiring when the latest lot the spend took from expired, but at the
earliest :data:`RECREDIT_MIN_DAYS` after the return (never, if a spent lot never expires).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, String, cast, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from regulars.loyalty.accounts import (
    enroll,
    find_account,
    held_out,
    holder_customers,
    points_rules,
    running_points_programs,
)
from regulars.loyalty.ledger import (
    Cancellation,
    EntrySpec,
    LedgerError,
    OrderRef,
    Posted,
    RedemptionCapError,
    Reversal,
    available_points,
    cancel_spend,
    credit,
    debit,
    due_for_expiry,
    expire_lots,
    lock_account,
    overdraft,
    points_money,
    reverse_earning,
    spend,
)
from regulars.loyalty.live.dispatch import apply_programs_for_order, apply_programs_for_return
from regulars.loyalty.models import (
    ENTRY_KINDS,
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyEvent,
    LoyaltyLot,
    LoyaltyLotConsumption,
    LoyaltyProgram,
)
from regulars.loyalty.rules import Line, PointsRules, max_redeemable, points_earned, tier_for
from regulars.loyalty.webhooks import emit, emit_from_select, subscribed
from regulars.store.audit import record
from regulars.store.models import Order, OrderLine, OrderReturn
from regulars.store.session import session_scope
from regulars.store.types import utcnow

RECREDIT_MIN_DAYS = 30
SYSTEM = "system"


def fingerprint(payload: dict[str, Any]) -> str:
    """SHA-256 of a request's canonical JSON, to tell a retry from a different request."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# -- earning on orders --------------------------------------------------------------------


def window_spend(session: Session, customers: list[str], at: datetime, days: int) -> Decimal:
    """Net spend (amount − refunds, cancelled orders excluded) of ``customers`` in
    ``(at − days, at]``: what tiers are measured on."""
    if not customers:
        return Decimal("0.00")
    row = session.execute(
        select(func.sum(Order.amount), func.sum(Order.refunded_amount)).where(
            Order.customer_id.in_(customers),
            Order.status != "cancelled",
            Order.amount > 0,
            Order.ordered_at > at - timedelta(days=days),
            Order.ordered_at <= at,
        )
    ).one()
    amount, refunded = row
    return Decimal(amount or 0) - Decimal(refunded or 0)


def _order_lines(session: Session, order: Order) -> list[Line]:
    rows = session.execute(
        select(OrderLine.line_amount, OrderLine.sku, OrderLine.category).where(
            OrderLine.shop_id == order.shop_id,
            OrderLine.order_id == order.order_id,
            OrderLine.line_amount > 0,
        )
    ).all()
    return [Line(amount, sku, category) for amount, sku, category in rows]


def _tier_multiplier(
    session: Session, rules: PointsRules, account: LoyaltyAccount, at: datetime
) -> tuple[str | None, Decimal]:
    spent = window_spend(session, holder_customers(session, account), at, rules.tier_window_days)
    tier = tier_for(rules, spent)
    return (tier.name, tier.earn_multiplier) if tier else (None, Decimal(1))


def _membership_multiplier(session: Session, customer_id: str, at: datetime) -> Decimal:
    """The paid-membership earn multiplier (:func:`regulars.loyalty.live.membership.
    earn_multiplier`), applied on top of the tier's. Imported here: the membership module
    builds on this one."""
    from regulars.loyalty.live.membership import earn_multiplier

    return earn_multiplier(session, customer_id, at)


def _order_key(order: Order) -> str:
    return f"order:{order.shop_id}:{order.order_id}"


def on_order_recorded(session: Session, order: Order) -> list[Posted]:
    """Earn points for ``order`` in every running ``points`` program; idempotent by order.

    The customer is enrolled on their first order (an opted-out account earns nothing).
    The tier is the one the holders' spend in the program's window reaches, this order
    included (upgrades are immediate); the lot becomes spendable after ``pending_days``
    and expires ``expiry_days`` after the order. Orders that are cancelled or not positive
    (standalone return documents) earn nothing.
    """
    if order.status == "cancelled" or order.amount <= 0:
        return []
    lines = _order_lines(session, order)
    posted = []
    for program in running_points_programs(session, order.ordered_at):
        if held_out(session, program, order.customer_id):
            continue  # the control group earns nothing
        account = enroll(session, program, order.customer_id)
        if account.state != "active":
            continue
        rules = points_rules(program)
        tier, multiplier = _tier_multiplier(session, rules, account, order.ordered_at)
        multiplier *= _membership_multiplier(session, order.customer_id, order.ordered_at)
        if account.tier != tier:
            emit(
                session,
                "tier_changed",
                f"tier_changed:{account.id}:{_order_key(order)}",
                {
                    "program": program.code,
                    "customer_id": order.customer_id,
                    "from": account.tier,
                    "to": tier,
                    "order_id": order.order_id,
                },
                account_id=account.id,
            )
            account.tier = tier
        points = points_earned(rules, order.amount, lines, multiplier)
        if points == 0:
            continue
        spec = EntrySpec(
            kind="earn",
            key=_order_key(order),
            actor=SYSTEM,
            occurred_at=order.ordered_at,
            money=points_money(points, rules.point_value),
            order=OrderRef(order.shop_id, order.order_id),
        )
        expires = (
            None if rules.expiry_days is None else order.ordered_at + timedelta(rules.expiry_days)
        )
        posted.append(
            credit(
                session,
                account.id,
                points,
                spec,
                available_at=order.ordered_at + timedelta(days=rules.pending_days),
                expires_at=expires,
            )
        )
    apply_programs_for_order(session, order)  # stamp cards, tiers, badges (loyalty.live)
    return posted


# -- returns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnOutcome:
    """What one return did in one account."""

    program: str
    account_id: int
    reversal: Reversal | None
    recredit: Posted | None
    refund_deduction: Decimal = Decimal("0.00")
    """Money to take off the refund (policy ``deduct_from_refund``)."""


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
    apply_programs_for_return(session, ret)  # stamp cards, tiers, badges (loyalty.live)
    order = session.scalars(
        select(Order).where(Order.shop_id == ret.shop_id, Order.order_id == ret.order_id)
    ).one_or_none()
    if order is None or order.amount <= 0:
        return []
    before, after = _returned_before_and_after(session, ret)
    ref = OrderRef(ret.shop_id, ret.order_id, ret.return_id)
    outcomes: dict[int, ReturnOutcome] = {}
    for earn in _order_entries(session, order, "earn"):
        earlier = reversed_points(earn.points, order.amount, before)
        points = reversed_points(earn.points, order.amount, after) - earlier
        outcomes[earn.account_id] = _reverse(session, earn, points, earlier, ref, now)
    for account_id, (_spent, expiry) in _spent_by_account(session, order).items():
        points = _recredit_due(session, account_id, order, after)
        if points <= 0:
            continue
        recredit = _recredit(session, account_id, points, ref, expiry, now)
        previous = outcomes.get(account_id)
        outcomes[account_id] = ReturnOutcome(
            program=_program_of(session, account_id).code,
            account_id=account_id,
            reversal=previous.reversal if previous else None,
            recredit=recredit,
            refund_deduction=previous.refund_deduction if previous else Decimal("0.00"),
        )
    return list(outcomes.values())


def _program_of(session: Session, account_id: int) -> LoyaltyProgram:
    return session.scalars(
        select(LoyaltyProgram)
        .join(LoyaltyAccount, LoyaltyAccount.program_id == LoyaltyProgram.id)
        .where(LoyaltyAccount.id == account_id)
    ).one()


def _reverse(
    session: Session,
    earn: LoyaltyEntry,
    points: int,
    earlier: int,
    ref: OrderRef,
    now: datetime,
) -> ReturnOutcome:
    program = _program_of(session, earn.account_id)
    rules = points_rules(program)
    key = f"return:{ref.shop_id}:{ref.return_id}:reverse"
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
        key=f"return:{ref.shop_id}:{ref.return_id}:recredit",
        actor=SYSTEM,
        occurred_at=now,
        order=ref,
    )
    return credit(session, account_id, points, spec, available_at=now, expires_at=expires)


# -- redeeming and adjusting -------------------------------------------------------------


def redeem(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    points: int,
    *,
    key: str,
    actor: str,
    order: OrderRef | None = None,
    order_amount: Decimal | None = None,
    now: datetime | None = None,
) -> Posted:
    """Spend ``points`` atomically; with ``order_amount`` the program's per-order cap applies.

    Idempotent by ``key`` (with the request's fingerprint): a retry returns the first
    result, another request under the same key raises ``IdempotencyConflictError``.
    """
    now = now or utcnow()
    rules = points_rules(program)
    request = fingerprint(
        {"points": points, "order": order and order.__dict__, "amount": order_amount}
    )
    account = enroll(session, program, customer_id)
    if order_amount is not None:
        cap = max_redeemable(rules, order_amount, points)
        if points > cap:
            raise RedemptionCapError(points, cap)
    spec = EntrySpec(
        kind="spend",
        key=f"redeem:{key}",
        actor=actor,
        occurred_at=now,
        request_hash=request,
        money=points_money(points, rules.point_value),
        order=order,
    )
    return spend(session, account.id, points, spec, now=now)


def adjust(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    points: int,
    *,
    reason: str,
    actor: str,
    key: str,
    now: datetime | None = None,
) -> Posted:
    """A manual credit (``points`` > 0) or debit (< 0) with a reason, audited once."""
    if points == 0:
        raise ValueError("an adjustment needs points other than 0")
    if not reason.strip():
        raise ValueError("an adjustment needs a reason")
    now = now or utcnow()
    account = enroll(session, program, customer_id)
    spec = EntrySpec(
        kind="adjust",
        key=f"adjust:{key}",
        actor=actor,
        occurred_at=now,
        reason=reason,
        request_hash=fingerprint({"points": points, "reason": reason}),
    )
    if points > 0:
        expiry_days = points_rules(program).expiry_days if program.type == "points" else None
        expires = None if expiry_days is None else now + timedelta(days=expiry_days)
        posted = credit(session, account.id, points, spec, available_at=now, expires_at=expires)
    else:
        posted = debit(session, account.id, -points, spec, now=now)
    if not posted.replay:
        record(
            session,
            actor=actor,
            action="loyalty.adjust",
            target_type="loyalty_account",
            target_id=str(account.id),
            details={
                "program": program.code,
                "customer_id": customer_id,
                "points": points,
                "reason": reason,
                "entry_id": posted.entry_id,
            },
        )
    return posted


# -- cancelling redemptions ---------------------------------------------------------------


class RedemptionNotFoundError(LedgerError):
    kind = "not-found"

    def __init__(self, key: str) -> None:
        super().__init__(f"no redemption with idempotency key '{key}' in this account")
        self.key = key


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
    """Cancel the redemption :func:`redeem` made under ``key`` in the customer's account:
    give its points back (:func:`cancel_points`); :class:`RedemptionNotFoundError` if the
    account has no redemption under ``key``."""
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
            session, _program_of(session, e.account_id), e, actor=SYSTEM, reason=reason, now=now
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

    **What comes back.** A redemption of ``S_i`` points gives back
    ``min(S_i, S − C − R)``, where — for a redemption tied to an order, in its account —
    ``S`` is what the order's redemptions spent, ``C`` what cancellations gave back and
    ``R`` what the order's returns re-credited (:func:`on_return_recorded` re-credits
    ``floor((S − C) × returned / A) − R``). So cancellations and returns together never give
    back more than was spent, in whichever order they come; a redemption without an order
    gives back ``S_i``. The points go back into the lots the spend took them from
    (:func:`~regulars.loyalty.ledger.cancel_spend`): expiry dates are kept, and points whose
    lot has expired meanwhile come back and expire at once.

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
    totals = _order_points(
        session, spend_entry.account_id, spend_entry.shop_id, spend_entry.order_id
    )
    return max(0, -totals["spend"] - totals["cancel_spend"] - totals["recredit"])


def _recredit_due(session: Session, account_id: int, order: Order, returned: Decimal) -> int:
    """What a return bringing the order's returns to ``returned`` re-credits in the
    account: ``floor((S − C) × returned / A) − R`` (see :func:`cancel_points`), read under
    the account's lock, so a concurrent cancellation is either seen or waits."""
    lock_account(session, account_id)
    totals = _order_points(session, account_id, order.shop_id, order.order_id)
    spent = -totals["spend"] - totals["cancel_spend"]
    return recredited_points(spent, order.amount, returned) - totals["recredit"]


def _order_points(session: Session, account_id: int, shop_id: str, order_id: str) -> dict[str, int]:
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


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotView:
    lot_id: int
    points: int
    remaining: int
    available_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class AccountView:
    """An account as the API and the Customer 360 show it."""

    program: str
    account_id: int | None
    state: str
    balance: int
    available: int
    pending: int
    debt: int
    overdraft: int
    tier: str | None
    lots: list[LotView] = field(default_factory=list)


def account_view(
    session: Session, program: LoyaltyProgram, customer_id: str, now: datetime | None = None
) -> AccountView:
    """Balance (Σ entries), spendable and pending points, tier and open lots; an account
    that does not exist yet reads as empty (nothing is written)."""
    now = now or utcnow()
    account = find_account(session, program, customer_id)
    if account is None:
        state = "control" if held_out(session, program, customer_id) else "not_enrolled"
        return AccountView(program.code, None, state, 0, 0, 0, 0, 0, None)
    lots = session.scalars(
        select(LoyaltyLot)
        .where(LoyaltyLot.account_id == account.id, LoyaltyLot.remaining > 0)
        .order_by(LoyaltyLot.expires_at.is_(None), LoyaltyLot.expires_at, LoyaltyLot.id)
    ).all()
    live = [lot for lot in lots if lot.expires_at is None or lot.expires_at > now]
    pending = sum(lot.remaining for lot in live if lot.available_at > now)
    return AccountView(
        program=program.code,
        account_id=account.id,
        state=account.state,
        balance=account.balance,
        available=available_points(session, account, now),
        pending=pending,
        debt=account.debt,
        overdraft=overdraft(session, account),
        tier=account.tier,
        lots=[
            LotView(lot.id, lot.points, lot.remaining, lot.available_at, lot.expires_at)
            for lot in live
        ],
    )


def entries_query(account_id: int) -> Select[LoyaltyEntry]:
    """The account's entries, for :func:`regulars.store.pages.keyset_page` (newest first)."""
    return select(LoyaltyEntry).where(LoyaltyEntry.account_id == account_id)


@dataclass(frozen=True)
class Quote:
    """What a cart would earn and what may be redeemed on it."""

    program: str
    points_earned: int
    tier: str | None
    max_redeemable_points: int
    max_redeemable_money: Decimal
    available: int


def quote(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    amount: Decimal,
    lines: list[Line],
    now: datetime | None = None,
) -> Quote:
    """A dry run at checkout: reads only, writes nothing (no account is created)."""
    now = now or utcnow()
    rules = points_rules(program)
    account = find_account(session, program, customer_id)
    customers = holder_customers(session, account) if account else [customer_id]
    window = window_spend(session, customers, now, rules.tier_window_days) + amount
    tier = tier_for(rules, window)
    multiplier = tier.earn_multiplier if tier else Decimal(1)
    earned = points_earned(rules, amount, lines, multiplier)
    available = available_points(session, account, now) if account else 0
    redeemable = max_redeemable(rules, amount, available)
    return Quote(
        program=program.code,
        points_earned=earned,
        tier=tier.name if tier else None,
        max_redeemable_points=redeemable,
        max_redeemable_money=points_money(redeemable, rules.point_value),
        available=available,
    )


def loyalty_summary(session: Session, customer_id: str) -> list[AccountView]:
    """The customer's account in every program they are enrolled in (Customer 360)."""
    programs = session.scalars(select(LoyaltyProgram).order_by(LoyaltyProgram.id)).all()
    views = [account_view(session, p, customer_id) for p in programs]
    return [v for v in views if v.account_id is not None]


# -- nightly expiry -----------------------------------------------------------------------


def expire_due(engine: Engine, now: datetime | None = None) -> int:
    """The nightly job ``loyalty.expire``: expire every due lot in one transaction
    (:func:`~regulars.loyalty.ledger.expire_lots`, set-based); returns the points expired.
    ``now`` must not be in the future: lots past it are frozen for every other operation.
    While an endpoint subscribes to ``points_expired``, the same transaction first records
    one such event per account that loses points (:func:`emit_points_expired`)."""
    now = now or utcnow()
    with session_scope(engine) as session:
        if subscribed(session, "points_expired"):
            emit_points_expired(session, now)
        return expire_lots(session, now)


def emit_points_expired(session: Session, now: datetime) -> int:
    """One ``points_expired`` event per account holding lots that expire at ``now``, with
    one ``INSERT … SELECT`` (whatever the number of accounts); returns how many.

    Run in the expiry's transaction just before it (the due lots are frozen, so both see
    the same lots). Payload: ``program``, ``customer_id`` / ``household_id`` (the holder),
    ``points`` (Σ of the due lots' remaining), ``balance`` (after the expiry), ``lots``
    (``[{"lot_id", "points"}]``) and ``expired_at`` (the run's ``now``, ISO 8601 UTC).
    Key ``points_expired:<account id>:<expired_at>``: a re-run expires nothing more and so
    records nothing; a later run only reports the lots that became due since.
    """
    stamp = now.astimezone(UTC).isoformat()
    sql_json = _JSON[session.get_bind().dialect.name]
    due = (
        select(
            LoyaltyLot.account_id,
            func.sum(LoyaltyLot.remaining).label("points"),
            sql_json.lots(LoyaltyLot.id, LoyaltyLot.remaining).label("lots"),
        )
        .where(*due_for_expiry(now))
        .group_by(LoyaltyLot.account_id)
        .subquery()
    )
    payload = sql_json.build(
        program=LoyaltyProgram.code,
        customer_id=LoyaltyAccount.customer_id,
        household_id=LoyaltyAccount.household_id,
        points=due.c.points,
        balance=LoyaltyAccount.balance - due.c.points,
        lots=sql_json.embed(due.c.lots),
        expired_at=_text(stamp),
    )
    rows = (
        select(
            literal("points_expired:") + cast(due.c.account_id, String) + literal(f":{stamp}"),
            literal("points_expired"),
            due.c.account_id,
            payload,
            literal(utcnow(), LoyaltyEvent.created_at.type),
        )
        .join(LoyaltyAccount, LoyaltyAccount.id == due.c.account_id)
        .join(LoyaltyProgram, LoyaltyProgram.id == LoyaltyAccount.program_id)
    )
    return emit_from_select(session, rows)


@dataclass(frozen=True)
class _JsonFunctions:
    """Building JSON in SQL, per dialect: ``build(**fields)`` an object, ``lots(id,
    points)`` the aggregate array of ``{"lot_id", "points"}``, ``embed`` an aggregate from
    a subquery inside an object."""

    build: Callable[..., ColumnElement[Any]]
    lots: Callable[[Any, Any], ColumnElement[Any]]
    embed: Callable[[Any], ColumnElement[Any]]


def _text(value: str) -> ColumnElement[str]:
    """A string parameter typed as text (PostgreSQL cannot type one inside
    ``jsonb_build_object``)."""
    return cast(literal(value), String)


def _object(function: str) -> Callable[..., ColumnElement[Any]]:
    def build(**fields: Any) -> ColumnElement[Any]:
        pairs = [part for name, value in fields.items() for part in (_text(name), value)]
        built: ColumnElement[Any] = getattr(func, function)(*pairs)
        return built

    return build


_JSON = {
    "postgresql": _JsonFunctions(
        build=_object("jsonb_build_object"),
        lots=lambda lot_id, points: func.jsonb_agg(
            aggregate_order_by(
                func.jsonb_build_object(_text("lot_id"), lot_id, _text("points"), points),
                lot_id,
            )
        ),
        embed=lambda column: column,
    ),
    # SQLite: json_group_array has no ORDER BY before 3.44; json() keeps the subquery's
    # text a JSON array inside the object rather than a quoted string.
    "sqlite": _JsonFunctions(
        build=_object("json_object"),
        lots=lambda lot_id, points: func.json_group_array(
            func.json_object(_text("lot_id"), lot_id, _text("points"), points)
        ),
        embed=func.json,
    ),
}


@dataclass(frozen=True)
class ExpiringLot:
    program: str
    account_id: int
    customer_id: str | None
    household_id: str | None
    lot_id: int
    remaining: int
    expires_at: datetime


def expiring_soon(session: Session, now: datetime, days: int) -> list[ExpiringLot]:
    """Lots with points left that expire within ``days`` after ``now``: who to warn."""
    rows = session.execute(
        select(
            LoyaltyProgram.code,
            LoyaltyAccount.id,
            LoyaltyAccount.customer_id,
            LoyaltyAccount.household_id,
            LoyaltyLot.id,
            LoyaltyLot.remaining,
            LoyaltyLot.expires_at,
        )
        .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyLot.account_id)
        .join(LoyaltyProgram, LoyaltyProgram.id == LoyaltyAccount.program_id)
        .where(
            LoyaltyLot.remaining > 0,
            LoyaltyLot.expires_at > now,
            LoyaltyLot.expires_at <= now + timedelta(days=days),
        )
        .order_by(LoyaltyLot.expires_at, LoyaltyLot.id)
    ).all()
    return [
        ExpiringLot(code, account, customer, household, lot, remaining, expires)
        for code, account, customer, household, lot, remaining, expires in rows
        if expires is not None
    ]


def emit_expiry_warnings(session: Session, now: datetime, days: int) -> int:
    """A ``points_expiring`` event for every lot with points left that expires within
    ``days`` (once per lot); returns how many lots are expiring."""
    lots = expiring_soon(session, now, days)
    for lot in lots:
        emit(
            session,
            "points_expiring",
            f"points_expiring:{lot.lot_id}",
            {
                "program": lot.program,
                "customer_id": lot.customer_id,
                "household_id": lot.household_id,
                "points": lot.remaining,
                "expires_at": lot.expires_at.isoformat(),
            },
            account_id=lot.account_id,
        )
    return len(lots)
