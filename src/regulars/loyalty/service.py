"""Loyalty use cases on top of the ledger: earning on orders (base points and bonus
events), action bonuses (reviews, completed profiles), reversing on returns, redeeming
(with a household card's spend policy) and cancelling redemptions, manual adjustments, the
checkout quote, account views and the nightly expiry.

Each function works in the caller's session (one transaction) and raises
:class:`~regulars.loyalty.errors.LedgerError` or
:class:`~regulars.loyalty.errors.ProgramError` for outcomes a caller must see.

**Returns** (:func:`on_return_recorded`). Let an order of amount ``A`` have earned ``E``
points and spent ``S``; its returns so far total ``c`` (capped at ``A``). Then

    reversed(c)   = E − floor(E × (A − c) / A)      (what the order may no longer keep)
    re-credited(c) = floor((S − C) × c / A)

(``C``: what cancelled redemptions of the order gave back, :func:`cancel_points`),
applied to every earn lot of the order on its own ``E`` (the base lot and each bonus lot,
each reversal under its own key), and each return reverses
``reversed(c_after) − reversed(c_before)`` and re-credits
``re-credited(c_after)`` less what was re-credited before (points may be spent on an
order after a partial return of it). A full return takes back all ``E`` and gives back all
``S − C``; a partial one leaves the customer ``floor(E × kept share)``, never more, so
buying and returning cannot create points. Points to reverse that were already spent (the
lot no longer holds them) follow the program's ``shortfall_policy`` (see
:class:`~regulars.loyalty.accounting.ledger.Reversal`). Re-credited points go into a new lot,
available at once, expiring when the latest lot the spend took from expired, but at the
earliest :data:`RECREDIT_MIN_DAYS` after the return (never, if a spent lot never expires).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import Any

from sqlalchemy import Engine, Select, String, cast, func, literal, select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting.control import held_out
from regulars.loyalty.accounting.enrolment import enroll
from regulars.loyalty.accounting.holders import find_account, household_of, program_of_account
from regulars.loyalty.accounting.ledger import (
    Cancellation,
    EntrySpec,
    OrderRef,
    Posted,
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
from regulars.loyalty.catalogue import points_config
from regulars.loyalty.errors import (
    HouseholdSpendError,
    OrderCancelledError,
    RedemptionCapError,
    RedemptionNotFoundError,
)
from regulars.loyalty.live.dispatch import (
    apply_programs_for_order,
    apply_programs_for_return,
    club_tiers,
    earning_tier,
    tiers_for_order,
)
from regulars.loyalty.live.history import review_subject
from regulars.loyalty.merging import merged_ids
from regulars.loyalty.program_cache import running_points_programs
from regulars.loyalty.program_types import PointsProgramConfig
from regulars.loyalty.program_types.bonus import (
    PurchaseEarn,
    bounded_key,
    earn_for_profile,
    earn_for_review,
    order_key,
    purchase_earns,
)
from regulars.loyalty.program_types.earning import max_redeemable
from regulars.loyalty.program_types.history import OrderLine as RuleLine
from regulars.loyalty.program_types.history import Purchase
from regulars.loyalty.program_types.household import may_spend
from regulars.loyalty.program_types.outcomes import Earn
from regulars.loyalty.tables import (
    ENTRY_KINDS,
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyEvent,
    LoyaltyLot,
    LoyaltyLotConsumption,
    LoyaltyProgram,
)
from regulars.loyalty.webhooks import emit, emit_from_select, subscribed
from regulars.store.audit import record
from regulars.store.json_sql import JSON_FUNCTIONS, typed_text
from regulars.store.session import session_scope
from regulars.store.tables import Customer, Order, OrderLine, OrderReturn

RECREDIT_MIN_DAYS = 30
SYSTEM = "system"


def fingerprint(payload: dict[str, Any]) -> str:
    """SHA-256 of a request's canonical JSON, to tell a retry from a different request."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# -- earning on orders --------------------------------------------------------------------


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
    """The earn multiplier of the ordering customer's tier in the running ``tiers``
    programs at the order, this order included (upgrades are immediate): the stored tier
    state evaluated on to the order (:func:`regulars.loyalty.live.dispatch.tiers_for_order`,
    before this order earns), the largest multiplier if several clubs run; 1 without a tier."""
    tier = earning_tier(tiers_for_order(session, order))
    return Decimal(1) if tier is None else tier.earn_multiplier


