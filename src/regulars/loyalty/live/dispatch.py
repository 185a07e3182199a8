"""Run every active program of the live types over a customer's history and apply the
outcomes: what :func:`regulars.loyalty.service.on_order_recorded` and
:func:`~regulars.loyalty.service.on_return_recorded` call.

The rules are pure replays of the whole history (:mod:`regulars.loyalty.programs`), so an
evaluation after any order or return computes *all* outcomes so far; the keys make the
ones already applied no-ops. Re-evaluating the same history therefore writes nothing new,
and an order recorded twice changes nothing.

Concurrency: the evaluation starts by locking the customer's row (``FOR NO KEY UPDATE`` on
PostgreSQL, which does not conflict with the key-share locks the order's foreign key took;
SQLite has a single writer anyway). Two concurrent orders of one customer are therefore
evaluated one after the other, the second seeing the first, and a stamp card completed by
both yields one free item.

Per type:

* ``stamp_card``: :func:`~regulars.loyalty.programs.stamp_card.replay` over purchases,
  returns and the card's redeemed vouchers (from ``loyalty_rewards``), plus its volume and
  coupon gifts;
* ``tiers``: :func:`~regulars.loyalty.programs.tiers.evaluate` from the stored state up
  to the event; the new state is stored. The same evaluation, without writing, gives the
  tier an order earns at in the ``points`` programs (:func:`club_tiers`,
  :func:`earning_tier`): ``tiers`` is the one tier model;
* ``badges``: :func:`~regulars.loyalty.programs.badges.awards`;
* ``discount_card`` has no state: its percentage is computed at checkout (:mod:`.quote`);
* ``gifts`` are granted by the daily worker job (:mod:`.gifts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.loyalty.live.apply import Applied, apply_outcomes, tier_state_row
from regulars.loyalty.live.history import History, customer_history
from regulars.loyalty.live.models import LoyaltyReward, LoyaltyTierState
from regulars.loyalty.models import LoyaltyAccount, LoyaltyEntry, LoyaltyProgram
from regulars.loyalty.programs import (
    BadgesConfig,
    ProgramConfig,
    StampCardConfig,
    TierClubConfig,
    badges,
    parse_program_config,
    stamp_card,
    tiers,
    volume_gifts,
)
from regulars.loyalty.programs.history import Purchase, Return
from regulars.loyalty.programs.outcomes import Outcome
from regulars.loyalty.rules import Tier
from regulars.store.models import Customer, Order, OrderReturn

LIVE_TYPES = ("stamp_card", "tiers", "badges", "discount_card", "gifts")
"""Program types this package runs (``points`` is the ledger's own)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def program_config(program: LoyaltyProgram) -> ProgramConfig:
    """The stored config, validated by its type's model."""
    return parse_program_config({**program.config, "type": program.type})


def running_programs(session: Session, types: Sequence[str], at: datetime) -> list[LoyaltyProgram]:
    """Active programs of ``types`` running at ``at``, oldest first."""
    query = (
        select(LoyaltyProgram)
        .where(
            LoyaltyProgram.type.in_(types),
            LoyaltyProgram.active.is_(True),
            LoyaltyProgram.starts_at <= at,
        )
        .order_by(LoyaltyProgram.id)
    )
    return [p for p in session.scalars(query) if p.ends_at is None or at < p.ends_at]


def _lock_customer(session: Session, customer_id: str) -> None:
    session.execute(
        select(Customer.id)
        .where(Customer.customer_id == customer_id)
        .with_for_update(key_share=True)
    )


def _stamp_redemptions(
    session: Session, program: LoyaltyProgram, customer_id: str
) -> list[stamp_card.Redemption]:
    times = session.scalars(
        select(LoyaltyReward.redeemed_at).where(
            LoyaltyReward.program_id == program.id,
            LoyaltyReward.customer_id == customer_id,
            LoyaltyReward.state == "redeemed",
            LoyaltyReward.reward_key.startswith("stamp:"),
        )
    )
    return [stamp_card.Redemption(customer_id, at) for at in times if at is not None]


def _usable(
    config: StampCardConfig,
    customer_id: str,
    events: list[Purchase | Return | stamp_card.Redemption],
) -> list[Purchase | Return | stamp_card.Redemption]:
    """The events without redemptions the replay has no open voucher for.

    A voucher is redeemed at checkout time; a return recorded later but dated earlier (a
    backdated import) can make the replay revoke that voucher before its redemption. The
    voucher was used all the same (its row stays ``redeemed``); the replay just must not
    redeem a second one for it.
    """
    ordered = sorted(events, key=lambda e: e.at)
    kept: list[Purchase | Return | stamp_card.Redemption] = []
    card = stamp_card.StampCard(customer_id=customer_id)
    for event in ordered:
        if isinstance(event, Purchase):
            card, _ = stamp_card.add_stamps(
                config, card, stamp_card.qualifying_units(config, event.lines)
            )
        elif isinstance(event, Return):
            units = sum(line.quantity for line in event.lines if config.counts(line))
            card, _ = stamp_card.remove_stamps(config, card, units)
        elif card.open:
            card, _ = stamp_card.redeem(card)
        else:
            continue
        kept.append(event)
    return kept


def stamp_outcomes(
    session: Session,
    program: LoyaltyProgram,
    config: StampCardConfig,
    customer_id: str,
    history: History,
) -> tuple[stamp_card.StampCard, list[Outcome]]:
    """The card now and every voucher, revocation and gift its history produced."""
    events: list[Purchase | Return | stamp_card.Redemption] = [
        *history.purchases,
        *history.returns,
        *_stamp_redemptions(session, program, customer_id),
    ]
    replayed = stamp_card.replay(config, customer_id, _usable(config, customer_id, events))
    outcomes: list[Outcome] = list(replayed.outcomes)
    if config.volume_gift is not None:
        outcomes += volume_gifts.volume_gifts(
            config.volume_gift, customer_id, history.purchases, history.returns
        )
    if config.coupon_gift is not None:
        outcomes += volume_gifts.coupon_gifts(
            config.coupon_gift, customer_id, history.purchases, history.returns
        )
    return replayed.card, outcomes


def points_earned_events(session: Session, customer_id: str) -> list[tiers.QualifyingEvent]:
    """(time, points) of the customer's earnings in every points account they hold."""
    rows = session.execute(
        select(LoyaltyEntry.occurred_at, LoyaltyEntry.points)
        .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyEntry.account_id)
        .where(LoyaltyAccount.customer_id == customer_id, LoyaltyEntry.kind == "earn")
    ).all()
    return tiers.points_events((at, points) for at, points in rows)


