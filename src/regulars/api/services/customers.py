"""Customers: create, update, search, merge duplicates.

Creating a customer and changing a profile run the profile hooks
(:func:`regulars.api.services.hooks.profile_saved`): a save that completes a profile earns
the running points programs' ``profile_completed`` bonuses. So does a merge whose
duplicate fills empty fields of the survivor (:func:`merge_customers`, by
:mod:`regulars.customers.merge`): once per customer, the merged-away customer included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    ScalarSelect,
    Select,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from regulars.api.problems import ApiProblemError
from regulars.api.schemas import (
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
    find_customer,
    icontains,
    invalid,
    not_found,
    paginate,
    sorted_page,
)
from regulars.api.services.customer360 import customer_360
from regulars.clock import utcnow
from regulars.customers.aliases import resolve_aliases
from regulars.customers.merge import (
    AlreadyMergedError,
    CustomerNotFoundError,
    SelfMergeError,
)
from regulars.customers.merge import merge_customers as merge
from regulars.customers.profile import PROFILE_FIELDS, profile_of
from regulars.loyalty.program_store.tables import LoyaltyTierState
from regulars.scoring import at_risk as risk_rule
from regulars.store.purchases import is_purchase
from regulars.store.tables import Consent, Customer, CustomerScore, Order
from regulars.store.upsert import dialect_insert
from regulars.wiring import MERGE_RULES, PROFILE_SAVED

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
        # In key order, so that concurrent requests lock the same rows in the same order.
        [
            {"customer_id": cid, **c.model_dump(), "updated_at": now}
            for _key, (cid, c) in sorted(latest.items())
        ],
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


CUSTOMER_SORTS = ("created", "name", "last_purchase", "clv", "churn_risk", "orders")
"""The orders a customer list can take (``sort``), each ascending or descending."""


def last_purchase_at() -> ScalarSelect[datetime]:
    """The customer's latest order that counts as a purchase (NULL: none yet)."""
    return (
        select(func.max(Order.ordered_at))
        .where(Order.customer_id == Customer.customer_id, is_purchase())
        .scalar_subquery()
    )


def purchase_count() -> ScalarSelect[int]:
    """How many of the customer's orders count as purchases."""
    return (
        select(func.count())
        .select_from(Order)
        .where(Order.customer_id == Customer.customer_id, is_purchase())
        .scalar_subquery()
    )


def purchase_facts(
    session: Session, customer_ids: Sequence[str]
) -> dict[str, tuple[datetime, int]]:
    """The latest purchase and the number of purchases of each customer who bought."""
    rows = session.execute(
        select(Order.customer_id, func.max(Order.ordered_at), func.count())
        .where(Order.customer_id.in_(customer_ids), is_purchase())
        .group_by(Order.customer_id)
    )
    return {cid: (last, n) for cid, last, n in rows}


def _sort_key(sort: str) -> ColumnElement[Any] | ScalarSelect[Any]:
    keys: dict[str, Any] = {
        "name": func.lower(Customer.name),
        "last_purchase": last_purchase_at(),
        "clv": CustomerScore.clv_12m,
        "churn_risk": CustomerScore.churn_risk,
        "orders": purchase_count(),
    }
    return cast(ColumnElement[Any] | ScalarSelect[Any], keys[sort])


def _profile_filters(
    query: Select[tuple[Customer]],
    q: str | None,
    email: str | None,
    phone: str | None,
    household_id: str | None,
) -> Select[tuple[Customer]]:
    if q:
        query = query.where(
            or_(
                icontains(Customer.name, q),
                icontains(Customer.email, q),
                icontains(Customer.phone, q),
                Customer.customer_id == q.strip(),
            )
        )
    if email is not None:
        query = query.where(func.lower(Customer.email) == email.lower())
    if phone is not None:
        query = query.where(Customer.phone == phone)
    if household_id is not None:
        query = query.where(Customer.household_id == household_id)
    return query


@dataclass(frozen=True)
class ScoreFilters:
    """The filters on the latest scores (customers not yet scored match none of them)."""

    segment: str | None
    kind: str | None
    stage: str | None
    min_churn_risk: float | None
    at_risk: bool
    min_clv: Decimal | None
    max_clv: Decimal | None

    def any(self) -> bool:
        return self.at_risk or any(
            v is not None for k, v in self.__dict__.items() if k != "at_risk"
        )

    def apply(self, session: Session, query: Select[tuple[Customer]]) -> Select[tuple[Customer]]:
        query = query.join(CustomerScore, CustomerScore.customer_id == Customer.customer_id)
        equal = {
            CustomerScore.segment: self.segment,
            CustomerScore.kind: self.kind,
            CustomerScore.stage: self.stage,
        }
        query = query.where(*(column == v for column, v in equal.items() if v is not None))
        if self.min_churn_risk is not None:
            query = query.where(CustomerScore.churn_risk >= self.min_churn_risk)
        if self.min_clv is not None:
            query = query.where(CustomerScore.clv_12m >= self.min_clv)
        if self.max_clv is not None:
            query = query.where(CustomerScore.clv_12m <= self.max_clv)
        if self.at_risk:
            threshold = risk_rule.current_threshold(session)
            query = query.where(false() if threshold is None else risk_rule.at_risk(threshold))
        return query


