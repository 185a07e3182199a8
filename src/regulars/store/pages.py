"""Keyset pagination, the one way every list in the store is read page by page.

A page is ``WHERE id > last ORDER BY id LIMIT n + 1`` (or ``id < last … DESC`` for newest
first): one indexed range scan however deep the page, and rows written meanwhile never shift
the pages already read. The cursor handed to clients is the last id of the page,
base64url-encoded JSON; clients must treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from regulars.errors import RegularsError

Row = TypeVar("Row")


class InvalidCursorError(RegularsError):
    """The cursor was not made by :func:`keyset_page`."""

    def __init__(self, cursor: str) -> None:
        super().__init__(f"'{cursor}' is not a cursor from a previous page")


def encode_cursor(last_id: int) -> str:
    raw = json.dumps({"id": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands for; :class:`InvalidCursorError` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        last_id: Any = json.loads(raw)["id"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidCursorError(cursor) from None
    if not isinstance(last_id, int) or isinstance(last_id, bool) or last_id < 0:
        raise InvalidCursorError(cursor)
    return last_id


def keyset_page(
    session: Session,
    query: Select[Row],
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> tuple[Sequence[Row], str | None]:
    """Up to ``limit`` rows of ``query`` after ``cursor`` in ``id_column`` order, and the
    cursor of the next page (None on the last one)."""
    if cursor is not None:
        last = decode_cursor(cursor)
        query = query.where(id_column < last if newest_first else id_column > last)
    order = id_column.desc() if newest_first else id_column
    rows = session.scalars(query.order_by(order).limit(limit + 1)).all()
    page = rows[:limit]
    more = len(rows) > limit
    return page, encode_cursor(getattr(page[-1], id_column.key)) if more else None


def encode_offset(offset: int) -> str:
    """The cursor of a sorted list's page: how many rows the pages before it held."""
    raw = json.dumps({"offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_offset(cursor: str) -> int:
    """The offset an :func:`encode_offset` cursor stands for; :class:`InvalidCursorError`
    for anything else (an id cursor of another order included)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        offset: Any = json.loads(raw)["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidCursorError(cursor) from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidCursorError(cursor)
    return offset
