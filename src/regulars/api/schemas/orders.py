"""Order and return bodies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from regulars.api.schemas.common import (
    In,
    Key,
    Money,
    MoneyOut,
    Quantity,
    ShopId,
    StrictInt,
    UTCTime,
)
from regulars.store.tables import DEFAULT_SHOP

OrderStatus = Literal["completed", "refunded", "partially_refunded", "cancelled"]
NonNegativeMoney = Annotated[Money, Field(ge=0)]


class OrderLineIn(In):
    sku: Annotated[str | None, Field(max_length=255)] = None
    product_name: Annotated[str | None, Field(max_length=255)] = None
    category: Annotated[str | None, Field(max_length=255)] = None
    quantity: Quantity
    unit_price: Money
    line_amount: Money


class OrderIn(In):
    shop_id: ShopId = DEFAULT_SHOP
    order_id: Key
    customer_id: Key
    ordered_at: UTCTime
    amount: Money
    refunded_amount: NonNegativeMoney = Decimal("0.00")
    status: OrderStatus = "completed"
    currency: Annotated[str | None, Field(min_length=3, max_length=3)] = None
    channel: Annotated[str | None, Field(max_length=64)] = None
    lines: list[OrderLineIn] = Field(default_factory=list)

    @field_validator("refunded_amount")
    @classmethod
    def _refund_within_amount(cls, refunded: Decimal, info: ValidationInfo) -> Decimal:
        amount = info.data.get("amount")  # absent when the amount itself was invalid
        if amount is not None and refunded > max(amount, Decimal("0.00")):
            raise PydanticCustomError(
                "refund_over_amount",
                "{refunded} is more than the order's amount {amount}",
                {"refunded": str(refunded), "amount": str(amount)},
            )
        return refunded


class OrderLineOut(BaseModel):
    sku: str | None
    product_name: str | None
    category: str | None
    quantity: int
    unit_price: MoneyOut
    line_amount: MoneyOut


class OrderOut(BaseModel):
    shop_id: str
    order_id: str
    customer_id: str
    ordered_at: datetime
    amount: MoneyOut
    refunded_amount: MoneyOut
    status: str
    currency: str | None
    channel: str | None
    lines: list[OrderLineOut]
    created_at: datetime


class ReturnLine(In):
    sku: Annotated[str, Field(min_length=1, max_length=255)]
    quantity: Annotated[StrictInt, Field(gt=0, le=10**12)]
    line_amount: NonNegativeMoney


class ReturnLineOut(BaseModel):
    sku: str
    quantity: int
    line_amount: MoneyOut


class ReturnIn(In):
    shop_id: ShopId = DEFAULT_SHOP
    return_id: Key
    order_id: Key
    returned_at: UTCTime
    amount: NonNegativeMoney
    reason: Annotated[str | None, Field(max_length=255)] = None
    lines: list[ReturnLine] = Field(default_factory=list)


class ReturnOut(BaseModel):
    shop_id: str
    return_id: str
    order_id: str
    customer_id: str
    returned_at: datetime
    amount: MoneyOut
    reason: str | None
    lines: list[ReturnLineOut]
    created_at: datetime
    deduct_from_refund: Money = Field(
        Decimal("0.00"),
        description="Money to take off the customer's refund: points this return reverses "
        "that were already spent, in programs whose shortfall policy is deduct_from_refund "
        "(0.00 otherwise). In the answer to POST /v1/returns and its replays.",
    )


class OrderCancelIn(In):
    cancelled_at: UTCTime | None = Field(
        None, description="When the order was cancelled; now when left out."
    )
    reason: Annotated[str | None, Field(max_length=200)] = None


class OrderCancellationOut(BaseModel):
    order: OrderOut
    reversal: ReturnOut | None = Field(
        description="The return that took back what was left of the order (its amount not "
        "yet refunded) with what it earned; null when nothing was left to refund."
    )