def qualifying_events(
    session: Session, config: TierClubConfig, customer_id: str, history: History
) -> list[tiers.QualifyingEvent]:
    if config.basis == "points":
        return points_earned_events(session, customer_id)
    return tiers.spend_events(customer_id, history.purchases, history.returns)


def stored_tier_state(row: LoyaltyTierState | None, customer_id: str = "") -> tiers.TierState:
    """The rule's state from its row (no row: no tier, nothing evaluated yet)."""
    if row is None:
        return tiers.TierState(customer_id, EPOCH)
    return tiers.TierState(row.customer_id, row.as_of, row.tier, row.window_start, row.grace_until)


def tier_at(
    session: Session,
    program: LoyaltyProgram,
    config: TierClubConfig,
    customer_id: str,
    history: History,
    at: datetime,
    cart: Decimal | None = None,
) -> str | None:
    """The customer's tier in ``program`` at ``at``: the stored state evaluated on to ``at``
    with :func:`~regulars.loyalty.programs.tiers.evaluate`, writing nothing.

    ``cart`` is a spend at ``at`` that is not recorded yet (a checkout quote): in a
    spend-based club it is one more qualifying event, so the result is the tier the cart
    reaches (upgrades are immediate). A points-based club does not count it: its points are
    earned when the order is recorded.
    """
    row = session.scalars(
        select(LoyaltyTierState).where(
            LoyaltyTierState.program_id == program.id,
            LoyaltyTierState.customer_id == customer_id,
        )
    ).one_or_none()
    last = stored_tier_state(row, customer_id)
    events = qualifying_events(session, config, customer_id, history)
    until = max(at, last.as_of)
    if cart is not None and cart > 0 and config.basis == "spend":
        events = [*events, tiers.QualifyingEvent(until, cart)]
    return tiers.evaluate(config, events, last, until).state.tier


