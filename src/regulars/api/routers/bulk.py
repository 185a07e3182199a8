"""``/v1/bulk``: many orders, customers or events in one request, answered item by item."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from regulars.api.deps import SessionDep, require
from regulars.api.openapi import problems
from regulars.api.schemas import MAX_BULK_ITEMS, BulkResult
from regulars.api.services import bulk as service

router = APIRouter(prefix="/bulk", tags=["bulk"])

Items = Annotated[
    list[Any],
    Body(
        max_length=MAX_BULK_ITEMS,
        description=f"a JSON array of at most {MAX_BULK_ITEMS} items, each validated on its own",
    ),
]
_RESPONSES = problems(body=True, d422=f"not a JSON array, or more than {MAX_BULK_ITEMS} items")


@router.post("/orders", dependencies=[Depends(require("orders:write"))], responses=_RESPONSES)
def bulk_orders(items: Items, session: SessionDep) -> BulkResult:
    """Orders as for `POST /v1/orders`, idempotent by `(shop_id, order_id)`."""
    return service.bulk_orders(session, items)


@router.post("/customers", dependencies=[Depends(require("customers:write"))], responses=_RESPONSES)
def bulk_customers(items: Items, session: SessionDep) -> BulkResult:
    """New customers are created; known ones get the fields sent, as with `PATCH`."""
    return service.bulk_customers(session, items)


@router.post("/events", dependencies=[Depends(require("events:write"))], responses=_RESPONSES)
def bulk_events(items: Items, session: SessionDep) -> BulkResult:
    """Events as for `POST /v1/events`; the same event again is a replay."""
    return service.bulk_events(session, items)
