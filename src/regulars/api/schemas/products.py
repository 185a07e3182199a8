"""Product bodies: catalogue entry, price history and stock levels."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from regulars.api.schemas.common import In, Money, MoneyOut, Quantity, UTCTime


class ProductIn(In):
    """The whole product (``PUT`` replaces it); a new ``price`` is added to the history,
    valid from ``price_valid_from`` (default: now)."""

    name: Annotated[str | None, Field(max_length=255)] = None
    category: Annotated[str | None, Field(max_length=255)] = None
    price: Annotated[Money | None, Field(ge=0)] = None
    price_valid_from: UTCTime | None = None


class PriceOut(BaseModel):
    price: MoneyOut
    valid_from: datetime


class StockIn(In):
    quantity: Quantity
    recorded_at: UTCTime


class StockOut(BaseModel):
    sku: str
    quantity: int
    recorded_at: datetime


class ProductSummary(BaseModel):
    sku: str
    name: str | None
    category: str | None
    price: MoneyOut | None
    created_at: datetime
    updated_at: datetime


class ProductOut(ProductSummary):
    """A product with its price history (oldest first) and its latest stock level."""

    price_history: list[PriceOut]
    stock: StockOut | None
