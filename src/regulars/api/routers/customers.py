"""``/v1/customers``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from regulars.api.deps import SessionDep, require
from regulars.api.openapi import DEFAULT_LIMIT, Cursor, IdPath, Limit, Text, problems
from regulars.api.schemas import (
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    CustomerSummary,
    EventOut,
    MergeIn,
    Page,
    UTCTime,
)
from regulars.api.services import customer360, customers, events
from regulars.store.tables import ApiKey

router = APIRouter(prefix="/customers", tags=["customers"])

_READ = [Depends(require("customers:read"))]
_WRITE = [Depends(require("customers:write"))]


@router.post(
    "",
    status_code=201,
    dependencies=_WRITE,
    responses=problems(409, body=True, d409="customer_id exists or was merged into another"),
)
def create_customer(body: CustomerIn, session: SessionDep) -> CustomerOut:
    """Create a customer profile (with consents)."""
    return customers.create_customer(session, body)


Money = Annotated[Decimal, Query(ge=0, le=10**12, description="12-month CLV bound")]
Sort = Literal["created", "name", "last_purchase", "clv", "churn_risk", "orders"]


@router.get("", dependencies=_READ, responses=problems())
def list_customers(
    session: SessionDep,
    q: Annotated[
        Text | None,
        Query(max_length=255, description="substring of name, email or phone, or the customer_id"),
    ] = None,
    email: Annotated[Text | None, Query(max_length=320)] = None,
    phone: Annotated[Text | None, Query(max_length=32)] = None,
    household_id: Annotated[Text | None, Query(max_length=255)] = None,
    segment: Annotated[Text | None, Query(max_length=64)] = None,
    kind: Annotated[Text | None, Query(max_length=64)] = None,
    stage: Annotated[Text | None, Query(max_length=64)] = None,
    tier: Annotated[Text | None, Query(max_length=64, description="tier in a tier club")] = None,
    min_churn_risk: Annotated[float | None, Query(ge=0, le=1)] = None,
    at_risk: Annotated[
        bool, Query(description="only the customers to call (docs/churn.md, who to call)")
    ] = False,
    min_clv: Money | None = None,
    max_clv: Money | None = None,
    last_purchase_after: Annotated[
        UTCTime | None, Query(description="latest purchase at or after this time")
    ] = None,
    last_purchase_before: Annotated[
        UTCTime | None, Query(description="latest purchase before this time")
    ] = None,
    created_since: UTCTime | None = None,
    updated_since: UTCTime | None = None,
    sort: Annotated[Sort, Query(description="the order; customers without the value last")] = (
        "created"
    ),
    desc: Annotated[bool, Query(description="descending (created: newest first)")] = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[CustomerSummary]:
    """Search and list customers, oldest first or by ``sort``, one page at a time."""
    return customers.list_customers(
        session,
        q=q,
        email=email,
        phone=phone,
        household_id=household_id,
        segment=segment,
        kind=kind,
        stage=stage,
        tier=tier,
        min_churn_risk=min_churn_risk,
        at_risk=at_risk,
        min_clv=min_clv,
        max_clv=max_clv,
        last_purchase_after=last_purchase_after,
        last_purchase_before=last_purchase_before,
        created_since=created_since,
        updated_since=updated_since,
        sort=sort,
        newest_first=desc,
        limit=limit,
        cursor=cursor,
    )


def _point_to_survivor(response: Response, asked: str, customer: CustomerOut) -> CustomerOut:
    """A merged-away id answers with the survivor; ``Content-Location`` names it."""
    if customer.customer_id != asked:
        response.headers["Content-Location"] = f"/v1/customers/{customer.customer_id}"
    return customer


@router.get("/{customer_id}", dependencies=_READ, responses=problems(404, d404="unknown customer"))
def get_customer(customer_id: IdPath, session: SessionDep, response: Response) -> CustomerOut:
    """Customer 360: profile, purchases, consents, scores, recent orders, returns, events."""
    return _point_to_survivor(response, customer_id, customer360.customer_360(session, customer_id))


@router.patch(
    "/{customer_id}",
    dependencies=_WRITE,
    responses=problems(404, body=True, d404="unknown customer"),
)
def patch_customer(
    customer_id: IdPath, body: CustomerPatch, session: SessionDep, response: Response
) -> CustomerOut:
    """Change some profile fields; upsert consents by channel and topic."""
    updated = customers.patch_customer(session, customer_id, body)
    return _point_to_survivor(response, customer_id, updated)


@router.post(
    "/{customer_id}/merge",
    responses=problems(
        404,
        409,
        body=True,
        d404="unknown customer or duplicate",
        d409="the duplicate was merged into another customer",
    ),
)
def merge_customer(
    customer_id: IdPath,
    body: MergeIn,
    session: SessionDep,
    key: Annotated[ApiKey, Depends(require("customers:write"))],
) -> CustomerOut:
    """Merge customer `duplicate_id` into this one; safe to retry."""
    return customers.merge_customers(session, customer_id, body, actor=f"apikey:{key.prefix}")


@router.get(
    "/{customer_id}/events",
    dependencies=_READ,
    responses=problems(404, d404="unknown customer"),
)
def list_customer_events(
    customer_id: IdPath, session: SessionDep, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[EventOut]:
    """The customer's behavioural events, oldest first, one page at a time."""
    return events.customer_events(session, customer_id, limit=limit, cursor=cursor)
