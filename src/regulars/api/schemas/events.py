"""Behavioural event bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from regulars.api.schemas.common import In, Key, UTCTime, storable
from regulars.store.tables import EVENT_KINDS


class EventIn(In):
    customer_id: Key
    kind: Annotated[
        str,
        Field(min_length=1, max_length=32, examples=list(EVENT_KINDS)),
        AfterValidator(storable),
    ]
    sku: Annotated[str | None, Field(max_length=255)] = None
    occurred_at: UTCTime
    payload: dict[str, Any] = Field(default_factory=dict)


class EventOut(BaseModel):
    id: int
    customer_id: str
    kind: str
    sku: str | None
    occurred_at: datetime
    payload: dict[str, Any]
