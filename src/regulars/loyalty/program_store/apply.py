"""Apply program outcomes to the store, in the caller's transaction, idempotent by key.

What each outcome (:mod:`regulars.loyalty.program_types.outcomes`) writes:

* :class:`Earn` → a ledger credit (one lot with ``available_at`` / ``expires_at``) in the
  customer's account of the oldest running ``points`` program, keyed ``program:<code>:<key>``;
* :class:`Debit` → a ledger debit (``adjust`` entry with the reason) in that account;
* :class:`FreeItem` / :class:`Gift` → a ``loyalty_rewards`` row (state ``issued``) and a
  ``reward_granted`` event;
* :class:`Revoke` → the reward of that key, if still ``issued``, becomes ``revoked``;
  a used reward stays used (the rule already accounts for it);
* :class:`TierChange` → the tier state row's tier and ``since``, and a ``tier_changed``
  event (event key = the change's key, so it is emitted once); a club's whole history
  evaluated again after a late order or return goes through :func:`apply_tier_history`;
* :class:`BadgeAwarded` → a ``loyalty_badges`` row and a ``reward_granted`` event.

Every insert is ``INSERT … ON CONFLICT DO NOTHING`` on the unique key, so applying the same
outcomes again, or from two transactions at once, writes each thing once.
:class:`Perk` and :class:`Discount` are standing benefits read from the current tier or
card at checkout (:mod:`.quote`), not stored; :class:`Charge` / :class:`Refund` belong to
paid membership, which this module does not run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting.enrolment import enroll
from regulars.loyalty.accounting.ledger import SYSTEM, EntrySpec, credit, debit
from regulars.loyalty.program_cache import running_points_programs
from regulars.loyalty.program_store.tables import LoyaltyBadge, LoyaltyReward, LoyaltyTierState
from regulars.loyalty.program_types.bonus import bounded_key
from regulars.loyalty.program_types.outcomes import (
    BadgeAwarded,
    Debit,
    Discount,
    Earn,
    FreeItem,
    Gift,
    Outcome,
    Perk,
    Revoke,
    TierChange,
)
from regulars.loyalty.program_types.tiers import change_key
from regulars.loyalty.tables import LoyaltyEvent, LoyaltyProgram
from regulars.loyalty.webhooks import emit
from regulars.store.upsert import dialect_insert


@dataclass(frozen=True)
class Cause:
    """What an evaluation runs for, and when: ``order:<shop>:<order_id>``,
    ``return:<shop>:<return_id>`` or ``review:<event id>`` at the order's, return's or
    review's time."""

    key: str
    at: datetime


class OutcomeError(ValueError):
    """An outcome this store cannot apply (e.g. points without a points program)."""


