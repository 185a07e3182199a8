"""Request and response bodies (pydantic v2). Money is a decimal string in JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from regulars.store.models import DEFAULT_SHOP

_CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Money = Annotated[
    Decimal,
    Field(max_digits=18, decimal_places=2, examples=["19.90"]),
    AfterValidator(_cents),
    PlainSerializer(str, return_type=str, when_used="json"),
]
UTCTime = Annotated[AwareDatetime, AfterValidator(_utc)]
Key = Annotated[str, Field(min_length=1, max_length=255)]
OrderStatus = Literal["completed", "refunded", "partially_refunded", "cancelled"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ConsentIn(_In):
    channel: Annotated[str, Field(min_length=1, max_length=32)]
    topic: Annotated[str, Field(min_length=1, max_length=64)] = "marketing"
    granted: bool
    source: Annotated[str | None, Field(max_length=255)] = None


class ConsentOut(BaseModel):
    channel: str
    topic: str
    granted: bool
    source: str | None
    updated_at: datetime


class CustomerIn(_In):
    customer_id: Key
    name: Annotated[str | None, Field(max_length=255)] = None
    email: Annotated[str | None, Field(max_length=320)] = None
    phone: Annotated[str | None, Field(max_length=32)] = None
    birthday: date | None = None
    time_zone: Annotated[str | None, Field(max_length=64)] = None
    language: Annotated[str | None, Field(max_length=35)] = None
    acquisition_channel: Annotated[str | None, Field(max_length=64)] = None
    household_id: Annotated[str | None, Field(max_length=255)] = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    consents: list[ConsentIn] = Field(default_factory=list)


class Scores(BaseModel):
    segment: str | None
    kind: str | None
    stage: str | None
    p_alive: float | None
    clv_12m: Money | None
    churn_risk: float | None
    computed_at: datetime


class PurchaseStats(BaseModel):
    orders_count: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    revenue: Money
    average_check: Money | None


class CustomerOut(BaseModel):
    """Customer 360: profile, purchase statistics, consents and the latest scores."""

    customer_id: str
    name: str | None
    email: str | None
    phone: str | None
    birthday: date | None
    time_zone: str | None
    language: str | None
    acquisition_channel: str | None
    household_id: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    purchases: PurchaseStats
    consents: list[ConsentOut]
    scores: Scores | None


class OrderLineIn(_In):
    sku: Annotated[str | None, Field(max_length=255)] = None
    product_name: Annotated[str | None, Field(max_length=255)] = None
    category: Annotated[str | None, Field(max_length=255)] = None
    quantity: int
    unit_price: Money
    line_amount: Money


class OrderIn(_In):
    shop_id: Annotated[str, Field(min_length=1, max_length=64)] = DEFAULT_SHOP
    order_id: Key
    customer_id: Key
    ordered_at: UTCTime
    amount: Money
    refunded_amount: Annotated[Money, Field(ge=0)] = Decimal("0.00")
    status: OrderStatus = "completed"
    currency: Annotated[str | None, Field(min_length=3, max_length=3)] = None
    channel: Annotated[str | None, Field(max_length=64)] = None
    lines: list[OrderLineIn] = Field(default_factory=list)


class OrderLineOut(BaseModel):
    sku: str | None
    product_name: str | None
    category: str | None
    quantity: int
    unit_price: Money
    line_amount: Money


class OrderOut(BaseModel):
    shop_id: str
    order_id: str
    customer_id: str
    ordered_at: datetime
    amount: Money
    refunded_amount: Money
    status: str
    currency: str | None
    channel: str | None
    lines: list[OrderLineOut]
    created_at: datetime
