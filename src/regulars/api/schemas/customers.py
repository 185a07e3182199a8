"""Customer bodies: create, patch, merge, list items and the Customer 360."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from regulars.api.schemas.common import CalendarDate, In, Key, MoneyOut, TimeZone, storable
from regulars.api.schemas.events import EventOut
from regulars.api.schemas.orders import OrderOut, ReturnOut

Channel = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(storable)]
Topic = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(storable)]


class ConsentIn(In):
    channel: Channel
    topic: Topic = "marketing"
    granted: bool
    source: Annotated[str | None, Field(max_length=255)] = None


class ConsentOut(BaseModel):
    channel: str
    topic: str
    granted: bool
    source: str | None
    updated_at: datetime


class _ProfileFields(In):
    name: Annotated[str | None, Field(max_length=255)] = None
    email: Annotated[str | None, Field(max_length=320)] = None
    phone: Annotated[str | None, Field(max_length=32)] = None
    birthday: CalendarDate | None = None
    time_zone: TimeZone | None = None
    language: Annotated[str | None, Field(max_length=35)] = None
    acquisition_channel: Annotated[str | None, Field(max_length=64)] = None
    household_id: Annotated[str | None, Field(max_length=255)] = None


# Its fields are the customers domain's PROFILE_FIELDS (a test checks that they agree).


class CustomerIn(_ProfileFields):
    customer_id: Key
    attributes: dict[str, Any] = Field(default_factory=dict)
    consents: list[ConsentIn] = Field(default_factory=list)


class CustomerPatch(_ProfileFields):
    """Only the fields sent change; ``null`` clears a field. ``attributes`` is merged key by
    key (a ``null`` value removes the key); ``consents`` are upserted by channel and topic."""

    attributes: dict[str, Any] | None = None
    consents: list[ConsentIn] = Field(default_factory=list)


class MergeIn(In):
    duplicate_id: Key


class Scores(BaseModel):
    segment: str | None
    kind: str | None
    stage: str | None
    p_alive: float | None
    clv_12m: MoneyOut | None
    churn_risk: float | None
    computed_at: datetime
    stale_reason: str | None = Field(
        None,
        description="Why some scores are older than computed_at: a model could not be fitted "
        "on the last refresh, which kept their previous values; null when all are current.",
    )


class PurchaseStats(BaseModel):
    """Purchases by the analytics' rule (``counts_as_purchase``); money net of refunds."""

    orders_count: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    revenue: MoneyOut
    average_check: MoneyOut | None
    mean_days_between_purchases: float | None = Field(
        description="(last - first purchase) / (purchases - 1), in days; null below two"
    )
    days_since_last_purchase: int | None = Field(description="whole days from the last purchase")


class CustomerSummary(BaseModel):
    """A customer in a list: the profile without the 360 sections."""

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


class LoyaltyBalance(BaseModel):
    """The customer's account in one loyalty program (Customer 360)."""

    program: str
    state: str = Field(description="active or opted_out")
    balance: int = Field(description="Σ of the ledger entries, in points")
    available: int = Field(description="spendable now: pending period over, not expired")
    pending: int = Field(description="earned, not spendable until the returns window ends")
    tier: str | None


class CustomerOut(CustomerSummary):
    """Customer 360: the profile and one member per section of
    :data:`regulars.api.services.customer360.SECTIONS`."""

    aliases: list[str] = Field(description="former customer_ids merged into this customer")
    purchases: PurchaseStats
    consents: list[ConsentOut]
    scores: Scores | None
    recent_orders: list[OrderOut] = Field(description="the latest orders, newest first")
    returns: list[ReturnOut] = Field(description="the latest returns, newest first")
    recent_events: list[EventOut] = Field(description="the latest events, newest first")
    loyalty: list[LoyaltyBalance] | None = Field(
        None, description="the account in every loyalty program the customer is enrolled in"
    )