@dataclass
class Applied:
    """What one call wrote (replays of earlier outcomes are not counted)."""

    earned: int = 0
    debited: int = 0
    rewards: int = 0
    revoked: int = 0
    tier_changes: int = 0
    badges: int = 0


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE changed."""
    return cast(CursorResult[Any], result).rowcount


def _inserted(session: Session, statement: Any) -> bool:
    """Whether ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` wrote its row (the
    driver's rowcount of an upsert is not reliable on every dialect; RETURNING is)."""
    return session.connection().execute(statement).first() is not None


def _points_account_id(session: Session, customer_id: str, at: datetime) -> int:
    programs = running_points_programs(session, at)
    if not programs:
        raise OutcomeError("points outcome: no points program is running to hold the points")
    return enroll(session, programs[0], customer_id).id


def _apply_earn(
    session: Session, program: LoyaltyProgram, customer_id: str, earn: Earn, done: Applied
) -> None:
    account_id = _points_account_id(session, customer_id, earn.available_at)
    spec = EntrySpec(
        kind="earn",
        key=f"program:{program.code}:{earn.key}",
        actor=SYSTEM,
        occurred_at=earn.available_at,
        reason=earn.reason,
    )
    posted = credit(
        session,
        account_id,
        earn.points,
        spec,
        available_at=earn.available_at,
        expires_at=earn.expires_at,
    )
    done.earned += 0 if posted.replay else earn.points


def _apply_debit(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    out: Debit,
    now: datetime,
    done: Applied,
) -> None:
    account_id = _points_account_id(session, customer_id, now)
    spec = EntrySpec(
        kind="adjust",
        key=f"program:{program.code}:{out.key}",
        actor=SYSTEM,
        occurred_at=now,
        reason=out.reason,
    )
    posted = debit(session, account_id, out.points, spec, now=now)
    done.debited += 0 if posted.replay else out.points


def _apply_reward(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    out: FreeItem | Gift,
    now: datetime,
    done: Applied,
) -> None:
    fields: dict[str, Any]
    if isinstance(out, FreeItem):
        fields = {"kind": "free_item", "sku": out.sku, "category": out.category}
        fields["quantity"] = out.quantity
    else:
        fields = {"kind": "gift", "gift": out.gift, "quantity": 1}
    inserted = _inserted(
        session,
        dialect_insert(session, LoyaltyReward)
        .values(
            program_id=program.id,
            customer_id=customer_id,
            reward_key=out.key,
            reason=out.reason,
            state="issued",
            issued_at=now,
            **fields,
        )
        .on_conflict_do_nothing()
        .returning(LoyaltyReward.id),
    )
    if inserted:
        done.rewards += 1
        payload = {"program": program.code, "customer_id": customer_id, "reward_key": out.key}
        emit(session, "reward_granted", f"reward_granted:{program.id}:{out.key}", payload)


def _apply_revoke(
    session: Session, program: LoyaltyProgram, out: Revoke, now: datetime, done: Applied
) -> None:
    changed = rowcount(
        session.execute(
            update(LoyaltyReward)
            .where(
                LoyaltyReward.program_id == program.id,
                LoyaltyReward.reward_key == out.key,
                LoyaltyReward.state == "issued",
            )
            .values(state="revoked", revoked_at=now, revoke_reason=out.reason)
        )
    )
    done.revoked += changed


def _emit_tier_change(
    session: Session, program: LoyaltyProgram, customer_id: str, out: TierChange
) -> None:
    payload = {
        "program": program.code,
        "customer_id": customer_id,
        "from": out.old,
        "to": out.new,
        "effective_at": out.effective_at.isoformat(),
        "reason": out.reason,
    }
    emit(session, "tier_changed", out.key, payload)


def _apply_tier_change(
    session: Session, program: LoyaltyProgram, customer_id: str, out: TierChange, done: Applied
) -> None:
    state = tier_state_row(session, program, customer_id, out.effective_at)
    if state.since is not None and state.since >= out.effective_at:
        return  # an older (or the same) change: already applied
    state.tier, state.since, state.updated_at = out.new, out.effective_at, utcnow()
    _emit_tier_change(session, program, customer_id, out)
    done.tier_changes += 1


def _emitted(session: Session, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are in the outbox already."""
    if not keys:
        return set()
    query = select(LoyaltyEvent.event_key).where(LoyaltyEvent.event_key.in_(keys))
    return set(session.scalars(query))


def apply_tier_history(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    changes: Sequence[TierChange],
    cause: Cause,
) -> Applied:
    """Store a club's history evaluated again from the start (``changes``: every change of
    the customer's whole history, oldest first) because ``cause`` is dated at or before the
    instant the stored state was evaluated to (a late order or return; see
    :func:`regulars.loyalty.program_store.tier_clubs.evaluation_start`).

    A ``tier_changed`` event already sent cannot be unsent, so:

    1. every change whose key was never emitted is emitted now, oldest first (a change at
       an instant that already has one, e.g. a second order at the same instant that
       reaches a higher tier, is not: its key is taken);
    2. if the tier last told — the stored tier before, or the last change emitted in 1 — is
       not the tier the history ends at, one correction goes out: ``tier_changed`` from the
       tier told to that tier, effective at the history's last change (no change at all:
       at ``cause.at``), reason ``re-evaluated after <cause key>``, key ``<the key of a change
       at that instant>:<cause key>`` (shortened by
       :func:`~regulars.loyalty.program_types.bonus.bounded_key` past 255 characters);
    3. the row's tier and ``since`` become the history's last change (none: no tier, no
       ``since``).

    Hence the last ``tier_changed`` event of a customer in a club always names the stored
    tier, whatever order the events came in; changes of the old history that the new one
    lacks stay sent (a consumer that reads effective times must take the latest event it
    received, not the latest ``effective_at``, as the tier now).
    """
    state = tier_state_row(session, program, customer_id, cause.at)
    done = Applied()
    told = state.tier
    sent = _emitted(session, [change.key for change in changes])
    for change in changes:
        if change.key not in sent:
            _emit_tier_change(session, program, customer_id, change)
            told, done.tier_changes = change.new, done.tier_changes + 1
    last = changes[-1] if changes else None
    tier, since = (last.new, last.effective_at) if last else (None, None)
    if told != tier:
        at = since or cause.at
        key = bounded_key(f"{change_key(program.code, customer_id, at)}:{cause.key}")
        reason = f"re-evaluated after {cause.key}"
        _emit_tier_change(session, program, customer_id, TierChange(key, told, tier, at, reason))
        done.tier_changes += 1
    state.tier, state.since, state.updated_at = tier, since, utcnow()
    session.flush()
    return done


def _apply_badge(
    session: Session, program: LoyaltyProgram, customer_id: str, out: BadgeAwarded, done: Applied
) -> None:
    names = {b["code"]: b["name"] for b in program.config.get("badges", [])}
    inserted = _inserted(
        session,
        dialect_insert(session, LoyaltyBadge)
        .values(
            program_id=program.id,
            customer_id=customer_id,
            code=out.code,
            name=names.get(out.code, out.code),
            awarded_at=out.awarded_at,
        )
        .on_conflict_do_nothing()
        .returning(LoyaltyBadge.id),
    )
    if inserted:
        done.badges += 1
        payload = {"program": program.code, "customer_id": customer_id, "badge": out.code}
        emit(session, "badge_awarded", f"badge_awarded:{program.id}:{out.key}", payload)


def tier_state_row(
    session: Session, program: LoyaltyProgram, customer_id: str, as_of: datetime
) -> LoyaltyTierState:
    """The customer's tier state in ``program``, created (no tier) if missing."""
    session.execute(
        dialect_insert(session, LoyaltyTierState)
        .values(program_id=program.id, customer_id=customer_id, as_of=as_of, updated_at=utcnow())
        .on_conflict_do_nothing()
    )
    row: LoyaltyTierState = session.scalars(
        select(LoyaltyTierState)
        .where(
            LoyaltyTierState.program_id == program.id,
            LoyaltyTierState.customer_id == customer_id,
        )
        .execution_options(populate_existing=True)
    ).one()
    return row


def apply_outcomes(
    session: Session,
    program: LoyaltyProgram,
    customer_id: str,
    outcomes: Sequence[Outcome],
    *,
    now: datetime | None = None,
) -> Applied:
    """Write ``outcomes`` of ``program`` for ``customer_id``; already applied keys are skipped."""
    now = now or utcnow()
    done = Applied()
    for out in outcomes:
        if isinstance(out, Earn):
            _apply_earn(session, program, customer_id, out, done)
        elif isinstance(out, Debit):
            _apply_debit(session, program, customer_id, out, now, done)
        elif isinstance(out, FreeItem | Gift):
            _apply_reward(session, program, customer_id, out, now, done)
        elif isinstance(out, Revoke):
            _apply_revoke(session, program, out, now, done)
        elif isinstance(out, TierChange):
            _apply_tier_change(session, program, customer_id, out, done)
        elif isinstance(out, BadgeAwarded):
            _apply_badge(session, program, customer_id, out, done)
        elif isinstance(out, Perk | Discount):
            continue  # standing benefits, read at checkout
        else:
            raise OutcomeError(f"{type(out).__name__}: not applied by the live programs")
    session.flush()
    return done
