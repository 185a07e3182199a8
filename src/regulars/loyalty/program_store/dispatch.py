"""Run every active program of the dispatched types (:data:`DISPATCHED_TYPES`) over a
customer's history and apply the outcomes: what
:func:`regulars.loyalty.points.earning.on_order_recorded` and
:func:`~regulars.loyalty.points.returns.on_return_recorded` call.

The rules are pure replays of the whole history (:mod:`regulars.loyalty.program_types`), so
an evaluation after any order or return computes *all* outcomes so far; the keys make the
ones already applied no-ops. Re-evaluating the same history therefore writes nothing new,
and an order recorded twice changes nothing.

Concurrency: the evaluation starts by locking the customer's row
(:func:`~regulars.loyalty.program_store.history.lock_customer`: ``FOR NO KEY UPDATE`` on
PostgreSQL, which does not conflict with the key-share locks the order's foreign key took;
SQLite has a single writer anyway). Two concurrent orders of one customer are therefore
evaluated one after the other, the second seeing the first, and a stamp card completed by
both yields one free item.

Per type:

* ``stamp_card``: :func:`~regulars.loyalty.program_types.stamp_card.replay` over purchases,
  returns and the card's redeemed vouchers (from ``loyalty_rewards``), plus its volume and
  coupon gifts;
* ``tiers``: the club's state evaluated from the stored state up to the event and stored
  (:func:`~regulars.loyalty.program_store.tier_clubs.run_tiers`; the same evaluation,
  without writing, gives the tier an order earns at: :mod:`.tier_clubs`);
* ``badges``: :func:`~regulars.loyalty.program_types.badges.awards` over purchases, returns
  and the customer's ``review_written`` events (:func:`~.history.customer_reviews`, read only
  when a badge counts ``reviews``); a review event runs the badges alone
  (:func:`apply_programs_for_review`);
* ``discount_card`` has no state: its percentage is computed at checkout (:mod:`.quote`);
* ``gifts`` are granted by the daily worker job (:mod:`.gifts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.loyalty.catalogue import program_config
from regulars.loyalty.program_cache import loaded_programs, runs_at
from regulars.loyalty.program_store.apply import Applied, Cause, apply_outcomes
from regulars.loyalty.program_store.history import (
    History,
    customer_history,
    customer_reviews,
    lock_customer,
)
from regulars.loyalty.program_store.tables import LoyaltyReward, LoyaltyTierState
from regulars.loyalty.program_store.tier_clubs import run_tiers
from regulars.loyalty.program_types import (
    BadgesConfig,
    ProgramConfig,
    StampCardConfig,
    TierClubConfig,
    badges,
    stamp_card,
    volume_gifts,
)
from regulars.loyalty.program_types.bonus import order_key
from regulars.loyalty.program_types.history import Purchase, Return
from regulars.loyalty.program_types.outcomes import Outcome
from regulars.loyalty.tables import LoyaltyProgram
from regulars.store.tables import Order, OrderReturn

DISPATCHED_TYPES = ("stamp_card", "tiers", "badges", "discount_card", "gifts")
"""Program types the dispatch runs on an order or a return (``points`` is the ledger's own)."""


def _programs_to_evaluate(
    session: Session, customer_id: str, at: datetime, types: Sequence[str]
) -> list[LoyaltyProgram]:
    """:func:`~regulars.loyalty.program_cache.running_programs` of ``types`` at ``at``, and
    the active tier clubs that had not started then but whose state for the customer was
    evaluated to ``at`` or later (a club counts the history from before its start, so an
    order recorded late that is dated before the start still changes it). The tier states
    are read only when such a club exists."""
    programs = [p for p in loaded_programs(session) if p.type in types]
    late = [p.id for p in programs if p.type == "tiers" and p.active and at < p.starts_at]
    evaluated_past: set[int] = set()
    if late:  # no query when no tier club starts after ``at``
        evaluated_past = set(
            session.scalars(
                select(LoyaltyTierState.program_id).where(
                    LoyaltyTierState.program_id.in_(late),
                    LoyaltyTierState.customer_id == customer_id,
                    LoyaltyTierState.as_of >= at,
                )
            )
        )
    return [
        p
        for p in programs
        if runs_at(p, at) or (p.id in evaluated_past and (p.ends_at is None or at < p.ends_at))
    ]


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
        counts_reviews = any(badge.metric == "reviews" for badge in config.badges)
        reviews = customer_reviews(session, customer_id) if counts_reviews else []
        launched_reviews = [r for r in reviews if r.at >= program.starts_at]
        return list(
            badges.awards(
                config, customer_id, launched.purchases, launched.returns, launched_reviews
            )
        )
    return []


def evaluate_customer(
    session: Session, customer_id: str, cause: Cause, types: Sequence[str] = DISPATCHED_TYPES
) -> list[Applied]:
    """Run every program of ``types`` over ``customer_id``'s history up to
    ``cause.at`` and apply it (:func:`_programs_to_evaluate`: those running then, and tier
    clubs a late ``cause`` before their start changes)."""
    programs = _programs_to_evaluate(session, customer_id, cause.at, types)
    if not programs:
        return []  # no lock, no history read: a points-only shop pays nothing for this
    lock_customer(session, customer_id)
    history = customer_history(session, customer_id)
    done = []
    for program in programs:
        config = program_config(program)
        if isinstance(config, TierClubConfig):
            done.append(run_tiers(session, program, config, customer_id, history, cause))
            continue
        outcomes = _outcomes_of(session, program, config, customer_id, history)
        done.append(apply_outcomes(session, program, customer_id, outcomes, now=cause.at))
    return done


def apply_programs_for_order(session: Session, order: Order) -> list[Applied]:
    """The dispatched programs' reaction to a recorded order (idempotent)."""
    if order.status == "cancelled" or order.amount <= Decimal(0):
        return []
    cause = Cause(order_key(order.shop_id, order.order_id), order.ordered_at)
    return evaluate_customer(session, order.customer_id, cause)


def apply_programs_for_return(session: Session, ret: OrderReturn) -> list[Applied]:
    """The dispatched programs' reaction to a recorded return (idempotent)."""
    cause = Cause(f"return:{ret.shop_id}:{ret.return_id}", ret.returned_at)
    return evaluate_customer(session, ret.customer_id, cause)


def apply_programs_for_review(
    session: Session, customer_id: str, event_id: int, occurred_at: datetime
) -> list[Applied]:
    """The ``badges`` programs running at ``occurred_at`` evaluated again after a recorded
    ``review_written`` event (their ``reviews`` metric counts it; idempotent: a badge is
    awarded once per customer). The other live types do not read reviews."""
    cause = Cause(f"review:{event_id}", occurred_at)
    return evaluate_customer(session, customer_id, cause, types=("badges",))
