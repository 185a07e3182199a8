"""Run every active program of the live types over a customer's history and apply the
outcomes: what :func:`regulars.loyalty.service.on_order_recorded` and
:func:`~regulars.loyalty.service.on_return_recorded` call.

The rules are pure replays of the whole history (:mod:`regulars.loyalty.program_types`), so an
evaluation after any order or return computes *all* outcomes so far; the keys make the
ones already applied no-ops. Re-evaluating the same history therefore writes nothing new,
and an order recorded twice changes nothing.

Concurrency: the evaluation starts by locking the customer's row (``FOR NO KEY UPDATE`` on
PostgreSQL, which does not conflict with the key-share locks the order's foreign key took;
SQLite has a single writer anyway). Two concurrent orders of one customer are therefore
evaluated one after the other, the second seeing the first, and a stamp card completed by
both yields one free item.

Per type:

* ``stamp_card``: :func:`~regulars.loyalty.program_types.stamp_card.replay` over purchases,
  returns and the card's redeemed vouchers (from ``loyalty_rewards``), plus its volume and
  coupon gifts;
* ``tiers``: :func:`~regulars.loyalty.program_types.tiers.evaluate` from the stored state up
  to the event — or, for an event dated at or before the instant the stored state was
  evaluated to, from no state over the whole history (:func:`evaluation_start`); the new
  state is stored (:func:`~.apply.apply_tier_history` for a history evaluated again). The
  same evaluation, without writing, gives the tier an order earns at in the ``points``
  programs (:func:`club_tiers`, :func:`earning_tier`): ``tiers`` is the one tier model;
* ``badges``: :func:`~regulars.loyalty.program_types.badges.awards` over purchases, returns and
  the customer's ``review_written`` events (:func:`~.history.customer_reviews`, read only
  when a badge counts ``reviews``); a review event runs the badges alone
  (:func:`apply_programs_for_review`);
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

from regulars.loyalty.catalogue import program_config
from regulars.loyalty.live.apply import (
    Applied,
    Cause,
    apply_outcomes,
    apply_tier_history,
    tier_state_row,
)
from regulars.loyalty.live.history import History, customer_history, customer_reviews
from regulars.loyalty.live.tables import LoyaltyReward, LoyaltyTierState
from regulars.loyalty.program_cache import loaded_programs, running_programs, runs_at
from regulars.loyalty.program_types import (
    BadgesConfig,
    ProgramConfig,
    StampCardConfig,
    TierClubConfig,
    badges,
    stamp_card,
    tiers,
    volume_gifts,
)
from regulars.loyalty.program_types.bonus import order_key
from regulars.loyalty.program_types.earning import Tier
from regulars.loyalty.program_types.history import Purchase, Return
from regulars.loyalty.program_types.outcomes import Outcome
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry, LoyaltyProgram
from regulars.store.tables import Customer, Order, OrderReturn

LIVE_TYPES = ("stamp_card", "tiers", "badges", "discount_card", "gifts")
"""Program types this package runs (``points`` is the ledger's own)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _programs_to_evaluate(
    session: Session, customer_id: str, at: datetime, types: Sequence[str]
) -> list[LoyaltyProgram]:
    """:func:`running_programs` of ``types`` at ``at``, and the active tier clubs that had
    not started then but whose state for the customer was evaluated to ``at`` or later (a
    club counts the history from before its start, so an order recorded late that is dated
    before the start still changes it). The tier states are read only when such a club
    exists."""
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


