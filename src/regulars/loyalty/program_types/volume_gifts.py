"""Cumulative gifts: a gift after a purchase volume, or after K collected coupons.

* **Volume gift**: the customer's lifetime spend (purchases − returns) reaching
  ``threshold`` earns the gift; with ``repeat`` every further multiple does too
  (spend 2,450 at threshold 1,000 → gifts 1 and 2). Key ``volume:<code>:<customer>:<k>``
  for the k-th multiple. A gift already handed out stays when a later return lowers the
  spend; its key makes sure re-crossing the same multiple gives nothing twice.
* **Coupon gift**: each order of at least ``min_order_amount`` that is not returned in full
  is one coupon; every ``coupons_required`` coupons earn the gift. Key
  ``coupons:<code>:<customer>:<k>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from regulars.loyalty.program_types.fields import Code, Money
from regulars.loyalty.program_types.history import Purchase, Return
from regulars.loyalty.program_types.outcomes import Gift


class VolumeGift(BaseModel):
    """A gift each time lifetime spend reaches a multiple of ``threshold``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    threshold: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
    gift: Annotated[str, Field(min_length=1)]
    repeat: bool = Field(False, description="Also at 2×, 3× … the threshold.")


class CouponGift(BaseModel):
    """A gift for every ``coupons_required`` qualifying orders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    coupons_required: Annotated[int, Field(ge=1)]
    min_order_amount: Money = Decimal(0)
    gift: Annotated[str, Field(min_length=1)]


def volume_gifts(
    config: VolumeGift, customer_id: str, purchases: Sequence[Purchase], returns: Sequence[Return]
) -> list[Gift]:
    """Every volume gift the customer's history has earned so far."""
    spend = sum((p.amount for p in purchases if p.customer_id == customer_id), Decimal(0))
    spend -= sum((r.amount for r in returns if r.customer_id == customer_id), Decimal(0))
    reached = int(spend // config.threshold) if spend > 0 else 0
    if not config.repeat:
        reached = min(reached, 1)
    return [
        Gift(key=f"volume:{config.code}:{customer_id}:{k}", gift=config.gift, reason="volume")
        for k in range(1, reached + 1)
    ]


def coupons_collected(
    config: CouponGift, customer_id: str, purchases: Sequence[Purchase], returns: Sequence[Return]
) -> int:
    """Orders of at least the minimum amount, not returned in full."""
    refunded: dict[str, Decimal] = {}
    for r in returns:
        refunded[r.order_id] = refunded.get(r.order_id, Decimal(0)) + r.amount
    return sum(
        1
        for p in purchases
        if p.customer_id == customer_id
        and p.amount > 0
        and p.amount >= config.min_order_amount
        and refunded.get(p.order_id, Decimal(0)) < p.amount
    )


def coupon_gifts(
    config: CouponGift, customer_id: str, purchases: Sequence[Purchase], returns: Sequence[Return]
) -> list[Gift]:
    """Every coupon gift the customer's history has earned so far."""
    earned = coupons_collected(config, customer_id, purchases, returns) // config.coupons_required
    return [
        Gift(key=f"coupons:{config.code}:{customer_id}:{k}", gift=config.gift, reason="coupons")
        for k in range(1, earned + 1)
    ]
