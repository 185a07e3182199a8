"""Tier clubs on the store: the tier a customer holds in a ``tiers`` program, evaluated
from the stored state (``loyalty_tier_states``), and the tier an order earns its points at.

:func:`~regulars.loyalty.program_types.tiers.evaluate` runs from the stored state up to the
event — or, for an event dated at or before the instant the stored state was evaluated to,
from no state over the whole history (:func:`evaluation_start`); the new state is stored
(:func:`run_tiers`; :func:`~regulars.loyalty.program_store.apply.apply_tier_history` for a
history evaluated again). The same evaluation, without writing, gives the tier an order
earns at in the ``points`` programs (:func:`club_tiers`, :func:`earning_tier`,
:func:`tiers_for_order`) and the tier the account shows (:func:`state_now`): ``tiers`` is
the one tier model. Downgrades do not wait for an order: :func:`evaluate_all_clubs`, the
nightly ``loyalty.tiers`` job, evaluates every held tier on to now and stores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.loyalty.catalogue import program_config
from regulars.loyalty.program_cache import running_programs
from regulars.loyalty.program_store.apply import (
    Applied,
    Cause,
    apply_outcomes,
    apply_tier_history,
    tier_state_row,
)
from regulars.loyalty.program_store.history import History, customer_history, lock_customer
from regulars.loyalty.program_store.tables import LoyaltyTierState
from regulars.loyalty.program_types import TierClubConfig, tiers
from regulars.loyalty.program_types.earning import Tier
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry, LoyaltyProgram
from regulars.store.tables import Order

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def _state_row(
    session: Session, program: LoyaltyProgram, customer_id: str
) -> LoyaltyTierState | None:
    return session.scalars(
        select(LoyaltyTierState).where(
            LoyaltyTierState.program_id == program.id,
            LoyaltyTierState.customer_id == customer_id,
        )
    ).one_or_none()


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
    last = stored_tier_state(_state_row(session, program, customer_id), customer_id)
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
    """:func:`club_tiers` at a recorded order, this order included (upgrades are immediate),
    under the customer's lock: concurrent orders of one customer then see each other's
    spend, as :func:`~regulars.loyalty.program_store.dispatch.evaluate_customer` does. For
    an order dated at or before a club's stored ``as_of`` this is the tier at the order's
    time in the history evaluated from the start, the same history
    :func:`~regulars.loyalty.program_store.dispatch.apply_programs_for_order` then stores."""
    if not running_programs(session, ("tiers",), order.ordered_at):
        return []
    lock_customer(session, order.customer_id)
    return club_tiers(session, order.customer_id, order.ordered_at)


def run_tiers(
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


def reevaluate_club(
    session: Session, program_id: int, customer_id: str, cause_key: str, at: datetime
) -> int:
    """Evaluate ``customer_id``'s state in tier club ``program_id`` again from the start
    over the whole history up to ``at`` (at least the stored ``as_of``) and store it, as a
    late order does (:func:`run_tiers` through :func:`evaluation_start`, then
    :func:`~regulars.loyalty.program_store.apply.apply_tier_history` with cause
    ``cause_key`` at ``at``): what a customer merge runs for the survivor
    (:func:`regulars.loyalty.merging.merge_tier_states`). Returns 1 when evaluated, 0 for a
    program that is not an active ``tiers`` club."""
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
    run_tiers(session, program, config, customer_id, history, Cause(cause_key, row.as_of))
    return 1


def state_now(
    session: Session,
    program: LoyaltyProgram,
    config: TierClubConfig,
    customer_id: str,
    at: datetime,
) -> tiers.TierState:
    """The customer's state in the club at ``at``, the stored state evaluated on (reads only):
    what the account view shows, the same evaluation the quote and the next order make."""
    last = stored_tier_state(_state_row(session, program, customer_id), customer_id)
    events = qualifying_events(session, config, customer_id, customer_history(session, customer_id))
    return tiers.evaluate(config, events, evaluation_start(last, at), at).state


def evaluate_all_clubs(session: Session, now: datetime) -> dict[str, int]:
    """Evaluate every customer holding a tier in a running club on to ``now`` and store the
    state (the window ended, the grace ran out: the downgrade happens now, with its
    ``tier_changed`` event, not at the customer's next order). Idempotent: a second run at
    the same ``now`` changes nothing. Returns the customers evaluated and the tiers changed."""
    evaluated = changed = 0
    for program in running_programs(session, ("tiers",), now):
        config = program_config(program)
        assert isinstance(config, TierClubConfig)  # running_programs of type "tiers"
        holders = session.scalars(
            select(LoyaltyTierState.customer_id).where(
                LoyaltyTierState.program_id == program.id,
                LoyaltyTierState.tier.is_not(None),
                LoyaltyTierState.as_of < now,
            )
        ).all()
        for customer_id in holders:
            lock_customer(session, customer_id)
            history = customer_history(session, customer_id)
            cause = Cause(f"tiers:{now.isoformat()}", now)
            applied = run_tiers(session, program, config, customer_id, history, cause)
            evaluated += 1
            changed += applied.tier_changes
    return {"evaluated": evaluated, "tier_changes": changed}