@dataclass(frozen=True)
class ClubTier:
    """The customer's tier in one running ``tiers`` program (None: no tier)."""

    program: str
    tier: Tier | None


def club_tiers(
    session: Session, customer_id: str, at: datetime, cart: Decimal | None = None
) -> list[ClubTier]:
    """The customer's tier at ``at`` in every ``tiers`` program running then, oldest first
    (:func:`tier_at`; ``cart`` as there). Reads only."""
    programs = running_programs(session, ("tiers",), at)
    if not programs:
        return []  # no history read: a shop without a tier club pays nothing for this
    history = customer_history(session, customer_id)
    found = []
    for program in programs:
        config = program_config(program)
        assert isinstance(config, TierClubConfig)  # running_programs of type "tiers"
        name = tier_at(session, program, config, customer_id, history, at, cart)
        found.append(ClubTier(program.code, config.tier(name)))
    return found


def earning_tier(clubs: Sequence[ClubTier]) -> Tier | None:
    """The tier a ``points`` program earns at: of the customer's tiers in the running tier
    clubs, the one with the largest ``earn_multiplier`` (equal ones: the oldest club's);
    None when the customer holds no tier in any club (multiplier 1)."""
    held = [club.tier for club in clubs if club.tier is not None]
    return max(held, key=lambda tier: tier.earn_multiplier) if held else None


def tiers_for_order(session: Session, order: Order) -> list[ClubTier]:
    """:func:`club_tiers` at a recorded order, this order included (upgrades are
    immediate), under the customer's lock: concurrent orders of one customer then see each
    other's spend, as :func:`evaluate_customer` does."""
    if not running_programs(session, ("tiers",), order.ordered_at):
        return []
    _lock_customer(session, order.customer_id)
    return club_tiers(session, order.customer_id, order.ordered_at)


def _run_tiers(
    session: Session,
    program: LoyaltyProgram,
    config: TierClubConfig,
    customer_id: str,
    history: History,
    at: datetime,
) -> Applied:
    row = tier_state_row(session, program, customer_id, EPOCH)
    last = stored_tier_state(row)
    events = qualifying_events(session, config, customer_id, history)
    evaluation = tiers.evaluate(config, events, last, max(at, row.as_of))
    applied = apply_outcomes(session, program, customer_id, evaluation.changes)
    row.window_start = evaluation.state.window_start
    row.grace_until = evaluation.state.grace_until
    row.as_of = evaluation.state.as_of
    session.flush()
    return applied


def _outcomes_of(
    session: Session,
    program: LoyaltyProgram,
    config: ProgramConfig,
    customer_id: str,
    history: History,
) -> list[Outcome]:
    launched = history.since(program.starts_at)
    if isinstance(config, StampCardConfig):
        return stamp_outcomes(session, program, config, customer_id, launched)[1]
    if isinstance(config, BadgesConfig):
        return list(badges.awards(config, customer_id, launched.purchases, launched.returns))
    return []


def evaluate_customer(session: Session, customer_id: str, at: datetime) -> list[Applied]:
    """Run every live program over ``customer_id``'s history up to ``at`` and apply it."""
    programs = running_programs(session, LIVE_TYPES, at)
    if not programs:
        return []  # no lock, no history read: a points-only shop pays nothing for this
    _lock_customer(session, customer_id)
    history = customer_history(session, customer_id)
    done = []
    for program in programs:
        config = program_config(program)
        if isinstance(config, TierClubConfig):
            done.append(_run_tiers(session, program, config, customer_id, history, at))
            continue
        outcomes = _outcomes_of(session, program, config, customer_id, history)
        done.append(apply_outcomes(session, program, customer_id, outcomes, now=at))
    return done


def apply_programs_for_order(session: Session, order: Order) -> list[Applied]:
    """The live programs' reaction to a recorded order (idempotent)."""
    if order.status == "cancelled" or order.amount <= Decimal(0):
        return []
    return evaluate_customer(session, order.customer_id, order.ordered_at)


def apply_programs_for_return(session: Session, ret: OrderReturn) -> list[Applied]:
    """The live programs' reaction to a recorded return (idempotent)."""
    return evaluate_customer(session, ret.customer_id, ret.returned_at)
