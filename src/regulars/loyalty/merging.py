"""Merging a duplicate customer's loyalty data into the survivor's (customer merge): the
loyalty accounts with their ledger (:func:`merge_loyalty_accounts`), then the program
types' tables; each is one of :data:`regulars.api.services.customers.MERGE_RULES`.

**Accounts.** For each program in which the duplicate holds an account ``D``, the *target*
is the account the survivor earns into now (their own, or their household's with a shared
household card):

* **no target yet**: ``D`` is re-keyed to the survivor's holder; nothing else changes.
* **a target ``S``**: ``D``'s whole ledger moves into ``S`` — entries, lots (with their
  consumptions, pending periods and expiry dates unchanged) and outbox events — and

      S.balance ← S.balance + D.balance,    S.debt ← S.debt + D.debt,

  then ``D`` is deleted (it is empty). So the survivor's balance after the merge is the sum
  of both balances before, ``balance = Σ entries`` still holds in ``S``, no lot changes its
  ``remaining``, and a later return of an order the duplicate earned on reverses in ``S``
  (its earn entry and lot are there). An idempotency key of ``D`` that ``S`` already uses
  (a client that reused a key for both customers) is prefixed ``merged:<D.id>:``, so both
  operations stay recorded, each once.

Points are moved, never re-issued: no entry is written, none is lost. Household accounts of
the duplicate's household are the household's and stay where they are.

After a merge the survivor and the duplicate are one customer for the action bonuses that
are once per customer (:func:`merged_ids`): a profile or review bonus the duplicate earned
(its lot moved into the survivor's account under the duplicate's key) is not earned again by
the survivor (:func:`regulars.loyalty.points.action_bonuses.on_profile_saved`, which the
merge runs when the duplicate's fields complete the survivor's profile). When both had
earned it before the merge, both lots stay: the merge moves points, it never takes any back.

**Program tables.** One rule per customer-keyed program table, run by the customer merge
(:data:`regulars.api.services.customers.MERGE_RULES`) after the orders, returns and
loyalty accounts moved, in the merge's transaction. Nothing a customer was given is lost:

* ``loyalty_rewards`` (:func:`merge_rewards`): moved with their state and dates, so an
  issued voucher stays redeemable exactly once and a used one stays used. Rewards the
  programs *count* (``stamp:``, ``volume:`` and ``coupons:<code>:<customer>:<n>``: the
  n-th voucher of a card, the n-th gift of a volume or coupon count) are renumbered into
  the survivor's count: the duplicate's n-th becomes the survivor's (m + n)-th, m being the
  survivor's highest number. The replay of the merged history then finds the vouchers the
  merged stamps already earned under the keys it computes and issues only what the
  combined count adds (ann 1 stamp, bob 3 with one voucher, card of 2: bob's voucher
  becomes ``ann:1``, the merged 4 stamps ask for ``ann:1`` and ``ann:2``, so one new
  voucher, 2 in all, not 3). Other reward keys are kept as they are (unique per program).
* ``loyalty_badges`` (:func:`merge_badges`): the union per program; a badge both hold stays
  once, with the earlier ``awarded_at``.
* ``loyalty_tier_states`` (:func:`merge_tier_states`): the duplicate's states are dropped
  and the survivor's state in every active club either had is evaluated again over the
  merged history with the tier clubs' own full re-evaluation
  (:func:`regulars.loyalty.program_store.tier_clubs.reevaluate_club`): ``tier_changed``
  events go out only under the survivor's keys, and one correction when the tier told
  differs.
* ``loyalty_memberships`` (:func:`merge_memberships`): moved; when both hold one in a
  program, the one whose period ends later stays (equal: the survivor's), the other's
  payments move into it and the other row goes (its ``charged``/``refunded`` are the sums of
  its own subscription, kept as payments).
* ``loyalty_referrals`` (:func:`merge_referrals`): both sides re-keyed. A referral between
  the two becomes a self-referral: a ``pending`` one is ``rejected`` (reason
  ``self-referral: merged``, its unpaid rewards cancelled); a ``rewarded`` one stays, its
  points paid. When both were referred in one program, the survivor's referral stays and
  the duplicate's goes (a referee brings one reward per side, ever; paid points stay).
* ``loyalty_donations`` and ``loyalty_partner_transactions``: moved (their keys do not name
  the customer).
* ``loyalty_draw_winners`` (:func:`merge_draw_winners`): moved; when both won one draw, the
  better (smaller) rank stays and the other goes (a customer wins a draw once).
* ``loyalty_draw_entrants`` (:func:`merge_draw_entrants`): moved with the ticket drawn on;
  when both entered one draw, the smaller ticket stays (the one the draw ranked first).
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Connection, and_, delete, exists, func, literal, select, update
from sqlalchemy.orm import Session, aliased

from regulars.loyalty.accounting.enrolment import Holder, holder_of
from regulars.loyalty.catalogue import household_rules
from regulars.loyalty.program_store.tables import (
    Donation,
    DrawEntrant,
    DrawWinner,
    LoyaltyBadge,
    LoyaltyReward,
    LoyaltyTierState,
    Membership,
    MembershipPayment,
    PartnerTransaction,
    Referral,
)
from regulars.loyalty.program_store.tier_clubs import reevaluate_club
from regulars.loyalty.program_types.bonus import KEY_LENGTH
from regulars.loyalty.tables import (
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyEvent,
    LoyaltyLot,
    LoyaltyProgram,
)
from regulars.store.tables import CustomerAlias


def merged_ids(session: Session | Connection, customer_id: str) -> list[str]:
    """The ids of the customers merged into ``customer_id`` (its aliases; a customer merged
    into one that was merged into ``customer_id`` later too, as a merge moves the
    duplicate's aliases to the survivor), sorted."""
    query = select(CustomerAlias.alias_id).where(CustomerAlias.customer_id == customer_id)
    return list(session.scalars(query.order_by(CustomerAlias.alias_id)))


def merge_loyalty_accounts(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Merge every loyalty account of ``duplicate_id`` into ``survivor_id``'s (see the
    module docstring), in the caller's transaction; returns how many accounts were merged."""
    accounts = conn.execute(
        select(LoyaltyAccount.id, LoyaltyAccount.program_id, LoyaltyProgram.shared_household)
        .join(LoyaltyProgram, LoyaltyProgram.id == LoyaltyAccount.program_id)
        .where(LoyaltyAccount.customer_id == duplicate_id)
        .order_by(LoyaltyAccount.id)
    ).all()
    for account_id, program_id, shared in accounts:
        holder = asdict(_survivor_holder(conn, program_id, shared, survivor_id))
        target = _target(conn, program_id, holder)
        if target is None:
            conn.execute(
                update(LoyaltyAccount).where(LoyaltyAccount.id == account_id).values(**holder)
            )
        else:
            _move_ledger(conn, account_id, target)
    # Who spent, on any account (a household card's entries name the member).
    conn.execute(
        update(LoyaltyEntry)
        .where(LoyaltyEntry.customer_id == duplicate_id)
        .values(customer_id=survivor_id)
    )
    return len(accounts)


def _survivor_holder(conn: Connection, program_id: int, shared: bool, survivor_id: str) -> Holder:
    """The survivor's holder in the program, as
    :func:`~regulars.loyalty.accounting.enrolment.holder_for` decides it (a household member of a
    shared card: the household)."""
    if not shared:
        return Holder(survivor_id, None)
    program_type, config = conn.execute(
        select(LoyaltyProgram.type, LoyaltyProgram.config).where(LoyaltyProgram.id == program_id)
    ).one()
    return holder_of(conn, True, household_rules(program_type, config), survivor_id)


def _target(conn: Connection, program_id: int, holder: dict[str, str | None]) -> int | None:
    query = select(LoyaltyAccount.id).where(LoyaltyAccount.program_id == program_id)
    if holder["customer_id"] is not None:
        query = query.where(LoyaltyAccount.customer_id == holder["customer_id"])
    else:
        query = query.where(LoyaltyAccount.household_id == holder["household_id"])
    return conn.scalar(query.with_for_update())


def _move_ledger(conn: Connection, source: int, target: int) -> None:
    """Entries, lots and events of account ``source`` into ``target``; balances added."""
    taken = select(LoyaltyEntry.idempotency_key).where(LoyaltyEntry.account_id == target)
    conn.execute(
        update(LoyaltyEntry)
        .where(LoyaltyEntry.account_id == source, LoyaltyEntry.idempotency_key.in_(taken))
        .values(
            idempotency_key=func.substr(
                literal(f"merged:{source}:") + LoyaltyEntry.idempotency_key, 1, KEY_LENGTH
            )
        )
    )
    for table in (LoyaltyEntry, LoyaltyLot, LoyaltyEvent):
        conn.execute(update(table).where(table.account_id == source).values(account_id=target))
    balance, debt = conn.execute(
        select(LoyaltyAccount.balance, LoyaltyAccount.debt).where(LoyaltyAccount.id == source)
    ).one()
    conn.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.id == target)
        .values(balance=LoyaltyAccount.balance + balance, debt=LoyaltyAccount.debt + debt)
    )
    conn.execute(delete(LoyaltyAccount).where(LoyaltyAccount.id == source))


