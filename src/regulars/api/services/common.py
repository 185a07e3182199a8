"""Helpers every service uses: dialect upserts, keyset pages, customer aliases, errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Select, func
from sqlalchemy.orm import InstrumentedAttribute, Session

from regulars.api.problems import ApiProblemError
from regulars.api.schemas import Page
from regulars.clock import utcnow
from regulars.customers.aliases import lookup_customer
from regulars.store.pages import InvalidCursorError, decode_offset, encode_offset, keyset_page
from regulars.store.tables import Customer
from regulars.store.upsert import insert_ignoring_conflicts
from regulars.wiring import METADATA

TABLES = METADATA.tables

Row = TypeVar("Row")
Item = TypeVar("Item")


def request_hash(kind: str, body: BaseModel) -> str:
    """A fingerprint of the normalised request body of endpoint ``kind``."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{kind}:{canonical}".encode()).hexdigest()


# -- errors -------------------------------------------------------------------------------


def not_found(what: str) -> ApiProblemError:
    return ApiProblemError(404, f"no {what}", kind="not-found")


def conflict(detail: str) -> ApiProblemError:
    return ApiProblemError(409, detail, kind="conflict")


def invalid(field: str, message: str, *, where: str = "body") -> ApiProblemError:
    """A 422 naming one field, shaped like the request validation errors."""
    return ApiProblemError(
        422,
        message,
        kind="validation-error",
        errors=[{"in": where, "field": field, "message": message, "type": "value_error"}],
    )


def icontains(column: Any, text: str) -> Any:
    """Case-insensitive substring match; ``%`` and ``_`` in ``text`` are taken literally."""
    return func.lower(column).contains(text.lower(), autoescape=True)


# -- keyset pagination --------------------------------------------------------------------


def paginate(
    session: Session,
    query: Select[Row],
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    cursor: str | None,
    render: Callable[[Sequence[Row]], list[Item]],
    newest_first: bool = False,
) -> Page[Item]:
    """One page of ``query`` in ``id_column`` order after ``cursor``
    (:func:`regulars.store.pages.keyset_page`); a foreign cursor is a 422 naming it.
    ``render`` turns the page's rows into items (in one go, so it can batch look-ups).
    """
    try:
        rows, next_cursor = keyset_page(
            session, query, id_column, limit=limit, cursor=cursor, newest_first=newest_first
        )
    except InvalidCursorError as exc:
        raise invalid("cursor", str(exc), where="query") from None
    return Page[Any](items=render(rows), next_cursor=next_cursor)


def sorted_page(
    session: Session,
    query: Select[Row],
    key: Any,
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    cursor: str | None,
    render: Callable[[Sequence[Row]], list[Item]],
    descending: bool = False,
) -> Page[Item]:
    """One page of ``query`` ordered by ``key`` (rows without a value last), then by
    ``id_column``; the cursor holds the offset of the next page. Unlike
    :func:`paginate`, a row written meanwhile may shift the later pages by one."""
    offset = 0
    if cursor is not None:
        try:
            offset = decode_offset(cursor)
        except InvalidCursorError as exc:
            raise invalid("cursor", str(exc), where="query") from None
    direction = key.desc() if descending else key.asc()
    ordered = query.order_by(key.is_(None), direction, id_column)
    rows = session.scalars(ordered.offset(offset).limit(limit + 1)).all()
    more = len(rows) > limit
    next_cursor = encode_offset(offset + limit) if more else None
    return Page[Any](items=render(rows[:limit]), next_cursor=next_cursor)


# -- customers and their aliases ----------------------------------------------------------


def find_customer(session: Session, customer_id: str) -> Customer:
    """The customer (following a merge alias); 404 when unknown."""
    customer = lookup_customer(session, customer_id)
    if customer is None:
        raise not_found(f"customer '{customer_id}'")
    return customer


def create_bare_customers(conn: Connection, customer_ids: Iterable[str]) -> None:
    """Insert customers known only by id (orders and events of new customers), if missing."""
    now = utcnow()
    rows = [
        {"customer_id": cid, "attributes": {}, "created_at": now, "updated_at": now}
        for cid in sorted(set(customer_ids))
    ]
    if rows:
        conn.execute(insert_ignoring_conflicts(conn, TABLES["customers"]), rows)
