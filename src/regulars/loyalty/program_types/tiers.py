"""Tiers / VIP club: entry thresholds on a rolling window, immediate upgrades, slow downgrades.

The qualifying value at instant ``t`` is the sum over the rolling window ``(t − W, t]``
(``W = window_days``) of spend (purchases minus returns) or of points earned, as the
program's ``basis`` says. The rules, evaluated in time order:

1. **Upgrade at once**: at each qualifying event, if the value reaches a higher tier than
   the current one, the customer moves up (effective at the event) and a new evaluation
   window starts there.
2. **Evaluation at the window's end** ``e = window_start + W``: if the value at ``e`` still
   reaches the current tier, the tier is renewed and the next window starts at ``e``;
   otherwise a grace period of ``grace_days`` starts (none: the downgrade happens at ``e``).
3. **During grace**, an event that brings the value back to the current tier keeps the
   tier (a new window starts at that event).
4. **At the end of grace** ``g = e + grace``: the customer moves to the tier the value at
   ``g`` reaches (possibly several levels down, or no tier), effective at ``g``; a new
   window starts at ``g``.

A return lowers the value but never downgrades by itself: only rules 2–4 do. The
evaluation is incremental: ``evaluate(..., last=state)`` continues from ``state.as_of``, and
evaluating in several steps gives the same changes as evaluating once. An event dated at or
before ``state.as_of`` (an order recorded late, or at the instant evaluated last) is past
what the continued evaluation decides: it still counts in later window values, but the
upgrade it may bring at its own time is missed. Whoever learns of such an event evaluates
again from no state (``TierState(customer, epoch)``) over the whole history, which gives
the same result as if the events had come in time order (the live club does:
:func:`regulars.loyalty.program_store.tier_clubs.evaluation_start`). Events at one instant count
together: they are one qualifying moment. TierChange keys are
``tier:<code>:<customer>:<effective_at ISO>`` (:func:`change_key`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from regulars.loyalty.program_types.earning import Tier, highest_tier
from regulars.loyalty.program_types.fields import Code
from regulars.loyalty.program_types.history import Purchase, Return
from regulars.loyalty.program_types.outcomes import Discount, Perk, TierChange
from regulars.loyalty.program_types.timeutil import days, require_utc


class TierClubConfig(BaseModel):
    """A tiered VIP club. Tier perks are free names, e.g. ``personal_manager``,
    ``priority_service``, ``free_delivery``; earn multiplier and discount have own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["tiers"] = "tiers"
    code: Code
    basis: Literal["spend", "points"] = "spend"
    tiers: Annotated[list[Tier], Field(min_length=1)]
    window_days: Annotated[int, Field(ge=1)] = 365
    grace_days: Annotated[int, Field(ge=0)] = 30

    @model_validator(mode="after")
    def _tiers_ordered(self) -> TierClubConfig:
        thresholds = [t.threshold for t in self.tiers]
        if thresholds != sorted(set(thresholds)):
            raise ValueError("tiers: list them by strictly increasing threshold")
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tiers: names must be unique")
        return self

    def tier(self, name: str | None) -> Tier | None:
        """The tier called ``name`` (None for no tier); unknown names are an error."""
        if name is None:
            return None
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise ValueError(f"tier: {name!r} is not a tier of program {self.code}")

    def rank(self, name: str | None) -> int:
        """0, 1, … by threshold; −1 for no tier."""
        tier = self.tier(name)
        return -1 if tier is None else self.tiers.index(tier)


@dataclass(frozen=True)
class QualifyingEvent:
    """Something that moves the qualifying value: spend (negative for a return) or points."""

    at: datetime
    value: Decimal


@dataclass(frozen=True)
class TierState:
    """Where a customer stands after everything up to ``as_of`` was evaluated."""

    customer_id: str
    as_of: datetime
    tier: str | None = None
    window_start: datetime | None = None
    grace_until: datetime | None = None


@dataclass(frozen=True)
class TierEvaluation:
    """The state after an evaluation and the changes it produced."""

    state: TierState
    changes: list[TierChange]


def spend_events(
    customer_id: str, purchases: Iterable[Purchase], returns: Iterable[Return]
) -> list[QualifyingEvent]:
    """The customer's qualifying events in a spend-based club (returns count negative)."""
    events = [QualifyingEvent(p.at, p.amount) for p in purchases if p.customer_id == customer_id]
    returned = [QualifyingEvent(r.at, -r.amount) for r in returns if r.customer_id == customer_id]
    return events + returned


