"""``/v1/orders`` and ``/v1/returns``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from regulars.api.deps import SessionDep, require
from regulars.api.openapi import DEFAULT_LIMIT, Cursor, IdPath, Limit, Text, problems
from regulars.api.schemas import (
    OrderCancelIn,
    OrderCancellationOut,
    OrderIn,
    OrderOut,
    Page,
    ReturnIn,
    ReturnOut,
    UTCTime,
)
from regulars.api.services import orders as service
from regulars.store.tables import DEFAULT_SHOP, ApiKey

router = APIRouter(prefix="/orders", tags=["orders"])
returns_router = APIRouter(prefix="/returns", tags=["orders"])

IdempotencyKey = Annotated[
    Text | None,
    Header(min_length=1, max_length=255, description="makes a retry safe; remembered per API key"),
]
ShopQuery = Annotated[Text, Query(min_length=1, max_length=64)]
_CONFLICT = "same id with different content, or Idempotency-Key reused for another body"
_READ = [Depends(require("orders:read"))]


@router.post(
    "",
    status_code=201,
    responses={
        200: {"description": "a replay: the order was already recorded", "model": OrderOut},
        **problems(409, body=True, d409=_CONFLICT),
    },
)
def post_order(
    body: OrderIn,
    response: Response,
    session: SessionDep,
    key: Annotated[ApiKey, Depends(require("orders:write"))],
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    """Record an order (or a return with negative amounts); safe to retry."""
    order, created = service.post_order(
        session, body, api_key_id=key.id, idempotency_key=idempotency_key
    )
    response.status_code = 201 if created else 200
    return order


@router.get("", dependencies=_READ, responses=problems())
def list_orders(
    session: SessionDep,
    customer_id: Annotated[Text | None, Query(max_length=255)] = None,
    shop_id: Annotated[Text | None, Query(max_length=64)] = None,
    ordered_since: UTCTime | None = None,
    ordered_until: Annotated[UTCTime | None, Query(description="exclusive")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[OrderOut]:
    """List orders in the order they were recorded, one page at a time."""
    return service.list_orders(
        session,
        customer_id=customer_id,
        shop_id=shop_id,
        ordered_since=ordered_since,
        ordered_until=ordered_until,
        limit=limit,
        cursor=cursor,
    )


@router.get("/{order_id}", dependencies=_READ, responses=problems(404, d404="unknown order"))
def get_order(order_id: IdPath, session: SessionDep, shop_id: ShopQuery = DEFAULT_SHOP) -> OrderOut:
    """One order with its lines."""
    return service.get_order(session, shop_id, order_id)


@router.post(
    "/{order_id}/cancel",
    status_code=201,
    responses={
        200: {
            "description": "the order was already cancelled: the first cancellation",
            "model": OrderCancellationOut,
        },
        **problems(
            404,
            409,
            body=True,
            d404="unknown order",
            d409="the reversal's return id is taken by another return",
            d422="invalid input, or cancelled_at before the order",
        ),
    },
)
def cancel_order(
    order_id: IdPath,
    body: OrderCancelIn,
    response: Response,
    session: SessionDep,
    key: Annotated[ApiKey, Depends(require("orders:write"))],
    shop_id: ShopQuery = DEFAULT_SHOP,
) -> OrderCancellationOut:
    """Cancel a recorded order: what is left of it is returned (reversing what it earned),
    the loyalty redemptions sent with it give their points back; safe to retry."""
    outcome, created = service.cancel_order(
        session, shop_id, order_id, body, actor=f"apikey:{key.prefix}"
    )
    response.status_code = 201 if created else 200
    return outcome


@returns_router.post(
    "",
    status_code=201,
    responses={
        200: {"description": "a replay: the return was already recorded", "model": ReturnOut},
        **problems(
            404,
            409,
            body=True,
            d404="unknown order",
            d409=_CONFLICT,
            d422="invalid input, a cancelled order, or more than is left to refund",
        ),
    },
)
def post_return(
    body: ReturnIn,
    response: Response,
    session: SessionDep,
    key: Annotated[ApiKey, Depends(require("orders:write"))],
    idempotency_key: IdempotencyKey = None,
) -> ReturnOut:
    """Record a return (refund) against an order; safe to retry."""
    ret, created = service.record_return(
        session, body, api_key_id=key.id, idempotency_key=idempotency_key
    )
    response.status_code = 201 if created else 200
    return ret
