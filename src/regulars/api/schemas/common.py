"""Types shared by every request and response body: money, time, keys, pages, problems."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    field_validator,
)

from regulars.limits import MAX_MONEY, check_date, check_instant, check_time_zone

_CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT)


def storable(value: Any) -> Any:
    """``value`` unchanged if both databases can store it, else :class:`ValueError`.

    PostgreSQL refuses NUL characters in text and JSON, no database can encode a lone
    surrogate (``"\\ud800"`` is valid JSON but not UTF-8), and JSON has no NaN or infinity.
    Nested dicts and lists (free JSON such as ``attributes``) are checked all the way down.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            storable(item)
    return value


# The shared constrained types of request bodies and parameters; their ranges are
# regulars.limits, documented in docs/api.md ("Limits").
Money = Annotated[
    Decimal,
    Field(ge=-MAX_MONEY, le=MAX_MONEY, decimal_places=2, examples=["19.90"]),
    AfterValidator(_cents),
    PlainSerializer(str, return_type=str, when_used="json"),
]
"""An amount in a request: two decimals, at most ``MAX_MONEY`` either side of 0."""
MoneyOut = Annotated[
    Decimal,
    Field(examples=["19.90"]),
    AfterValidator(_cents),
    PlainSerializer(str, return_type=str, when_used="json"),
]
"""An amount in a response: sums of many amounts may pass ``MAX_MONEY``."""
UTCTime = Annotated[AwareDatetime, AfterValidator(check_instant)]
"""An instant with its UTC offset (at most ±14:00), in the documented range; held in UTC."""
CalendarDate = Annotated[date, AfterValidator(check_date)]
"""A day in the documented range."""
TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(check_time_zone)]
"""An IANA time zone name known to this server."""
StrictInt = Annotated[int, Strict()]
"""An integer written as a JSON integer: ``true``, ``1.0`` or ``"1"`` are refused."""
Key = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(storable)]
ShopId = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(storable)]
Quantity = Annotated[StrictInt, Field(ge=-(10**12), le=10**12)]
"""Item counts: bounded so that every database's BIGINT holds them."""


class In(BaseModel):
    """A request body: unknown fields are refused, text is trimmed and must be storable."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return value if isinstance(value, BaseModel) else storable(value)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list. Pass ``next_cursor`` as ``cursor`` for the next page; ``null``
    means this was the last one."""

    items: list[T]
    next_cursor: str | None


class FieldError(BaseModel):
    """One offending input: where (``body``, ``query``, ``path``, ``header``) and which field."""

    model_config = ConfigDict(populate_by_name=True)

    in_: str = Field(alias="in")
    field: str
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details; extra members (``errors``, ``scope``…) depend on ``type``."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None