def points_events(earned: Iterable[tuple[datetime, int]]) -> list[QualifyingEvent]:
    """Qualifying events of a points-based club from (time, points earned) pairs."""
    return [QualifyingEvent(at, Decimal(points)) for at, points in earned]


def window_value(config: TierClubConfig, events: Sequence[QualifyingEvent], t: datetime) -> Decimal:
    """Σ values of the events in ``(t − W, t]``."""
    start = t - days(config.window_days)
    return sum((e.value for e in events if start < e.at <= t), Decimal(0))


def _reached(config: TierClubConfig, events: Sequence[QualifyingEvent], t: datetime) -> str | None:
    tier = highest_tier(config.tiers, window_value(config, events, t))
    return None if tier is None else tier.name


def change_key(code: str, customer_id: str, effective_at: datetime) -> str:
    """``tier:<code>:<customer>:<effective_at ISO>``: the key of a change (one per instant)."""
    return f"tier:{code}:{customer_id}:{effective_at.isoformat()}"


def _next_deadline(config: TierClubConfig, state: TierState) -> datetime | None:
    if state.grace_until is not None:
        return state.grace_until
    if state.tier is not None and state.window_start is not None:
        return state.window_start + days(config.window_days)
    return None


class _Run:
    """One evaluation pass; collects the changes while it moves the state forward."""

    def __init__(self, config: TierClubConfig, events: Sequence[QualifyingEvent], state: TierState):
        self.config, self.events, self.state = config, events, state
        self.changes: list[TierChange] = []

    def move(self, new: str | None, at: datetime, reason: str) -> None:
        key = change_key(self.config.code, self.state.customer_id, at)
        self.changes.append(TierChange(key, self.state.tier, new, at, reason))
        window = at if new is not None else None
        self.state = replace(self.state, tier=new, window_start=window, grace_until=None)

    def on_event(self, at: datetime) -> None:
        reached = _reached(self.config, self.events, at)
        current = self.config.rank(self.state.tier)
        if self.config.rank(reached) > current:
            self.move(reached, at, "threshold reached")
        elif self.state.grace_until is not None and self.config.rank(reached) >= current:
            self.state = replace(self.state, window_start=at, grace_until=None)

    def on_deadline(self, at: datetime) -> None:
        reached = _reached(self.config, self.events, at)
        if self.config.rank(reached) >= self.config.rank(self.state.tier):
            self.state = replace(self.state, window_start=at, grace_until=None)
        elif self.state.grace_until is None and self.config.grace_days > 0:
            self.state = replace(self.state, grace_until=at + days(self.config.grace_days))
        else:
            self.move(reached, at, "below threshold after the evaluation window")


def evaluate(
    config: TierClubConfig,
    events: Sequence[QualifyingEvent],
    last: TierState,
    now: datetime,
) -> TierEvaluation:
    """The tier at ``now`` and the changes since ``last.as_of`` (all events are passed)."""
    require_utc(now, "now")
    run = _Run(config, events, last)
    todo = sorted({e.at for e in events if last.as_of < e.at <= now and e.value > 0})
    while True:
        deadline = _next_deadline(config, run.state)
        if deadline is not None and deadline > now:
            deadline = None
        upcoming = todo[0] if todo else None
        # A deadline that coincides with an event is evaluated first; the value counts
        # the event either way, because the window is closed at its end.
        if deadline is not None and (upcoming is None or deadline <= upcoming):
            run.on_deadline(deadline)
        elif upcoming is not None:
            todo.pop(0)
            run.on_event(upcoming)
        else:
            break
    return TierEvaluation(state=replace(run.state, as_of=now), changes=run.changes)


def benefits(config: TierClubConfig, tier_name: str | None) -> list[Perk | Discount]:
    """What a tier gives while it lasts: its perks and its discount (if any)."""
    tier = config.tier(tier_name)
    if tier is None:
        return []
    given: list[Perk | Discount] = [Perk(name) for name in tier.perks]
    if tier.discount_pct > 0:
        given.append(Discount(reason=f"tier {tier.name}", pct=tier.discount_pct))
    return given


def earn_multiplier(config: TierClubConfig, tier_name: str | None) -> Decimal:
    """The tier's earn multiplier (1 without a tier), for ``bonus.earn_for_purchase``."""
    tier = config.tier(tier_name)
    return Decimal(1) if tier is None else tier.earn_multiplier
