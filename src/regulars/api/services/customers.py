"""Customers: create, update, search, merge duplicates.

Creating a customer and changing a profile run the profile hooks
(:func:`regulars.api.services.hooks.profile_saved`): a save that completes a profile earns
the running points programs' ``profile_completed`` bonuses. So does a merge whose
duplicate fills empty fields of the survivor (:func:`merge_customers`): once per customer,
the merged-away customer included (:mod:`regulars.loyalty.merging`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, MetaData, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from regulars.api.problems import ApiProblemError
from regulars.api.schemas import (
    PROFILE_FIELDS,
    ConsentIn,
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    CustomerSummary,
    MergeIn,
    Page,
)
from regulars.api.services import hooks
from regulars.api.services.common import (
    TABLES,
    conflict,
    dialect_insert,
    find_customer,
    icontains,
    insert_ignoring_conflicts,
    invalid,
    not_found,
    paginate,
    resolve_aliases,
    resolve_customer_id,
)
from regulars.api.services.customer360 import customer_360
from regulars.clock import utcnow
from regulars.loyalty import merging as live_merging
from regulars.loyalty.merging import merge_loyalty_accounts
from regulars.store import audit
from regulars.store.tables import Consent, Customer, CustomerScore

CUSTOMERS = TABLES["customers"]
CONSENTS = TABLES["consents"]


def _exists(customer_id: str) -> ApiProblemError:
    return conflict(f"customer '{customer_id}' already exists")


def create_customer(session: Session, body: CustomerIn) -> CustomerOut:
    """Create a customer; 409 when ``customer_id`` is taken or was merged into another."""
    survivor = resolve_aliases(session, [body.customer_id]).get(body.customer_id)
    if survivor is not None:
        raise conflict(f"customer '{body.customer_id}' was merged into '{survivor}'")
    if session.scalar(select(Customer.id).where(Customer.customer_id == body.customer_id)):
        raise _exists(body.customer_id)
    customer = Customer(**body.model_dump(exclude={"consents"}))
    customer.consents = [Consent(**c.model_dump()) for c in body.consents]
    session.add(customer)
    try:
        session.flush()
    except IntegrityError:  # created concurrently between the check and the insert
        raise _exists(body.customer_id) from None
    hooks.profile_saved(session, body.customer_id, None, profile_of(customer))
    return customer_360(session, body.customer_id)


def profile_of(customer: Customer | CustomerIn) -> dict[str, Any]:
    """The plain profile fields of a stored customer or a body, for the profile hooks."""
    return {field: getattr(customer, field) for field in PROFILE_FIELDS}


def upsert_consents(conn: Connection, consents: Sequence[tuple[str, ConsentIn]]) -> None:
    """Insert or overwrite ``(customer_id, consent)`` pairs, one per customer, channel and
    topic (the last one sent wins), in one statement."""
    latest = {(cid, c.channel, c.topic): (cid, c) for cid, c in consents}
    if not latest:
        return
    insert = dialect_insert(conn, CONSENTS)
    statement = insert.on_conflict_do_update(
        index_elements=["customer_id", "channel", "topic"],
        set_={
            "granted": insert.excluded.granted,
            "source": insert.excluded.source,
            "updated_at": insert.excluded.updated_at,
        },
    )
    now = utcnow()
    conn.execute(
        statement,
        [{"customer_id": cid, **c.model_dump(), "updated_at": now} for cid, c in latest.values()],
    )


def merged_attributes(current: dict[str, Any], patch: dict[str, Any] | None) -> dict[str, Any]:
    """``current`` with ``patch`` applied key by key; a ``None`` value removes the key."""
    if patch is None:
        return {}
    merged = {**current, **patch}
    return {key: value for key, value in merged.items() if value is not None}


def profile_changes(customer: Customer, body: CustomerPatch) -> dict[str, Any]:
    """The column values ``body`` sets on ``customer`` (only the fields it sends)."""
    sent = body.model_dump(exclude_unset=True, exclude={"consents", "attributes"})
    if "attributes" in body.model_fields_set:
        sent["attributes"] = merged_attributes(customer.attributes or {}, body.attributes)
    return sent


def patch_customer(session: Session, customer_id: str, body: CustomerPatch) -> CustomerOut:
    """Change the fields ``body`` sends; upsert its consents; 404 for an unknown customer."""
    customer = find_customer(session, customer_id)
    changes = profile_changes(customer, body)
    before = profile_of(customer)
    conn = session.connection()
    if changes or body.consents:
        conn.execute(
            update(CUSTOMERS)
            .where(CUSTOMERS.c.customer_id == customer.customer_id)
            .values(**changes, updated_at=utcnow())
        )
    upsert_consents(conn, [(customer.customer_id, c) for c in body.consents])
    session.expire_all()
    if changes:
        after = {**before, **{k: v for k, v in changes.items() if k in PROFILE_FIELDS}}
        hooks.profile_saved(session, customer.customer_id, before, after)
    return customer_360(session, customer.customer_id)


# -- search -------------------------------------------------------------------------------


def list_customers(
    session: Session,
    *,
    q: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    household_id: str | None = None,
    segment: str | None = None,
    created_since: datetime | None = None,
    updated_since: datetime | None = None,
    limit: int,
    cursor: str | None = None,
) -> Page[CustomerSummary]:
    """Customers matching every filter given, in the order they were created.

    ``q`` is a case-insensitive substring of the name, email or phone; ``email`` matches
    the whole address case-insensitively; ``segment`` is the analytics' latest segment.
    """
    query = select(Customer)
    if q:
        query = query.where(
            or_(
                icontains(Customer.name, q),
                icontains(Customer.email, q),
                icontains(Customer.phone, q),
            )
        )
    if email is not None:
        query = query.where(func.lower(Customer.email) == email.lower())
    if phone is not None:
        query = query.where(Customer.phone == phone)
    if household_id is not None:
        query = query.where(Customer.household_id == household_id)
    if segment is not None:
        query = query.join(CustomerScore, CustomerScore.customer_id == Customer.customer_id).where(
            CustomerScore.segment == segment
        )
    if created_since is not None:
        query = query.where(Customer.created_at >= created_since)
    if updated_since is not None:
        query = query.where(Customer.updated_at >= updated_since)
    return paginate(
        session,
        query,
        Customer.id,
        limit=limit,
        cursor=cursor,
        render=lambda rows: [CustomerSummary.model_validate(c, from_attributes=True) for c in rows],
    )


# -- merging duplicates -------------------------------------------------------------------

MergeRule = Callable[[Connection, str, str], int]
"""``(conn, survivor_id, duplicate_id) -> rows affected``: one kind of data merged."""


def _move(table_name: str) -> MergeRule:
    table = TABLES[table_name]

    def move(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
        moved = conn.execute(
            update(table).where(table.c.customer_id == duplicate_id).values(customer_id=survivor_id)
        )
        return moved.rowcount

    move.__doc__ = f"Re-key the duplicate's {table_name} to the survivor."
    return move


def _merge_consents(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Move the duplicate's consents; for a channel and topic both have, the more recently
    updated consent wins. Each keeps its own ``updated_at`` (when it was given)."""
    theirs = conn.execute(select(CONSENTS).where(CONSENTS.c.customer_id == duplicate_id)).all()
    mine = {
        (c.channel, c.topic): c
        for c in conn.execute(select(CONSENTS).where(CONSENTS.c.customer_id == survivor_id))
    }
    changed = 0
    for consent in theirs:
        own = mine.get((consent.channel, consent.topic))
        if own is None:
            conn.execute(
                update(CONSENTS)
                .where(CONSENTS.c.id == consent.id)
                .values(customer_id=survivor_id, updated_at=consent.updated_at)
            )
        elif consent.updated_at > own.updated_at:
            conn.execute(
                update(CONSENTS)
                .where(CONSENTS.c.id == own.id)
                .values(
                    granted=consent.granted, source=consent.source, updated_at=consent.updated_at
                )
            )
        else:
            continue
        changed += 1
    conn.execute(delete(CONSENTS).where(CONSENTS.c.customer_id == duplicate_id))
    return changed


