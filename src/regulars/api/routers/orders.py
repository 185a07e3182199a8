"""``/v1/orders``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response

from regulars.api import services
from regulars.api.deps import SessionDep, require
from regulars.api.problems import PROBLEM_JSON
from regulars.api.schemas import OrderIn, OrderOut
from regulars.store.models import ApiKey

router = APIRouter(prefix="/orders", tags=["orders"])


@router.post(
    "",
    status_code=201,
    responses={
        200: {"description": "a replay: the order was already recorded", "model": OrderOut},
        409: {
            "description": "same order_id with different content, or Idempotency-Key reused",
            "content": {PROBLEM_JSON: {}},
        },
    },
)
def post_order(
    body: OrderIn,
    response: Response,
    session: SessionDep,
    key: Annotated[ApiKey, Depends(require("orders:write"))],
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> OrderOut:
    """Record an order (or a return with negative amounts); safe to retry."""
    order, created = services.post_order(
        session, body, api_key_id=key.id, idempotency_key=idempotency_key
    )
    response.status_code = 201 if created else 200
    return order
