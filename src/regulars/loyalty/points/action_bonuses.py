"""Action bonuses: the ``review_written`` and ``profile_completed`` bonuses of the running
``points`` programs, granted on the action (a review event, a profile save) rather than on
an order, once per customer (and reviewed subject); the customers merged into one count as
that customer (:func:`~regulars.loyalty.merging.merged_ids`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.loyalty.accounting.enrolment import enroll, held_out
from regulars.loyalty.accounting.ledger import Posted
from regulars.loyalty.catalogue import points_config
from regulars.loyalty.merging import merged_ids
from regulars.loyalty.points.earning import credit_earn
from regulars.loyalty.program_cache import running_points_programs
from regulars.loyalty.program_store.history import review_subject
from regulars.loyalty.program_types import PointsProgramConfig
from regulars.loyalty.program_types.bonus import earn_for_profile, earn_for_review
from regulars.loyalty.program_types.outcomes import Earn
from regulars.loyalty.tables import LoyaltyEntry, LoyaltyProgram

ActionRule = Callable[[str], list[Earn]]
"""An action bonus's pure rule for one customer id: the lots the action earns them."""


def _not_earned_before_merge(
    session: Session, account_id: int, earns: list[Earn], twins: list[list[Earn]]
) -> list[Earn]:
    """``earns`` less the lots whose twin — the same bonus for a customer merged into this
    one, the lot at the same place in each list of ``twins`` — the account already holds
    (the merge moved that customer's lots here under their own keys)."""
    keys = [twin.key for lots in twins for twin in lots]
    if not keys:
        return earns
    held = set(
        session.scalars(
            select(LoyaltyEntry.idempotency_key).where(
                LoyaltyEntry.account_id == account_id, LoyaltyEntry.idempotency_key.in_(keys)
            )
        )
    )
    return [earn for i, earn in enumerate(earns) if all(lots[i].key not in held for lots in twins)]


def _grant_action(
    session: Session,
    program: LoyaltyProgram,
    config: PointsProgramConfig,
    customer_id: str,
    rule: ActionRule,
    at: datetime,
) -> list[Posted]:
    """Credit the lots ``rule(customer_id)`` gives to the customer's account (enrolling
    them); nothing for the control group or an opted-out account. Once per customer counts
    the customers merged into this one (:func:`~regulars.loyalty.merging.merged_ids`): a
    lot is not granted when the account holds the same bonus earned by one of them."""
    earns = rule(customer_id)
    if not earns or held_out(session, program, customer_id):
        return []
    account = enroll(session, program, customer_id)
    if account.state != "active":
        return []
    twins = [rule(merged) for merged in merged_ids(session, customer_id)]
    return [
        credit_earn(session, program, config, account, customer_id, earn, at)
        for earn in _not_earned_before_merge(session, account.id, earns, twins)
    ]


def on_review_recorded(
    session: Session,
    customer_id: str,
    sku: str | None,
    payload: Mapping[str, Any],
    occurred_at: datetime,
) -> list[Posted]:
    """Grant the ``review_written`` bonuses of every points program running at
    ``occurred_at`` for a review of
    :func:`~regulars.loyalty.program_store.history.review_subject` (once per customer and subject,
    the customers merged into them included; an event without a subject earns nothing)."""
    subject = review_subject(sku, payload)
    if subject is None:
        return []
    posted: list[Posted] = []
    for program in running_points_programs(session, occurred_at):
        config = points_config(program)
        rule = partial(earn_for_review, config, subject=subject, at=occurred_at)
        posted += _grant_action(session, program, config, customer_id, rule, occurred_at)
    return posted


def on_profile_saved(
    session: Session,
    customer_id: str,
    before: Mapping[str, object] | None,
    after: Mapping[str, object],
    now: datetime | None = None,
) -> list[Posted]:
    """Grant the ``profile_completed`` bonuses a save of the customer's profile completes
    (complete ``after``, not ``before``; ``before`` None for a new customer) in every points
    program running now; once per customer and bonus, the customers merged into them
    included (a merge that completes the survivor's profile runs this too)."""
    now = now or utcnow()
    posted: list[Posted] = []
    for program in running_points_programs(session, now):
        config = points_config(program)
        rule = partial(earn_for_profile, config, before=before, after=after, at=now)
        posted += _grant_action(session, program, config, customer_id, rule, now)
    return posted
