"""Helpers every service uses: dialect upserts, keyset pages, customer aliases, errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Insert, Select, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from regulars.api.problems import ApiProblemError
from regulars.api.schemas import Page
from regulars.clock import utcnow
from regulars.store.pages import InvalidCursorError, keyset_page
from regulars.store.tables import Base, Customer, CustomerAlias

TABLES = Base.metadata.tables

Row = TypeVar("Row")
Item = TypeVar("Item")


def dialect_insert(conn: Connection | Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's ``INSERT``, which has ``ON CONFLICT``."""
    bind = conn.connection() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignoring_conflicts(conn: Connection | Session, table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING``: rows whose unique key exists are skipped."""
    return dialect_insert(conn, table).on_conflict_do_nothing()


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


# -- customers and their aliases ----------------------------------------------------------


def resolve_aliases(session: Session, customer_ids: Iterable[str]) -> dict[str, str]:
    """``{id: survivor}`` for every id merged into another customer (one query)."""
    wanted = set(customer_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(CustomerAlias.alias_id, CustomerAlias.customer_id).where(
            CustomerAlias.alias_id.in_(wanted)
        )
    ).all()
    return {alias: survivor for alias, survivor in rows}  # noqa: C416 (rows are Row objects)


def resolve_customer_id(session: Session, customer_id: str) -> str:
    """The customer ``customer_id`` stands for: itself, or the survivor it was merged into."""
    return resolve_aliases(session, [customer_id]).get(customer_id, customer_id)


def find_customer(session: Session, customer_id: str) -> Customer:
    """The customer (following a merge alias); 404 when unknown."""
    resolved = resolve_customer_id(session, customer_id)
    customer = session.scalars(
        select(Customer).where(Customer.customer_id == resolved)
    ).one_or_none()
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
