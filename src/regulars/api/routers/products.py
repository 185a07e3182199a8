"""``/v1/products``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from regulars.api.deps import SessionDep, require
from regulars.api.openapi import DEFAULT_LIMIT, Cursor, IdPath, Limit, Text, problems
from regulars.api.schemas import Page, ProductIn, ProductOut, ProductSummary, StockIn, StockOut
from regulars.api.services import products as service

router = APIRouter(prefix="/products", tags=["products"])

_READ = [Depends(require("products:read"))]
_WRITE = [Depends(require("products:write"))]


@router.put(
    "/{sku}",
    dependencies=_WRITE,
    responses={
        201: {"description": "the product was created", "model": ProductOut},
        **problems(body=True),
    },
)
def put_product(
    sku: IdPath, body: ProductIn, session: SessionDep, response: Response
) -> ProductOut:
    """Create or replace a product; a new price is added to its price history."""
    product, created = service.put_product(session, sku, body)
    response.status_code = 201 if created else 200
    return product


@router.get("", dependencies=_READ, responses=problems())
def list_products(
    session: SessionDep,
    category: Annotated[Text | None, Query(max_length=255)] = None,
    q: Annotated[Text | None, Query(max_length=255, description="substring of SKU or name")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ProductSummary]:
    """List products, oldest first, one page at a time."""
    return service.list_products(session, category=category, q=q, limit=limit, cursor=cursor)


@router.get("/{sku}", dependencies=_READ, responses=problems(404, d404="unknown product"))
def get_product(sku: IdPath, session: SessionDep) -> ProductOut:
    """A product with its price history and latest stock level."""
    return service.get_product(session, sku)


@router.post(
    "/{sku}/stock",
    status_code=201,
    dependencies=_WRITE,
    responses={
        200: {"description": "a replay: this level was already recorded", "model": StockOut},
        **problems(
            404, 409, body=True, d404="unknown product", d409="another quantity at that time"
        ),
    },
)
def record_stock(sku: IdPath, body: StockIn, session: SessionDep, response: Response) -> StockOut:
    """Record the stock level of a product at a point in time; safe to retry."""
    stock, created = service.record_stock(session, sku, body)
    response.status_code = 201 if created else 200
    return stock