SELF_REFERRAL_REASON = "self-referral: merged"


_COUNTED_REWARD = re.compile(r"^(stamp|volume|coupons):([A-Za-z0-9_.-]+):(.*):([0-9]+)$")
"""``<kind>:<code>:<customer>:<n>``: the keys of the rewards a program counts (stamp
cards' vouchers, volume and coupon gifts; codes never contain ``:``)."""


def merge_rewards(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Move the duplicate's rewards to the survivor with state and dates kept, counted ones
    renumbered into the survivor's count (see the module docstring)."""
    _renumber_counted_rewards(conn, survivor_id, duplicate_id)
    return _rekey(conn, LoyaltyReward, survivor_id, duplicate_id)


def _counted(key: str, customer_id: str) -> tuple[str, str, int] | None:
    """(kind, code, n) of a counted reward key of ``customer_id``, else None."""
    found = _COUNTED_REWARD.match(key)
    if found is None or found.group(3) != customer_id:
        return None
    return found.group(1), found.group(2), int(found.group(4))


def _renumber_counted_rewards(conn: Connection, survivor_id: str, duplicate_id: str) -> None:
    """Give the duplicate's counted rewards the survivor's next numbers, per program, kind
    and code, in the duplicate's order (a customer holds few rewards: a loop is fine)."""
    reward = LoyaltyReward
    highest: dict[tuple[int, str, str], int] = {}
    for program_id, key in conn.execute(
        select(reward.program_id, reward.reward_key).where(reward.customer_id == survivor_id)
    ):
        counted = _counted(key, survivor_id)
        if counted is not None:
            kind, code, number = counted
            slot = (program_id, kind, code)
            highest[slot] = max(highest.get(slot, 0), number)
    duplicates = []
    for reward_id, program_id, key in conn.execute(
        select(reward.id, reward.program_id, reward.reward_key).where(
            reward.customer_id == duplicate_id
        )
    ):
        counted = _counted(key, duplicate_id)
        if counted is not None:
            duplicates.append((program_id, counted, reward_id))
    for program_id, (kind, code, _number), reward_id in sorted(duplicates):
        slot = (program_id, kind, code)
        highest[slot] = highest.get(slot, 0) + 1
        conn.execute(
            update(reward)
            .where(reward.id == reward_id)
            .values(reward_key=f"{kind}:{code}:{survivor_id}:{highest[slot]}")
        )


def merge_badges(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """The union of both customers' badges per program; a badge both hold stays once, with
    the earlier award time. Returns how many of the duplicate's badges the survivor gained."""
    mine = aliased(LoyaltyBadge)
    both = conn.execute(
        select(LoyaltyBadge.id, LoyaltyBadge.awarded_at, mine.id, mine.awarded_at)
        .join(
            mine,
            and_(
                mine.program_id == LoyaltyBadge.program_id,
                mine.code == LoyaltyBadge.code,
                mine.customer_id == survivor_id,
            ),
        )
        .where(LoyaltyBadge.customer_id == duplicate_id)
    ).all()
    for their_id, their_at, own_id, own_at in both:
        conn.execute(delete(LoyaltyBadge).where(LoyaltyBadge.id == their_id))
        if their_at < own_at:
            conn.execute(
                update(LoyaltyBadge).where(LoyaltyBadge.id == own_id).values(awarded_at=their_at)
            )
    gained = conn.execute(
        update(LoyaltyBadge)
        .where(LoyaltyBadge.customer_id == duplicate_id)
        .values(customer_id=survivor_id)
    )
    return gained.rowcount


def merge_tier_states(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Drop the duplicate's tier states and evaluate the survivor's state again over the
    merged history in every active club either had a state in, up to the later of the two
    instants evaluated to. Returns how many clubs were evaluated again."""
    evaluated_to: dict[int, datetime] = {}
    for program_id, as_of in conn.execute(
        select(LoyaltyTierState.program_id, LoyaltyTierState.as_of).where(
            LoyaltyTierState.customer_id.in_((survivor_id, duplicate_id))
        )
    ):
        evaluated_to[program_id] = max(as_of, evaluated_to.get(program_id, as_of))
    conn.execute(delete(LoyaltyTierState).where(LoyaltyTierState.customer_id == duplicate_id))
    evaluated = 0
    with Session(bind=conn) as session:  # joins the merge's transaction, never commits it
        for program_id in sorted(evaluated_to):
            cause = (f"merge:{duplicate_id}", evaluated_to[program_id])
            evaluated += reevaluate_club(session, program_id, survivor_id, *cause)
        session.flush()
    return evaluated


def merge_memberships(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Move the duplicate's memberships; in a program where both hold one, the later-ending
    period stays (equal: the survivor's) and the other's payments move into it. Returns how
    many memberships of the duplicate were merged."""
    theirs = conn.execute(
        select(Membership.id, Membership.program_id, Membership.period_end).where(
            Membership.customer_id == duplicate_id
        )
    ).all()
    for their_id, program_id, their_end in theirs:
        own = conn.execute(
            select(Membership.id, Membership.period_end).where(
                Membership.program_id == program_id, Membership.customer_id == survivor_id
            )
        ).one_or_none()
        if own is None:
            kept, gone = their_id, None
        else:
            kept, gone = (their_id, own.id) if their_end > own.period_end else (own.id, their_id)
        if gone is not None:
            conn.execute(
                update(MembershipPayment)
                .where(MembershipPayment.membership_id == gone)
                .values(membership_id=kept)
            )
            conn.execute(delete(Membership).where(Membership.id == gone))
        conn.execute(
            update(Membership).where(Membership.id == kept).values(customer_id=survivor_id)
        )
    return len(theirs)


def merge_referrals(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Re-key both sides of the duplicate's referrals (see the module docstring for a
    referral between the two and for a customer referred twice). Returns how many rows
    changed."""
    between = and_(
        Referral.referrer_id.in_((survivor_id, duplicate_id)),
        Referral.referee_id.in_((survivor_id, duplicate_id)),
    )
    changed = conn.execute(
        update(Referral)
        .where(between, Referral.state == "pending")
        .values(state="rejected", reason=SELF_REFERRAL_REASON, due_at=None)
    ).rowcount
    mine = aliased(Referral)
    referred_twice = exists().where(
        mine.program_id == Referral.program_id, mine.referee_id == survivor_id
    )
    changed += conn.execute(
        delete(Referral).where(Referral.referee_id == duplicate_id, referred_twice)
    ).rowcount
    for column in (Referral.referrer_id, Referral.referee_id):
        changed += conn.execute(
            update(Referral).where(column == duplicate_id).values({column: survivor_id})
        ).rowcount
    return changed


def _move_keeping_smaller(
    conn: Connection,
    model: type[DrawWinner] | type[DrawEntrant],
    rank: str,
    survivor_id: str,
    duplicate_id: str,
) -> int:
    """Move the duplicate's rows of ``model`` (one per draw and customer) to the survivor;
    where both have one in the same draw, the row with the smaller ``rank`` column stays.
    Returns how many rows moved."""
    mine = aliased(model)
    both = conn.execute(
        select(model.id, getattr(model, rank), mine.id, getattr(mine, rank))
        .join(mine, and_(mine.draw_id == model.draw_id, mine.customer_id == survivor_id))
        .where(model.customer_id == duplicate_id)
    ).all()
    for their_id, their_rank, own_id, own_rank in both:
        loser = own_id if their_rank < own_rank else their_id
        conn.execute(delete(model).where(model.id == loser))
    moved = conn.execute(
        update(model).where(model.customer_id == duplicate_id).values(customer_id=survivor_id)
    )
    return moved.rowcount


def merge_draw_winners(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Move the duplicate's draw wins; when both won one draw, the smaller rank stays.
    Returns how many wins moved."""
    return _move_keeping_smaller(conn, DrawWinner, "rank", survivor_id, duplicate_id)


def merge_draw_entrants(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Move the duplicate's draw entries; when both entered one draw, the smaller ticket
    stays. Returns how many entries moved."""
    return _move_keeping_smaller(conn, DrawEntrant, "ticket", survivor_id, duplicate_id)


def move_donations(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Re-key the duplicate's donations to the survivor (keyed by donation id)."""
    return _rekey(conn, Donation, survivor_id, duplicate_id)


def move_partner_transactions(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Re-key the duplicate's partner transactions (keyed by partner and transaction id)."""
    return _rekey(conn, PartnerTransaction, survivor_id, duplicate_id)


def _rekey(
    conn: Connection,
    table: type[Donation] | type[PartnerTransaction] | type[LoyaltyReward],
    survivor_id: str,
    duplicate_id: str,
) -> int:
    moved = conn.execute(
        update(table).where(table.customer_id == duplicate_id).values(customer_id=survivor_id)
    )
    return moved.rowcount
