"""Reading and using what the live programs granted: vouchers, badges, tier state.

Redeeming a voucher is a conditional update (``… SET state = 'redeemed' WHERE id = ? AND
state = 'issued'``), so of two concurrent redemptions exactly one wins. A retry of the
same redemption (same ``order_id``) answers with the voucher as it is; a voucher already
used for another order, or revoked, raises :class:`RewardUsedError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.loyalty.catalogue import program_config
from regulars.loyalty.program_store.apply import rowcount
from regulars.loyalty.program_store.tables import LoyaltyBadge, LoyaltyReward, LoyaltyTierState
from regulars.loyalty.program_store.tier_clubs import state_now
from regulars.loyalty.program_types import TierClubConfig
from regulars.loyalty.tables import LoyaltyProgram
from regulars.store.tables import DEFAULT_SHOP, Order


class RewardNotFoundError(RegularsError):
    """No reward with that id."""


class RewardOrderError(RegularsError):
    """The order a reward is used on does not exist or is another customer's."""


class RewardUsedError(RegularsError):
    """The reward was already redeemed (for another order) or revoked."""

    def __init__(self, reward: LoyaltyReward) -> None:
        super().__init__(f"reward {reward.public_id} is {reward.state}; it cannot be redeemed")
        self.state = reward.state


@dataclass(frozen=True)
class Redeemed:
    reward: LoyaltyReward
    replay: bool


def rewards_of(session: Session, customer_id: str, state: str | None = None) -> list[LoyaltyReward]:
    """The customer's rewards, newest first (optionally only those in ``state``)."""
    query = select(LoyaltyReward).where(LoyaltyReward.customer_id == customer_id)
    if state is not None:
        query = query.where(LoyaltyReward.state == state)
    return list(session.scalars(query.order_by(LoyaltyReward.id.desc())))


def program_code(session: Session, program_id: int) -> str:
    code: str = session.scalars(
        select(LoyaltyProgram.code).where(LoyaltyProgram.id == program_id)
    ).one()
    return code


def _check_order(session: Session, reward: LoyaltyReward, shop_id: str, order_id: str) -> None:
    """The order must exist and be the reward's customer's (a voucher is theirs alone)."""
    owner = session.scalar(
        select(Order.customer_id).where(Order.shop_id == shop_id, Order.order_id == order_id)
    )
    if owner is None:
        raise RewardOrderError(f"order_id: no order '{order_id}' in shop '{shop_id}'")
    if owner != reward.customer_id:
        raise RewardOrderError(
            f"order_id: order '{order_id}' is another customer's; reward "
            f"{reward.public_id} is {reward.customer_id}'s"
        )


def redeem_reward(
    session: Session,
    public_id: str,
    order_id: str | None,
    shop_id: str = DEFAULT_SHOP,
    now: datetime | None = None,
) -> Redeemed:
    """Use an issued reward, found by its public id, on one of its customer's orders
    (idempotent for the same ``order_id``)."""
    now = now or utcnow()
    reward = session.scalars(
        select(LoyaltyReward).where(LoyaltyReward.public_id == public_id)
    ).one_or_none()
    if reward is None:
        raise RewardNotFoundError(f"no reward {public_id}")
    if order_id is not None:
        _check_order(session, reward, shop_id, order_id)
    changed = rowcount(
        session.execute(
            update(LoyaltyReward)
            .where(LoyaltyReward.id == reward.id, LoyaltyReward.state == "issued")
            .values(state="redeemed", redeemed_at=now, redeemed_order_id=order_id)
        )
    )
    session.refresh(reward)
    if changed:
        return Redeemed(reward, replay=False)
    if reward.state == "redeemed" and order_id is not None and reward.redeemed_order_id == order_id:
        return Redeemed(reward, replay=True)
    raise RewardUsedError(reward)


def badges_of(session: Session, customer_id: str) -> list[LoyaltyBadge]:
    return list(
        session.scalars(
            select(LoyaltyBadge)
            .where(LoyaltyBadge.customer_id == customer_id)
            .order_by(LoyaltyBadge.awarded_at, LoyaltyBadge.id)
        )
    )


@dataclass(frozen=True)
class TierView:
    """A customer's standing in one tier club."""

    program: str
    tier: str | None
    since: datetime | None
    window_start: datetime | None
    window_ends_at: datetime | None
    grace_until: datetime | None
    perks: list[str]


def tier_views(session: Session, customer_id: str, now: datetime | None = None) -> list[TierView]:
    """The customer's tier now in every tier club they have a state in: the stored state
    evaluated on to now (:func:`~regulars.loyalty.program_store.tier_clubs.state_now`), so a
    tier whose window and grace ended shows as lost before the nightly evaluation stores it,
    as the account view and the quote say."""
    now = now or utcnow()
    rows = session.execute(
        select(LoyaltyTierState, LoyaltyProgram)
        .join(LoyaltyProgram, LoyaltyProgram.id == LoyaltyTierState.program_id)
        .where(LoyaltyTierState.customer_id == customer_id)
        .order_by(LoyaltyProgram.id)
    ).all()
    views = []
    for stored, program in rows:
        config = program_config(program)
        assert isinstance(config, TierClubConfig)  # only tier clubs have a tier state
        state = state_now(session, program, config, customer_id, max(now, stored.as_of))
        tier = config.tier(state.tier)
        ends = None
        if state.tier is not None and state.window_start is not None:
            ends = state.window_start + timedelta(days=config.window_days)
        views.append(
            TierView(
                program.code,
                state.tier,
                stored.since if state.tier == stored.tier else None,
                state.window_start,
                ends,
                state.grace_until,
                list(tier.perks) if tier else [],
            )
        )
    return views
