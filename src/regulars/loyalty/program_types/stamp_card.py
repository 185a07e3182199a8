"""Stamp card: buy N of a product or category, get one free ("the 6th coffee is free").

Every unit on a paid line (``amount > 0``) whose SKU or category the card counts earns one
stamp; the free item itself comes as a zero-amount line and earns none. When the card holds
``stamps_required`` stamps they turn into a voucher (a :class:`FreeItem`) and the card starts
over; stamps beyond N in the same order go onto the new card. Redeeming a voucher uses it.
"Buy 5, the 6th is free" is ``stamps_required = 5``: five paid coffees fill the card, the
voucher pays for the sixth.

A return removes the returned units' stamps: first from the current card; if the card has
too few, the newest unused voucher is revoked (a :class:`Revoke`) and turned back into N
stamps; if every voucher was already used, the rest becomes ``debt`` that later stamps pay
off before they count. So at every moment

    stamps + N × (open vouchers + redeemed vouchers) − debt  =  units bought − units returned

and the stamps never go negative. Voucher keys are ``stamp:<code>:<customer>:<n>`` where
``n`` counts the vouchers ever earned (never reused, also after a revocation).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from regulars.loyalty.program_types.fields import Code
from regulars.loyalty.program_types.history import OrderLine, Purchase, Return
from regulars.loyalty.program_types.outcomes import FreeItem, Revoke
from regulars.loyalty.program_types.volume_gifts import CouponGift, VolumeGift


class StampCardConfig(BaseModel):
    """A stamp card, optionally with a gift after a purchase volume or K coupons."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["stamp_card"] = "stamp_card"
    code: Code
    skus: frozenset[str] = Field(frozenset(), description="SKUs that earn stamps.")
    categories: frozenset[str] = Field(frozenset(), description="Categories that earn stamps.")
    stamps_required: Annotated[int, Field(ge=1, le=1000)] = Field(
        description="N: stamps that make one voucher ('buy 5, the 6th free' is 5)."
    )
    reward_sku: str | None = Field(None, description="SKU of the free item; else any of skus.")
    reward_category: str | None = Field(None, description="Category of the free item.")
    volume_gift: VolumeGift | None = None
    coupon_gift: CouponGift | None = None

    @model_validator(mode="after")
    def _counts_something(self) -> StampCardConfig:
        if not self.skus and not self.categories:
            raise ValueError(f"stamp card {self.code}: give skus, categories or both")
        return self

    def counts(self, line: OrderLine) -> bool:
        """Whether the line's units earn (or, returned, remove) stamps."""
        return line.sku in self.skus or line.category in self.categories


@dataclass(frozen=True)
class StampCard:
    """One customer's card. ``open`` holds the numbers of unused vouchers, oldest first."""

    customer_id: str
    stamps: int = 0
    open: tuple[int, ...] = ()
    earned: int = 0
    redeemed: int = 0
    debt: int = 0


@dataclass(frozen=True)
class Redemption:
    """The customer used their oldest open voucher at ``at``."""

    customer_id: str
    at: datetime


@dataclass(frozen=True)
class StampReplay:
    """A card after a history, with every voucher and revocation it produced."""

    card: StampCard
    outcomes: list[FreeItem | Revoke] = field(default_factory=list)


def voucher_key(config: StampCardConfig, customer_id: str, number: int) -> str:
    """The idempotency key of a customer's ``number``-th voucher."""
    return f"stamp:{config.code}:{customer_id}:{number}"


def _voucher(config: StampCardConfig, customer_id: str, number: int) -> FreeItem:
    sku = config.reward_sku
    if sku is None and config.reward_category is None and len(config.skus) == 1:
        sku = next(iter(config.skus))
    return FreeItem(
        key=voucher_key(config, customer_id, number),
        reason=f"stamp card {config.code} full",
        quantity=1,
        sku=sku,
        category=config.reward_category,
    )


def qualifying_units(config: StampCardConfig, lines: Iterable[OrderLine]) -> int:
    """Units of paid lines the card counts."""
    return sum(line.quantity for line in lines if line.amount > 0 and config.counts(line))


def add_stamps(
    config: StampCardConfig, card: StampCard, units: int
) -> tuple[StampCard, list[FreeItem]]:
    """``units`` new stamps: pay off debt first, then fill cards into vouchers."""
    paid = min(card.debt, units)
    stamps, open_, earned = card.stamps + units - paid, list(card.open), card.earned
    vouchers = []
    while stamps >= config.stamps_required:
        stamps -= config.stamps_required
        earned += 1
        open_.append(earned)
        vouchers.append(_voucher(config, card.customer_id, earned))
    card = replace(card, stamps=stamps, open=tuple(open_), earned=earned, debt=card.debt - paid)
    return card, vouchers


def remove_stamps(
    config: StampCardConfig, card: StampCard, units: int
) -> tuple[StampCard, list[Revoke]]:
    """``units`` returned: off the card, then by revoking the newest open vouchers, then debt."""
    stamps, open_, revoked = card.stamps, list(card.open), []
    while units > stamps and open_:
        number = open_.pop()
        stamps += config.stamps_required
        key = voucher_key(config, card.customer_id, number)
        revoked.append(Revoke(key=key, reason=f"stamp card {config.code}: items returned"))
    taken = min(stamps, units)
    card = replace(card, stamps=stamps - taken, open=tuple(open_), debt=card.debt + units - taken)
    return card, revoked


def redeem(card: StampCard) -> tuple[StampCard, int]:
    """Use the oldest open voucher; returns the card and the voucher's number."""
    if not card.open:
        raise ValueError(f"customer {card.customer_id}: no open stamp-card voucher to redeem")
    number, rest = card.open[0], card.open[1:]
    return replace(card, open=rest, redeemed=card.redeemed + 1), number


def replay(
    config: StampCardConfig,
    customer_id: str,
    events: Sequence[Purchase | Return | Redemption],
) -> StampReplay:
    """The customer's card after their purchases, returns and redemptions, in time order
    (events at the same instant in the order given)."""
    card = StampCard(customer_id=customer_id)
    outcomes: list[FreeItem | Revoke] = []
    for event in sorted(events, key=lambda e: e.at):
        if event.customer_id != customer_id:
            continue
        if isinstance(event, Purchase):
            card, vouchers = add_stamps(config, card, qualifying_units(config, event.lines))
            outcomes.extend(vouchers)
        elif isinstance(event, Return):
            units = sum(line.quantity for line in event.lines if config.counts(line))
            card, revoked = remove_stamps(config, card, units)
            outcomes.extend(revoked)
        else:
            card, _ = redeem(card)
    return StampReplay(card=card, outcomes=outcomes)