def _membership_multiplier(session: Session, customer_id: str, at: datetime) -> Decimal:
    """The paid-membership earn multiplier (:func:`regulars.loyalty.live.membership.
    earn_multiplier`), applied on top of the tier's. Imported here: the membership module
    builds on this one."""
    from regulars.loyalty.live.membership import earn_multiplier

    return earn_multiplier(session, customer_id, at)


def _order_key(order: Order) -> str:
    return order_key(order.shop_id, order.order_id)


def _order_earns(
    session: Session,
    config: PointsProgramConfig,
    purchase: Purchase,
    multiplier: Decimal,
) -> list[PurchaseEarn]:
    history = (
        _earlier_purchases(session, purchase.customer_id, purchase.at)
        if config.has_first_purchase_bonus()
        else []
    )
    time_zone = _time_zone(session, purchase.customer_id) if config.bonuses else None
    return purchase_earns(config, purchase, history, time_zone, multiplier)


def _credit_earn(
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
    :func:`~regulars.loyalty.live.dispatch.apply_programs_for_order`.
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
        multiplier = tier_multiplier * _membership_multiplier(
            session, order.customer_id, order.ordered_at
        )
        for part in _order_earns(session, config, purchase, multiplier):
            posted.append(
                _credit_earn(
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
    apply_programs_for_order(session, order)  # stamp cards, tiers, badges (loyalty.live)
    return posted


# -- action bonuses -----------------------------------------------------------------------


ActionRule = Callable[[str], list[Earn]]
"""An action bonus's pure rule for one customer id: the lots the action earns them."""


def _not_earned_before_merge(
    session: Session, account_id: int, earns: list[Earn], twins: list[list[Earn]]
) -> list[Earn]:
    """``earns`` less the lots whose twin — the same bonus for a customer merged into this
    one, the lot at the same place in each list of ``twins`` — the account already holds
    (the merge moved that customer's lots here under their own keys)."""
    keys = [twin.key for lots in twins for twin in lots]
    if not keys:
        return earns
    held = set(
        session.scalars(
            select(LoyaltyEntry.idempotency_key).where(
                LoyaltyEntry.account_id == account_id, LoyaltyEntry.idempotency_key.in_(keys)
            )
        )
    )
    return [earn for i, earn in enumerate(earns) if all(lots[i].key not in held for lots in twins)]


def _grant_action(
    session: Session,
    program: LoyaltyProgram,
    config: PointsProgramConfig,
    customer_id: str,
    rule: ActionRule,
    at: datetime,
) -> list[Posted]:
    """Credit the lots ``rule(customer_id)`` gives to the customer's account (enrolling
    them); nothing for the control group or an opted-out account. Once per customer counts
    the customers merged into this one (:func:`~regulars.loyalty.merging.merged_ids`): a
    lot is not granted when the account holds the same bonus earned by one of them."""
    earns = rule(customer_id)
    if not earns or held_out(session, program, customer_id):
        return []
    account = enroll(session, program, customer_id)
    if account.state != "active":
        return []
    twins = [rule(merged) for merged in merged_ids(session, customer_id)]
    return [
        _credit_earn(session, program, config, account, customer_id, earn, at)
        for earn in _not_earned_before_merge(session, account.id, earns, twins)
    ]


def on_review_recorded(
    session: Session,
    customer_id: str,
    sku: str | None,
    payload: Mapping[str, Any],
    occurred_at: datetime,
) -> list[Posted]:
    """Grant the ``review_written`` bonuses of every points program running at
    ``occurred_at`` for a review of :func:`review_subject` (once per customer and subject,
    the customers merged into them included; an event without a subject earns nothing)."""
    subject = review_subject(sku, payload)
    if subject is None:
        return []
    posted: list[Posted] = []
    for program in running_points_programs(session, occurred_at):
        config = points_config(program)
        rule = partial(earn_for_review, config, subject=subject, at=occurred_at)
        posted += _grant_action(session, program, config, customer_id, rule, occurred_at)
    return posted


def on_profile_saved(
    session: Session,
    customer_id: str,
    before: Mapping[str, object] | None,
    after: Mapping[str, object],
    now: datetime | None = None,
) -> list[Posted]:
    """Grant the ``profile_completed`` bonuses a save of the customer's profile completes
    (complete ``after``, not ``before``; ``before`` None for a new customer) in every points
    program running now; once per customer and bonus, the customers merged into them
    included (a merge that completes the survivor's profile runs this too)."""
    now = now or utcnow()
    posted: list[Posted] = []
    for program in running_points_programs(session, now):
        config = points_config(program)
        rule = partial(earn_for_profile, config, before=before, after=after, at=now)
        posted += _grant_action(session, program, config, customer_id, rule, now)
    return posted


# -- returns ------------------------------------------------------------------------------


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
        return key
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
        key=f"return:{ref.shop_id}:{ref.return_id}:recredit",
        actor=SYSTEM,
        occurred_at=now,
        order=ref,
    )
    return credit(session, account_id, points, spec, available_at=now, expires_at=expires)


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
    if order is not None and rules.member_points_per_order is not None:
        counted += _spent_on_order(session, account.id, order)
    decision = may_spend(rules, household, customer_id, counted)
    if not decision.allowed:
        raise HouseholdSpendError(
            f"customer '{customer_id}' may not redeem {points} points from the household "
            f"account of '{account.household_id}': {decision.reason}"
        )


def _refuse_cancelled_order(session: Session, order: OrderRef) -> None:
    """:class:`OrderCancelledError` when ``order`` is recorded and cancelled (an order not
    recorded yet is the usual checkout: redeem first, then ``POST /v1/orders``)."""
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
    (:class:`HouseholdSpendError`). Idempotent by ``key`` (with the request's fingerprint):
    a retry returns the first result, another request under the same key raises
    ``IdempotencyConflictError``. Points cannot be redeemed on an order recorded as
    cancelled (:class:`OrderCancelledError`; a retry of a redemption made before the order
    was cancelled still answers its first result).
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

    **What comes back.** A redemption of ``S_i`` points gives back
    ``min(S_i, S − C − R)``, where — for a redemption tied to an order, in its account —
    ``S`` is what the order's redemptions spent, ``C`` what cancellations gave back and
    ``R`` what the order's returns re-credited (:func:`on_return_recorded` re-credits
    ``floor((S − C) × returned / A) − R``). So cancellations and returns together never give
    back more than was spent, in whichever order they come; a redemption without an order
    gives back ``S_i``. The points go back into the lots the spend took them from
    (:func:`~regulars.loyalty.accounting.ledger.cancel_spend`): expiry dates are kept, and
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
    """The tier the account earns at now: the customer's tier in the running ``tiers``
    programs (the largest earn multiplier; :func:`~regulars.loyalty.live.dispatch.
    earning_tier`), None without one."""
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
    tier = earning_tier(club_tiers(session, customer_id, now))
    return AccountView(
        program=program.code,
        account_id=account.id,
        state=account.state,
        balance=account.balance,
        available=available_points(session, account, now),
        pending=pending,
        debt=account.debt,
        overdraft=overdraft(session, account),
        tier=tier.name if tier else None,
        lots=[
            LotView(lot.id, lot.points, lot.remaining, lot.available_at, lot.expires_at)
            for lot in live
        ],
    )


def entries_query(account_id: int) -> Select[LoyaltyEntry]:
    """The account's entries, for :func:`regulars.store.pages.keyset_page` (newest first)."""
    return select(LoyaltyEntry).where(LoyaltyEntry.account_id == account_id)


@dataclass(frozen=True)
class QuotePart:
    """Where a quote's points come from: ``base``, or a bonus (``kind`` and ``code``)."""

    kind: str
    code: str | None
    points: int


@dataclass(frozen=True)
class Quote:
    """What a cart would earn (in total and by source) and what may be redeemed on it."""

    program: str
    points_earned: int
    tier: str | None
    max_redeemable_points: int
    max_redeemable_money: Decimal
    available: int
    earned_from: list[QuotePart] = field(default_factory=list)


def _quote_parts(parts: list[PurchaseEarn]) -> list[QuotePart]:
    """The cart's lots summed by source, base first, then the bonuses in config order."""
    totals: dict[tuple[str, str | None], int] = {}
    for part in parts:
        totals[(part.kind, part.code)] = totals.get((part.kind, part.code), 0) + part.earn.points
    return [QuotePart(kind, code, points) for (kind, code), points in totals.items()]


def _household_allowance(
    session: Session, config: PointsProgramConfig, account: LoyaltyAccount, customer_id: str
) -> int | None:
    """Most points the customer may spend from a household account on one order (None:
    no limit beyond the balance and the cap)."""
    household = household_of(session, config.household, customer_id)
    if household is None or household.household_id != account.household_id:
        return None
    if customer_id == household.owner:
        return None
    if config.household.spend_policy == "owner_only":
        return 0
    return config.household.member_points_per_order


def quote(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    amount: Decimal,
    lines: Sequence[RuleLine],
    now: datetime | None = None,
) -> Quote:
    """A dry run at checkout: reads only, writes nothing (no account is created).

    ``points_earned`` is what the cart would earn as an order now, base and bonuses
    (``earned_from``, by source) at the tier and membership multipliers; 0 for the control
    group and an opted-out account. The cart earns at the tier it reaches in the running
    ``tiers`` programs (the cart counts: upgrades are immediate, as when the order is
    recorded; :func:`~regulars.loyalty.live.dispatch.club_tiers`), the largest multiplier
    if several. What may be redeemed respects the cap and, from a household account, the
    spend policy (``member_points_per_order`` for this order).
    """
    now = now or utcnow()
    config = points_config(program)
    account = find_account(session, program, customer_id)
    tier = earning_tier(club_tiers(session, customer_id, now, cart=amount))
    multiplier = tier.earn_multiplier if tier else Decimal(1)
    multiplier *= _membership_multiplier(session, customer_id, now)
    earns = account is None or account.state == "active"
    if not earns or held_out(session, program, customer_id):
        parts: list[QuotePart] = []
    else:
        cart = Purchase("", customer_id, now, amount, tuple(lines))
        parts = _quote_parts(_order_earns(session, config, cart, multiplier))
    available = available_points(session, account, now) if account else 0
    redeemable = max_redeemable(config, amount, available)
    if account is not None and account.household_id is not None:
        allowance = _household_allowance(session, config, account, customer_id)
        redeemable = redeemable if allowance is None else min(redeemable, allowance)
    return Quote(
        program=program.code,
        points_earned=sum(p.points for p in parts),
        tier=tier.name if tier else None,
        max_redeemable_points=redeemable,
        max_redeemable_money=points_money(redeemable, config.point_value),
        available=available,
        earned_from=parts,
    )


def loyalty_summary(session: Session, customer_id: str) -> list[AccountView]:
    """The customer's account in every program they are enrolled in (Customer 360)."""
    programs = session.scalars(select(LoyaltyProgram).order_by(LoyaltyProgram.id)).all()
    views = [account_view(session, p, customer_id) for p in programs]
    return [v for v in views if v.account_id is not None]


# -- nightly expiry -----------------------------------------------------------------------


def expire_due(engine: Engine, now: datetime | None = None) -> int:
    """The nightly job ``loyalty.expire``: expire every due lot in one transaction
    (:func:`~regulars.loyalty.accounting.ledger.expire_lots`, set-based); returns the points
    expired. ``now`` must not be in the future: lots past it are frozen for every other operation.
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
    sql_json = JSON_FUNCTIONS[session.get_bind().dialect.name]
    due = (
        select(
            LoyaltyLot.account_id,
            func.sum(LoyaltyLot.remaining).label("points"),
            sql_json.object_array("lot_id", LoyaltyLot.id, "points", LoyaltyLot.remaining).label(
                "lots"
            ),
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
        expired_at=typed_text(stamp),
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
