"""What the loyalty engine adds to the others, in one place.

* **Hooks**, in the transaction that records the row (``POST /v1/orders``, ``/v1/returns``,
  ``/v1/events``, ``/v1/customers``, the ``/v1/bulk/…`` endpoints; ``regulars import``
  writes history without hooks and earns nothing): an order earns in every running points
  program and moves the other running programs (stamp cards, tier clubs, badges…); an order
  recorded as cancelled, or cancelled later (``POST /v1/orders/{id}/cancel``, after the
  return hooks reversed what it earned), gives back what its redemptions spent; a return
  reverses what the order earned; a ``review_written`` event earns the review bonuses and
  counts towards badges; a save that completes a profile earns the profile bonuses.
* **Merge rules** for the loyalty accounts (with their ledgers) and every program table.
* The **Customer 360** ``loyalty`` section: the customer's account in every program.
* **Jobs**: expiry, expiry warnings, webhook delivery, gifts, memberships, referrals.
* The **erasure plan**: the outbox names customers in its payloads; programs, draws and
  webhook endpoints hold nobody's data.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from regulars.domain import Contribution, ErasurePlan, MergeRule, Profile
from regulars.loyalty import merging
from regulars.loyalty.jobs import JOBS
from regulars.loyalty.points.action_bonuses import on_profile_saved, on_review_recorded
from regulars.loyalty.points.cancellation import cancel_order_redemptions
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.returns import on_return_recorded
from regulars.loyalty.points.views import loyalty_summary
from regulars.loyalty.program_cache import loaded_programs, runs_at
from regulars.loyalty.program_store.dispatch import apply_programs_for_review
from regulars.loyalty.program_store.history import REVIEW_EVENT
from regulars.store.tables import Customer, Event, Order, OrderReturn


def a_program_runs(session: Session, at: datetime) -> bool:
    """Whether a program of any type runs at ``at``: the transaction's programs are read
    once (:func:`~regulars.loyalty.program_cache.loaded_programs`), so a bulk write of orders
    when no program runs costs one query, not one per order."""
    return any(runs_at(program, at) for program in loaded_programs(session))


def earn_on_order(session: Session, order: Order) -> None:
    """Earn in every running points program and apply the other running programs
    (idempotent by order: a replay earns nothing); no query beyond the transaction's
    programs when no program of any type runs at the order."""
    if a_program_runs(session, order.ordered_at):
        on_order_recorded(session, order)


def give_back_redemptions(session: Session, order: Order) -> None:
    """An order recorded as cancelled (payment declined, say) gives back what the
    redemptions sent with its ``order_id`` spent (idempotent per redemption); any other
    order costs no query."""
    if order.status == "cancelled":
        cancel_order_redemptions(session, order.shop_id, order.order_id)


def reverse_on_return(session: Session, ret: OrderReturn) -> None:
    """Reverse what the returned order earned, re-credit what it spent (idempotent by
    return)."""
    on_return_recorded(session, ret)


def earn_review_bonus(session: Session, event: Event) -> None:
    """A ``review_written`` event earns the running points programs' review bonuses (once
    per customer and reviewed subject)."""
    if event.kind == REVIEW_EVENT and a_program_runs(session, event.occurred_at):
        on_review_recorded(session, event.customer_id, event.sku, event.payload, event.occurred_at)


def award_review_badges(session: Session, event: Event) -> None:
    """A ``review_written`` event counts in the running badges programs' ``reviews`` metric
    (distinct reviewed subjects): a badge it completes is awarded, once per customer."""
    if event.kind == REVIEW_EVENT:
        apply_programs_for_review(session, event.customer_id, event.id, event.occurred_at)


def earn_profile_bonus(
    session: Session, customer_id: str, before: Profile | None, after: Profile
) -> None:
    """A save that completes a profile earns the running points programs' profile bonuses."""
    on_profile_saved(session, customer_id, before, after)


LOYALTY_360 = ("program", "state", "balance", "available", "pending", "tier")


def loyalty_section(session: Session, customer: Customer) -> list[dict[str, Any]]:
    """Balance, available and pending points and tier in every program the customer is
    enrolled in (a shared household card: the household's account)."""
    return [
        {name: value for name, value in asdict(view).items() if name in LOYALTY_360}
        for view in loyalty_summary(session, customer.customer_id)
    ]


MERGE_RULES = (
    MergeRule("loyalty_accounts", ("loyalty_accounts",), merging.merge_loyalty_accounts),
    MergeRule("loyalty_rewards", ("loyalty_rewards",), merging.merge_rewards),
    MergeRule("loyalty_badges", ("loyalty_badges",), merging.merge_badges),
    MergeRule("loyalty_tier_states", ("loyalty_tier_states",), merging.merge_tier_states),
    MergeRule("loyalty_memberships", ("loyalty_memberships",), merging.merge_memberships),
    MergeRule("loyalty_referrals", ("loyalty_referrals",), merging.merge_referrals),
    MergeRule("loyalty_donations", ("loyalty_donations",), merging.move_donations),
    MergeRule(
        "loyalty_partner_transactions",
        ("loyalty_partner_transactions",),
        merging.move_partner_transactions,
    ),
    MergeRule("loyalty_draw_winners", ("loyalty_draw_winners",), merging.merge_draw_winners),
    MergeRule("loyalty_draw_entrants", ("loyalty_draw_entrants",), merging.merge_draw_entrants),
)
"""The accounts first (and through them their entries, lots, consumptions and events),
then every program table; tier states are evaluated again over the merged history."""

ERASURE = ErasurePlan(
    deleted=(
        "loyalty_events",  # the outbox of the customer's own accounts
        "loyalty_deliveries",
        "loyalty_tier_states",  # derived from the orders, recomputed for nobody
        "loyalty_badges",
    ),
    kept={
        "loyalty_accounts": "the ledger's accounts: balances are the program's liability",
        "loyalty_lots": "points earned and their expiry: liability and breakage",
        "loyalty_entries": "the append-only ledger: every balance and report sums it",
        "loyalty_lot_consumptions": "which lots each spend used: breakage",
        "loyalty_rewards": "rewards issued and redeemed: the program's cost",
        "loyalty_partner_transactions": "what partners and the program owe each other",
        "loyalty_donations": "donations passed on to the causes",
        "loyalty_draw_winners": "a prize draw's result, verifiable by anyone",
        "loyalty_draw_entrants": "who a prize draw was drawn from, to verify it",
        "loyalty_memberships": "paid subscriptions",
        "loyalty_membership_payments": "membership charges and refunds",
        "loyalty_referrals": "the other party's referral and the rewards paid for it",
    },
    # Household accounts' entries (keys with the member's id, a reason naming them) and the
    # outbox of such accounts outlive the member's own rows: scrubbed as mentions.
    mention_tables=("loyalty_events",),
    not_customer_data={
        "loyalty_draws": "a draw's seed and rule; its winners are in loyalty_draw_winners",
        "loyalty_programs": "the shop's loyalty programs and their rules",
        "loyalty_webhook_endpoints": "the shop's webhook receivers (URL and signing secret)",
    },
)

CONTRIBUTION = Contribution(
    "loyalty",
    order_hooks=(earn_on_order, give_back_redemptions),
    cancel_hooks=(give_back_redemptions,),
    return_hooks=(reverse_on_return,),
    event_hooks=(earn_review_bonus, award_review_badges),
    profile_hooks=(earn_profile_bonus,),
    merge_rules=MERGE_RULES,
    sections={"loyalty": loyalty_section},
    jobs=JOBS,
    erasure=ERASURE,
)
