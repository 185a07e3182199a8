"""Bodies of the administration and privacy endpoints: API keys, the audit log, exports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=255)]
    scopes: Annotated[list[str], Field(min_length=1)]


class ApiKeyOut(BaseModel):
    """An API key as lists show it: never the secret."""

    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key, shown only in this response.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class AuditEntryOut(BaseModel):
    id: int
    occurred_at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str | None
    details: dict[str, Any]


class AuditPageOut(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page."
    )


class CustomerExport(BaseModel):
    """Everything the store holds about one customer (GDPR article 15)."""

    format: str
    customer_id: str
    exported_at: str
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="Every table that refers to customers, with the customer's rows."
    )
    mentions: dict[str, list[dict[str, Any]]] = Field(
        description="Audit and job entries that mention the customer."
    )