def _drop_scores(conn: Connection, _survivor_id: str, duplicate_id: str) -> int:
    """The duplicate's scores go; the next analytics refresh scores the merged history."""
    scores = TABLES["customer_scores"]
    return conn.execute(delete(scores).where(scores.c.customer_id == duplicate_id)).rowcount


MERGE_RULES: dict[str, MergeRule] = {
    "orders": _move("orders"),
    "returns": _move("order_returns"),
    "events": _move("events"),
    "aliases": _move("customer_aliases"),
    "consents": _merge_consents,
    "scores_dropped": _drop_scores,
    "loyalty_accounts": merge_loyalty_accounts,
    "loyalty_rewards": live_merging.merge_rewards,
    "loyalty_badges": live_merging.merge_badges,
    "loyalty_tier_states": live_merging.merge_tier_states,
    "loyalty_memberships": live_merging.merge_memberships,
    "loyalty_referrals": live_merging.merge_referrals,
    "loyalty_donations": live_merging.move_donations,
    "loyalty_partner_transactions": live_merging.move_partner_transactions,
    "loyalty_draw_winners": live_merging.merge_draw_winners,
}
"""What a merge does to each kind of data referring to the duplicate, in this order. A
part that adds a table with a ``customer_id`` adds its rule here and names the table in
:data:`MERGED_TABLES` (a test fails for a customer-keyed table without a rule); any row
left behind is deleted with the duplicate (``ON DELETE CASCADE``). The loyalty accounts
(and through them their entries, lots, consumptions and events) merge by
:func:`~regulars.loyalty.merging.merge_loyalty_accounts`, the live programs' tables by
:mod:`regulars.loyalty.merging` (tier states last: they are evaluated again over the
merged orders and points)."""