def list_customers(
    session: Session,
    *,
    q: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    household_id: str | None = None,
    segment: str | None = None,
    kind: str | None = None,
    stage: str | None = None,
    tier: str | None = None,
    min_churn_risk: float | None = None,
    at_risk: bool = False,
    min_clv: Decimal | None = None,
    max_clv: Decimal | None = None,
    last_purchase_after: datetime | None = None,
    last_purchase_before: datetime | None = None,
    created_since: datetime | None = None,
    updated_since: datetime | None = None,
    limit: int,
    cursor: str | None = None,
    newest_first: bool = False,
    sort: str = "created",
) -> Page[CustomerSummary]:
    """Customers matching every filter given, in the order they were created (or newest
    first), or by ``sort`` (:data:`CUSTOMER_SORTS`; ``newest_first``: descending).

    ``q`` is a case-insensitive substring of the name, email or phone, or the whole
    customer_id; ``email`` matches the whole address case-insensitively; ``segment``,
    ``kind``, ``stage``, ``min_churn_risk`` and the 12-month CLV bounds are the latest
    scores' (customers not yet scored match none of them); ``at_risk`` keeps the customers
    to call (:mod:`regulars.scoring.at_risk`); ``tier`` is the customer's tier in a tier
    club; the last purchase is the latest order that counts as one
    (:mod:`regulars.store.purchases`): after is inclusive, before exclusive, and a customer
    without a purchase matches neither. Sorted lists put customers without the value
    (not scored, never bought, no name) last either way.
    """
    if sort not in CUSTOMER_SORTS:
        raise invalid("sort", f"unknown sort '{sort}'; use {', '.join(CUSTOMER_SORTS)}")
    query = _profile_filters(select(Customer), q, email, phone, household_id)
    scores = ScoreFilters(segment, kind, stage, min_churn_risk, at_risk, min_clv, max_clv)
    if scores.any():
        query = scores.apply(session, query)
    elif sort in ("clv", "churn_risk"):
        query = query.outerjoin(CustomerScore, CustomerScore.customer_id == Customer.customer_id)
    conditions = [
        None
        if tier is None
        else Customer.customer_id.in_(
            select(LoyaltyTierState.customer_id).where(LoyaltyTierState.tier == tier)
        ),
        None if last_purchase_after is None else last_purchase_at() >= last_purchase_after,
        None if last_purchase_before is None else last_purchase_at() < last_purchase_before,
        None if created_since is None else Customer.created_at >= created_since,
        None if updated_since is None else Customer.updated_at >= updated_since,
    ]
    query = query.where(*(c for c in conditions if c is not None))
    render = lambda rows: [  # noqa: E731
        CustomerSummary.model_validate(c, from_attributes=True) for c in rows
    ]
    if sort != "created":
        return sorted_page(
            session,
            query,
            _sort_key(sort),
            Customer.id,
            limit=limit,
            cursor=cursor,
            render=render,
            descending=newest_first,
        )
    return paginate(
        session,
        query,
        Customer.id,
        limit=limit,
        cursor=cursor,
        render=render,
        newest_first=newest_first,
    )


# -- merging duplicates -------------------------------------------------------------------


def merge_customers(
    session: Session, survivor_id: str, body: MergeIn, *, actor: str
) -> CustomerOut:
    """Merge customer ``body.duplicate_id`` into ``survivor_id``, in the caller's transaction,
    with every installed domain's merge rules and profile hooks
    (:func:`regulars.customers.merge.merge_customers`); answers the survivor's 360. 404 for
    an unknown customer, 422 for a merge into itself, 409 for a duplicate merged into
    someone else."""
    try:
        merged = merge(
            session,
            survivor_id,
            body.duplicate_id,
            actor=actor,
            rules=MERGE_RULES,
            profile_hooks=PROFILE_SAVED,
        )
    except CustomerNotFoundError as exc:
        raise not_found(f"customer '{exc.customer_id}'") from None
    except SelfMergeError as exc:
        raise invalid("duplicate_id", str(exc)) from None
    except AlreadyMergedError as exc:
        raise conflict(str(exc)) from None
    return customer_360(session, merged.survivor_id)