def evaluation_start(last: tiers.TierState, at: datetime) -> tiers.TierState:
    """Where a club's evaluation up to an event at ``at`` starts: the stored state ``last``
    when ``at`` is after the instant it was evaluated to (``last.as_of``); otherwise no
    state at all (no tier, ``as_of`` the epoch), so the whole history is evaluated again.

    The continued evaluation only decides what happens after ``as_of``: an order dated at
    or before it — recorded late, or at the same instant as the order evaluated last —
    would never bring its upgrade at its own time, nor the multiplier that upgrade gives
    the order. Evaluated from the start, the club's state is the one definition,
    :func:`~regulars.loyalty.program_types.tiers.evaluate` over the whole history, whatever
    order the events were recorded in (orders at one instant count together); in time
    order both give the same state (the rule's incremental property)."""
    return last if at > last.as_of else tiers.TierState(last.customer_id, EPOCH)


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
    with :func:`~regulars.loyalty.program_types.tiers.evaluate` (from the start when ``at`` is
    not after the stored ``as_of``: :func:`evaluation_start`), writing nothing.

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
    if cart is not None and cart > 0 and config.basis == "spend":
        events = [*events, tiers.QualifyingEvent(at, cart)]
    return tiers.evaluate(config, events, evaluation_start(last, at), at).state.tier


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
    other's spend, as :func:`evaluate_customer` does. For an order dated at or before a
    club's stored ``as_of`` this is the tier at the order's time in the history evaluated
    from the start, the same history :func:`apply_programs_for_order` then stores."""
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
    cause: Cause,
) -> Applied:
    """Evaluate the club up to ``cause`` (or, for a late one, the whole history up to the
    stored ``as_of``: :func:`evaluation_start`) and store the state."""
    row = tier_state_row(session, program, customer_id, EPOCH)
    last = stored_tier_state(row)
    events = qualifying_events(session, config, customer_id, history)
    start = evaluation_start(last, cause.at)
    evaluation = tiers.evaluate(config, events, start, max(cause.at, row.as_of))
    if start is last:  # continued from the stored state
        applied = apply_outcomes(session, program, customer_id, evaluation.changes)
    else:
        applied = apply_tier_history(session, program, customer_id, evaluation.changes, cause)
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
    session: Session, customer_id: str, cause: Cause, types: Sequence[str] = LIVE_TYPES
) -> list[Applied]:
    """Run every live program of ``types`` over ``customer_id``'s history up to
    ``cause.at`` and apply it (:func:`_programs_to_evaluate`: those running then, and tier
    clubs a late ``cause`` before their start changes)."""
    programs = _programs_to_evaluate(session, customer_id, cause.at, types)
    if not programs:
        return []  # no lock, no history read: a points-only shop pays nothing for this
    _lock_customer(session, customer_id)
    history = customer_history(session, customer_id)
    done = []
    for program in programs:
        config = program_config(program)
        if isinstance(config, TierClubConfig):
            done.append(_run_tiers(session, program, config, customer_id, history, cause))
            continue
        outcomes = _outcomes_of(session, program, config, customer_id, history)
        done.append(apply_outcomes(session, program, customer_id, outcomes, now=cause.at))
    return done


def apply_programs_for_order(session: Session, order: Order) -> list[Applied]:
    """The live programs' reaction to a recorded order (idempotent)."""
    if order.status == "cancelled" or order.amount <= Decimal(0):
        return []
    cause = Cause(order_key(order.shop_id, order.order_id), order.ordered_at)
    return evaluate_customer(session, order.customer_id, cause)


def apply_programs_for_return(session: Session, ret: OrderReturn) -> list[Applied]:
    """The live programs' reaction to a recorded return (idempotent)."""
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


def reevaluate_club(
    session: Session, program_id: int, customer_id: str, cause_key: str, at: datetime
) -> int:
    """Evaluate ``customer_id``'s state in tier club ``program_id`` again from the start over
    the whole history up to ``at`` (at least the stored ``as_of``) and store it, as a late
    order does (:func:`_run_tiers` through :func:`evaluation_start`, then
    :func:`~.apply.apply_tier_history` with cause ``cause_key`` at ``at``): what a customer
    merge runs for the survivor (:func:`regulars.loyalty.live.merging.merge_tier_states`).
    Returns 1 when evaluated, 0 for a program that is not an active ``tiers`` club."""
    program = session.get(LoyaltyProgram, program_id)
    if program is None or program.type != "tiers" or not program.active:
        return 0
    config = program_config(program)
    assert isinstance(config, TierClubConfig)  # a "tiers" program
    row = tier_state_row(session, program, customer_id, at)
    # Not after as_of, so evaluation_start starts from no state: the whole history again.
    row.as_of = max(row.as_of, at)
    session.flush()
    history = customer_history(session, customer_id)
    _run_tiers(session, program, config, customer_id, history, Cause(cause_key, row.as_of))
    return 1
