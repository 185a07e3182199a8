"""Earning on orders: base points and bonus events of every running ``points`` program,
at the tier the order reaches in the running tier clubs and the customer's paid-membership
multiplier; then the other program types react to the order
(:func:`~regulars.loyalty.program_store.dispatch.apply_programs_for_order`).

Every lot is credited under its own key (the base lot ``order:<shop>:<order_id>``, each
bonus lot its bonus's key), so recording an order twice earns once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.loyalty.accounting.enrolment import enroll, held_out
from regulars.loyalty.accounting.ledger import (
    SYSTEM,
    EntrySpec,
    OrderRef,
    Posted,
    credit,
    points_money,
)
from regulars.loyalty.catalogue import points_config
from regulars.loyalty.program_cache import running_points_programs
from regulars.loyalty.program_store.dispatch import apply_programs_for_order
from regulars.loyalty.program_store.membership import earn_multiplier
from regulars.loyalty.program_store.tier_clubs import earning_tier, tiers_for_order
from regulars.loyalty.program_types import PointsProgramConfig
from regulars.loyalty.program_types.bonus import PurchaseEarn, bounded_key, purchase_earns
from regulars.loyalty.program_types.history import OrderLine as RuleLine
from regulars.loyalty.program_types.history import Purchase
from regulars.loyalty.program_types.outcomes import Earn
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyProgram
from regulars.loyalty.webhooks import emit
from regulars.store.tables import Customer, Order, OrderLine


def _purchase(session: Session, order: Order) -> Purchase:
    """The order as the earning rules read it: its positive lines (none: earn on the
    amount)."""
    rows = session.execute(
        select(OrderLine.quantity, OrderLine.line_amount, OrderLine.sku, OrderLine.category)
        .where(
            OrderLine.shop_id == order.shop_id,
            OrderLine.order_id == order.order_id,
            OrderLine.line_amount > 0,
        )
        .order_by(OrderLine.id)
    ).all()
    # Earning reads amounts only; a negative quantity (a returned line) is not a count here.
    lines = tuple(RuleLine(max(int(q), 0), a, sku, category) for q, a, sku, category in rows)
    return Purchase(
        order.order_id, order.customer_id, order.ordered_at, order.amount, lines, order.shop_id
    )


def _earlier_purchases(session: Session, customer_id: str, at: datetime) -> list[Purchase]:
    """The customer's first two paid orders (not cancelled, amount > 0) up to ``at``, by
    time then order id: enough for :func:`~regulars.loyalty.program_types.bonus.
    is_first_purchase` to tell whether an order at ``at`` is their first."""
    rows = session.execute(
        select(Order.order_id, Order.ordered_at, Order.amount)
        .where(
            Order.customer_id == customer_id,
            Order.status != "cancelled",
            Order.amount > 0,
            Order.ordered_at <= at,
        )
        .order_by(Order.ordered_at, Order.order_id)
        .limit(2)
    ).all()
    return [Purchase(order_id, customer_id, when, amount) for order_id, when, amount in rows]


def _time_zone(session: Session, customer_id: str) -> str | None:
    """The customer's ``time_zone`` (weekday bonuses fall back to the program's
    ``default_time_zone`` without a known one)."""
    return session.scalar(select(Customer.time_zone).where(Customer.customer_id == customer_id))


def _tier_multiplier(session: Session, order: Order) -> Decimal:
    """The earn multiplier of the ordering customer's tier in the running ``tiers`` programs
    at the order, this order included (upgrades are immediate): the stored tier state
    evaluated on to the order
    (:func:`regulars.loyalty.program_store.tier_clubs.tiers_for_order`, before this order
    earns), the largest multiplier if several clubs run; 1 without a tier."""
    tier = earning_tier(tiers_for_order(session, order))
    return Decimal(1) if tier is None else tier.earn_multiplier


def order_earns(
    session: Session,
    config: PointsProgramConfig,
    purchase: Purchase,
    multiplier: Decimal,
) -> list[PurchaseEarn]:
    """What ``purchase`` earns in a program with ``config`` at ``multiplier`` (tier ×
    membership), lot by lot: the customer's earlier orders are read only for a
    first-purchase bonus, their time zone only when the program has bonuses. The order
    hook and the checkout quote (:func:`regulars.loyalty.points.views.quote`) both earn
    through it."""
    history = (
        _earlier_purchases(session, purchase.customer_id, purchase.at)
        if config.has_first_purchase_bonus()
        else []
    )
    time_zone = _time_zone(session, purchase.customer_id) if config.bonuses else None
    return purchase_earns(config, purchase, history, time_zone, multiplier)


def credit_earn(
    session: Session,
    program: LoyaltyProgram,
    config: PointsProgramConfig,
    account: LoyaltyAccount,
    customer_id: str,
    part: PurchaseEarn | Earn,
    occurred_at: datetime,
    order: OrderRef | None = None,
) -> Posted:
    """Credit one earn lot; a bonus lot (not the base one) also records a
    ``bonus_awarded`` event the first time."""
    earn = part.earn if isinstance(part, PurchaseEarn) else part
    is_bonus = not (isinstance(part, PurchaseEarn) and part.kind == "base")
    spec = EntrySpec(
        kind="earn",
        key=earn.key,
        actor=SYSTEM,
        occurred_at=occurred_at,
        reason=earn.reason if is_bonus else None,
        money=points_money(earn.points, config.point_value),
        order=order,
    )
    posted = credit(
        session,
        account.id,
        earn.points,
        spec,
        available_at=earn.available_at,
        expires_at=earn.expires_at,
    )
    if is_bonus and not posted.replay:
        emit(
            session,
            "bonus_awarded",
            bounded_key(f"bonus_awarded:{account.id}:{earn.key}"),
            {
                "program": program.code,
                "customer_id": customer_id,
                "points": earn.points,
                "reason": earn.reason,
                "order_id": order.order_id if order else None,
                "available_at": earn.available_at.isoformat(),
            },
            account_id=account.id,
        )
    return posted


def on_order_recorded(session: Session, order: Order) -> list[Posted]:
    """Earn points for ``order`` in every running ``points`` program; idempotent by key.

    The customer is enrolled on their first order (an opted-out account, and the control
    group, earn nothing). The order earns by the program's rules and bonuses
    (:func:`~regulars.loyalty.program_types.bonus.purchase_earns`): base points at the tier
    (and membership) multiplier, the best non-stacking multiplier bonus (period bonuses
    in the customer's time zone, else the program's ``default_time_zone``) and the
    first-purchase points of a customer's first paid order, each its own lot, tied to the
    order (so a return reverses it) and under its own key. The tier multiplier is the
    ordering customer's tier in the running ``tiers`` programs, evaluated before earning so
    that this order counts (upgrades are immediate; see :func:`_tier_multiplier`); a
    household account earns at the tier of the member who ordered. Every lot becomes
    spendable after ``pending_days`` and expires ``expiry_days`` after the order. Orders
    that are cancelled or not positive (standalone return documents) earn nothing. The tier
    clubs' state and their ``tier_changed`` events are written afterwards by
    :func:`~regulars.loyalty.program_store.dispatch.apply_programs_for_order`.
    """
    if order.status == "cancelled" or order.amount <= 0:
        return []
    purchase = _purchase(session, order)
    ref = OrderRef(order.shop_id, order.order_id)
    tier_multiplier = _tier_multiplier(session, order)
    posted = []
    for program in running_points_programs(session, order.ordered_at):
        if held_out(session, program, order.customer_id):
            continue  # the control group earns nothing
        account = enroll(session, program, order.customer_id)
        if account.state != "active":
            continue
        config = points_config(program)
        multiplier = tier_multiplier * earn_multiplier(session, order.customer_id, order.ordered_at)
        for part in order_earns(session, config, purchase, multiplier):
            posted.append(
                credit_earn(
                    session,
                    program,
                    config,
                    account,
                    order.customer_id,
                    part,
                    order.ordered_at,
                    ref,
                )
            )
    apply_programs_for_order(session, order)  # stamp cards, tiers, badges (program_store)
    return posted
