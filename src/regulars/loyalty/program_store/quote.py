"""What a cart gets from the live programs at checkout; reads only, writes nothing.

For a cart of ``amount`` with ``lines`` placed by ``customer_id`` now:

* **discount card**: the percentage of the step the customer's spend *before* this order
  reaches (:func:`~regulars.loyalty.program_types.discount_card.next_order_discount`) and
  ``amount × pct / 100`` (half-up to the cent);
* **tiers**: the customer's tier now (the stored state evaluated on to now, without
  writing: :func:`~regulars.loyalty.program_store.tier_clubs.tier_at`) and its discount; and as
  ``tier_after`` the tier the cart *reaches*, the same evaluation with the cart as one more
  spend at now (upgrades are immediate: the order earns its points at that tier, see
  :func:`regulars.loyalty.points.views.quote`; the upgraded tier's discount applies from the
  next order, the discount being granted before the order exists). A points-based club's
  ``tier_after`` does not count the cart's own points (they are earned when the order is
  recorded);
* **stamp card**: the units the cart adds, the card's stamps now, whether the cart
  completes a card (a free item is granted on the order) and the open vouchers the customer
  may use on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regulars.loyalty.catalogue import program_config
from regulars.loyalty.program_cache import running_programs
from regulars.loyalty.program_store.dispatch import DISPATCHED_TYPES, stamp_outcomes
from regulars.loyalty.program_store.history import History, customer_history
from regulars.loyalty.program_store.tables import LoyaltyReward
from regulars.loyalty.program_store.tier_clubs import tier_at
from regulars.loyalty.program_types import (
    DiscountCardConfig,
    StampCardConfig,
    TierClubConfig,
    discount_card,
    stamp_card,
)
from regulars.loyalty.program_types.history import OrderLine
from regulars.loyalty.tables import LoyaltyProgram


@dataclass(frozen=True)
class ProgramQuote:
    """One live program's part of a quote; fields that do not apply to its type are None."""

    program: str
    type: str
    discount_pct: Decimal | None = None
    discount_amount: Decimal | None = None
    tier: str | None = None
    tier_after: str | None = None
    perks: list[str] = field(default_factory=list)
    stamps_added: int | None = None
    stamps_now: int | None = None
    stamps_required: int | None = None
    completes_free_item: bool | None = None
    open_vouchers: int | None = None


def _discount(
    program: LoyaltyProgram,
    config: DiscountCardConfig,
    customer_id: str,
    history: History,
    amount: Decimal,
    now: datetime,
) -> ProgramQuote:
    granted = discount_card.next_order_discount(
        config, customer_id, history.purchases, history.returns, now
    )
    pct = granted.pct or Decimal(0)
    return ProgramQuote(
        program.code,
        program.type,
        discount_pct=pct,
        discount_amount=discount_card.discount_amount(amount, pct),
    )


def _tiers(
    session: Session,
    program: LoyaltyProgram,
    config: TierClubConfig,
    customer_id: str,
    history: History,
    amount: Decimal,
    now: datetime,
) -> ProgramQuote:
    # The tier now (the stored state moved on to now: a window may have ended since) and
    # the tier with the cart as one more event: the same evaluation as an order's.
    current = tier_at(session, program, config, customer_id, history, now)
    after = tier_at(session, program, config, customer_id, history, now, cart=amount)
    tier = config.tier(current)
    pct = tier.discount_pct if tier else Decimal(0)
    return ProgramQuote(
        program.code,
        program.type,
        discount_pct=pct,
        discount_amount=discount_card.discount_amount(amount, pct),
        tier=current,
        tier_after=after,
        perks=list(tier.perks) if tier else [],
    )


def _stamps(
    session: Session,
    program: LoyaltyProgram,
    config: StampCardConfig,
    customer_id: str,
    history: History,
    lines: Sequence[OrderLine],
) -> ProgramQuote:
    card, _ = stamp_outcomes(
        session, program, config, customer_id, history.since(program.starts_at)
    )
    added = stamp_card.qualifying_units(config, lines)
    _, vouchers = stamp_card.add_stamps(config, card, added)
    open_vouchers = session.scalar(
        select(func.count()).where(
            LoyaltyReward.program_id == program.id,
            LoyaltyReward.customer_id == customer_id,
            LoyaltyReward.state == "issued",
        )
    )
    return ProgramQuote(
        program.code,
        program.type,
        stamps_added=added,
        stamps_now=card.stamps,
        stamps_required=config.stamps_required,
        completes_free_item=bool(vouchers),
        open_vouchers=int(open_vouchers or 0),
    )


def quote_programs(
    session: Session,
    customer_id: str,
    amount: Decimal,
    lines: Sequence[OrderLine],
    now: datetime,
) -> list[ProgramQuote]:
    """Each running live program's part of the cart's quote, oldest program first."""
    history = customer_history(session, customer_id)
    quoted = []
    for program in running_programs(session, DISPATCHED_TYPES, now):
        config = program_config(program)
        if isinstance(config, DiscountCardConfig):
            quoted.append(_discount(program, config, customer_id, history, amount, now))
        elif isinstance(config, TierClubConfig):
            quoted.append(_tiers(session, program, config, customer_id, history, amount, now))
        elif isinstance(config, StampCardConfig):
            quoted.append(_stamps(session, program, config, customer_id, history, lines))
    return quoted


def cart_lines(lines: Sequence[tuple[Decimal, str | None, str | None, int]]) -> list[OrderLine]:
    """(line_amount, sku, category, quantity) tuples as rule lines."""
    return [OrderLine(quantity=q, amount=a, sku=s, category=c) for a, s, c, q in lines]
