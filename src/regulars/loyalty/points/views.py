"""What an account and a cart show, reading only: the account view (balance, available,
pending, debt, open lots and the tier the account earns at), its entries, the checkout
quote (what a cart would earn, by source, and what may be redeemed on it) and the
customer's accounts for the Customer 360.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting.enrolment import find_account, held_out, household_of
from regulars.loyalty.accounting.ledger import available_points, overdraft, points_money
from regulars.loyalty.catalogue import points_config
from regulars.loyalty.points.earning import order_earns
from regulars.loyalty.program_store.membership import earn_multiplier
from regulars.loyalty.program_store.tier_clubs import club_tiers, earning_tier
from regulars.loyalty.program_types import PointsProgramConfig
from regulars.loyalty.program_types.bonus import PurchaseEarn
from regulars.loyalty.program_types.earning import max_redeemable
from regulars.loyalty.program_types.history import OrderLine as RuleLine
from regulars.loyalty.program_types.history import Purchase
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry, LoyaltyLot, LoyaltyProgram


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
    programs (the largest earn multiplier; :func:`~regulars.loyalty.program_store.dispatch.
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
    recorded; :func:`~regulars.loyalty.program_store.tier_clubs.club_tiers`), the largest multiplier
    if several. What may be redeemed respects the cap and, from a household account, the
    spend policy (``member_points_per_order`` for this order).
    """
    now = now or utcnow()
    config = points_config(program)
    account = find_account(session, program, customer_id)
    tier = earning_tier(club_tiers(session, customer_id, now, cart=amount))
    multiplier = tier.earn_multiplier if tier else Decimal(1)
    multiplier *= earn_multiplier(session, customer_id, now)
    earns = account is None or account.state == "active"
    if not earns or held_out(session, program, customer_id):
        parts: list[QuotePart] = []
    else:
        cart = Purchase("", customer_id, now, amount, tuple(lines))
        parts = _quote_parts(order_earns(session, config, cart, multiplier))
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