MERGED_TABLES: dict[str, tuple[str, ...]] = {
    "orders": ("orders",),
    "returns": ("order_returns",),
    "events": ("events",),
    "aliases": ("customer_aliases",),
    "consents": ("consents",),
    "scores_dropped": ("customer_scores",),
    "loyalty_accounts": ("loyalty_accounts",),
    "loyalty_rewards": ("loyalty_rewards",),
    "loyalty_badges": ("loyalty_badges",),
    "loyalty_tier_states": ("loyalty_tier_states",),
    "loyalty_memberships": ("loyalty_memberships",),
    "loyalty_referrals": ("loyalty_referrals",),
    "loyalty_donations": ("loyalty_donations",),
    "loyalty_partner_transactions": ("loyalty_partner_transactions",),
    "loyalty_draw_winners": ("loyalty_draw_winners",),
}
"""The tables with a foreign key to ``customers`` each rule of :data:`MERGE_RULES` handles."""


def tables_without_merge_rule(metadata: MetaData) -> list[str]:
    """The tables of ``metadata`` with a foreign key to ``customers`` that no rule of
    :data:`MERGE_RULES` handles (:data:`MERGED_TABLES`), sorted: their rows would be deleted
    with a merged duplicate."""
    handled = {table for tables in MERGED_TABLES.values() for table in tables}
    keyed = {
        table.name
        for table in metadata.tables.values()
        for key in table.foreign_keys
        if key.column.table.name == "customers" and table.name != "customers"
    }
    return sorted(keyed - handled)


def _filled_profile(survivor: Customer, duplicate: Customer) -> dict[str, Any]:
    """The survivor's empty profile fields filled from the duplicate; attributes united
    (the survivor's value wins for a key both have)."""
    values: dict[str, Any] = {
        field: getattr(duplicate, field)
        for field in PROFILE_FIELDS
        if getattr(survivor, field) in (None, "") and getattr(duplicate, field) is not None
    }
    values["attributes"] = {**(duplicate.attributes or {}), **(survivor.attributes or {})}
    return values


def _locked_customer(session: Session, customer_id: str) -> Customer | None:
    return session.scalars(
        select(Customer).where(Customer.customer_id == customer_id).with_for_update()
    ).one_or_none()


def merge_customers(
    session: Session, survivor_id: str, body: MergeIn, *, actor: str
) -> CustomerOut:
    """Merge customer ``body.duplicate_id`` into ``survivor_id``, in the caller's transaction.

    The duplicate's data move to the survivor (:data:`MERGE_RULES`), its profile fills the
    survivor's empty fields, the duplicate is deleted and its id becomes an alias of the
    survivor (later orders and events under it land on the survivor; reading it answers
    the survivor). Audited as ``customer.merge``. Merging an already merged duplicate again
    answers the survivor's 360 again; a duplicate merged into someone else is a 409.

    When the duplicate's fields change the survivor's profile, the profile hooks run last
    (``before``: the survivor's profile before the merge), as for any other save: a
    profile the merge completes earns the profile bonus, unless the survivor or the
    duplicate earned it before (:func:`regulars.loyalty.points.action_bonuses.on_profile_saved`).
    """
    duplicate_id = body.duplicate_id
    survivor = find_customer(session, survivor_id)
    if resolve_customer_id(session, duplicate_id) == survivor.customer_id:
        if duplicate_id == survivor.customer_id:
            raise invalid("duplicate_id", "a customer cannot be merged into itself")
        return customer_360(session, survivor.customer_id)  # merged before: same answer
    conn = session.connection()
    # A write first: takes SQLite's write lock (and PostgreSQL's row lock) before reading.
    conn.execute(
        update(CUSTOMERS)
        .where(CUSTOMERS.c.customer_id == survivor.customer_id)
        .values(updated_at=utcnow())
    )
    duplicate = _locked_customer(session, duplicate_id)
    if duplicate is None:
        elsewhere = resolve_customer_id(session, duplicate_id)
        if elsewhere != duplicate_id:
            raise conflict(f"customer '{duplicate_id}' was already merged into '{elsewhere}'")
        raise not_found(f"customer '{duplicate_id}'")
    counts = {
        name: rule(conn, survivor.customer_id, duplicate_id) for name, rule in MERGE_RULES.items()
    }
    before = profile_of(survivor)
    filled = _filled_profile(survivor, duplicate)
    conn.execute(
        update(CUSTOMERS).where(CUSTOMERS.c.customer_id == survivor.customer_id).values(**filled)
    )
    conn.execute(delete(CUSTOMERS).where(CUSTOMERS.c.customer_id == duplicate_id))
    conn.execute(
        insert_ignoring_conflicts(conn, TABLES["customer_aliases"]),
        {"alias_id": duplicate_id, "customer_id": survivor.customer_id, "merged_at": utcnow()},
    )
    session.expire_all()
    audit.record(
        session,
        actor=actor,
        action="customer.merge",
        target_type="customer",
        target_id=survivor.customer_id,
        details={"duplicate_id": duplicate_id, **counts},
    )
    after = {**before, **{k: v for k, v in filled.items() if k in PROFILE_FIELDS}}
    if after != before:  # after the alias: the bonus rule sees the duplicate as merged
        hooks.profile_saved(session, survivor.customer_id, before, after)
    return customer_360(session, survivor.customer_id)
