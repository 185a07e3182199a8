"""Bulk ingestion: per-item results."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from regulars.api.schemas.common import FieldError

MAX_BULK_ITEMS = 1_000
"""Most items in one bulk request (422 beyond)."""

ItemStatus = Literal["created", "replayed", "updated", "rejected"]


class ItemResult(BaseModel):
    index: int = Field(description="position of the item in the request array")
    status: ItemStatus
    key: str | None = Field(description="the item's natural key, when it could be read")
    errors: list[FieldError]


class BulkCounts(BaseModel):
    created: int = 0
    replayed: int = 0
    updated: int = 0
    rejected: int = 0


class BulkResult(BaseModel):
    counts: BulkCounts
    results: list[ItemResult]
