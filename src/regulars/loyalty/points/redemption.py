"""Redeeming points and manual adjustments.

A redemption is atomic (the account row is locked first, so concurrent redemptions never
overdraw), idempotent by its key and the request's fingerprint, capped per order by the
program's ``max_redeem_share`` and, from a household account, bound by the household's
spend policy; an order recorded as cancelled takes no redemption. An adjustment is a manual
credit or debit with a reason, audited once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting.enrolment import enroll, household_of
from regulars.loyalty.accounting.ledger import (
    EntrySpec,
    OrderRef,
    Posted,
    credit,
    debit,
    fingerprint,
    lock_account,
    points_money,
    spend,
)
from regulars.loyalty.catalogue import points_config
from regulars.loyalty.errors import HouseholdSpendError, OrderCancelledError, RedemptionCapError
from regulars.loyalty.program_types import PointsProgramConfig
from regulars.loyalty.program_types.earning import max_redeemable
from regulars.loyalty.program_types.household import may_spend
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry, LoyaltyProgram
from regulars.store.audit import record
from regulars.store.tables import Order


def _spent_on_order(session: Session, account_id: int, order: OrderRef) -> int:
    """Points the account's redemptions tied to ``order`` spent so far, net of cancelled
    redemptions (their ``cancel_spend`` entries give the points back)."""
    spent = session.scalar(
        select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.account_id == account_id,
            LoyaltyEntry.kind.in_(("spend", "cancel_spend")),
            LoyaltyEntry.shop_id == order.shop_id,
            LoyaltyEntry.order_id == order.order_id,
        )
    )
    return -int(spent or 0)


def _check_household_spend(
    session: Session,
    config: PointsProgramConfig,
    account: LoyaltyAccount,
    customer_id: str,
    points: int,
    order: OrderRef | None,
) -> None:
    """:func:`~regulars.loyalty.program_types.household.may_spend` for a redemption from a
    household account: the points counted are this redemption's plus what the account
    already spent on the same order. The account is locked first, so concurrent
    redemptions on one order are counted one after the other."""
    rules = config.household
    household = household_of(session, rules, customer_id)
    if household is None or household.household_id != account.household_id:
        return  # not a member (the holder changed in this transaction): enroll decided
    lock_account(session, account.id)
    counted = points
    limited = rules.member_points_per_order is not None and customer_id != household.owner
    if limited and order is None:
        # A limit per order means nothing without the order: redemptions without one
        # would add up past it.
        raise HouseholdSpendError(
            f"customer '{customer_id}' may redeem from the household account of "
            f"'{account.household_id}' only on an order (members may spend at most "
            f"{rules.member_points_per_order} points per order): send order_id"
        )
    if order is not None and rules.member_points_per_order is not None:
        counted += _spent_on_order(session, account.id, order)
    decision = may_spend(rules, household, customer_id, counted)
    if not decision.allowed:
        raise HouseholdSpendError(
            f"customer '{customer_id}' may not redeem {points} points from the household "
            f"account of '{account.household_id}': {decision.reason}"
        )


def _refuse_cancelled_order(session: Session, order: OrderRef) -> None:
    """:class:`~regulars.loyalty.errors.OrderCancelledError` when ``order`` is recorded and
    cancelled (an order not recorded yet is the usual checkout: redeem first, then
    ``POST /v1/orders``)."""
    status = session.scalar(
        select(Order.status).where(Order.shop_id == order.shop_id, Order.order_id == order.order_id)
    )
    if status == "cancelled":
        raise OrderCancelledError(order)


def _recorded(session: Session, account_id: int, key: str) -> bool:
    found = session.scalar(
        select(LoyaltyEntry.id).where(
            LoyaltyEntry.account_id == account_id, LoyaltyEntry.idempotency_key == key
        )
    )
    return found is not None


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

    From a household account the program's ``household`` spend policy applies
    (:class:`~regulars.loyalty.errors.HouseholdSpendError`). Idempotent by ``key`` (with the
    request's fingerprint): a retry returns the first result, another request under the same
    key raises ``IdempotencyConflictError``. Points cannot be redeemed on an order recorded
    as cancelled (:class:`~regulars.loyalty.errors.OrderCancelledError`; a retry of a
    redemption made before the order was cancelled still answers its first result).
    """
    now = now or utcnow()
    config = points_config(program)
    request = fingerprint(
        {"points": points, "order": order and order.__dict__, "amount": order_amount}
    )
    account = enroll(session, program, customer_id)
    entry_key = f"redeem:{key}"
    replay = _recorded(session, account.id, entry_key)
    if order is not None and not replay:
        _refuse_cancelled_order(session, order)
    if account.household_id is not None and not replay:
        _check_household_spend(session, config, account, customer_id, points, order)
    if order_amount is not None:
        cap = max_redeemable(config, order_amount, points)
        if points > cap:
            raise RedemptionCapError(points, cap)
    spec = EntrySpec(
        kind="spend",
        key=entry_key,
        actor=actor,
        occurred_at=now,
        request_hash=request,
        money=points_money(points, config.point_value),
        order=order,
        customer_id=customer_id,
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
        customer_id=customer_id,
    )
    if points > 0:
        expiry_days = points_config(program).expiry_days if program.type == "points" else None
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
