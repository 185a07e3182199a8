"""Rows that mention a customer in text or JSON (the audit log, the job queue), and scrubbing.

A customer is *mentioned* by any of their identifiers: the ``customer_id``, the ids merged
into it (``customer_aliases.alias_id``), the e-mail address, the phone number and the name.
Identifiers shorter than :data:`MIN_IDENTIFIER_LENGTH` are left out: replacing every "Al" in
the audit log would mangle unrelated entries, and so short a value identifies nobody.

The database narrows the search (``CAST(column AS TEXT)`` contains an identifier, in any
case, also in its JSON-escaped spelling: SQLite keeps JSON with ``\\uXXXX`` escapes);
Python then checks each candidate row exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, String, Table, Text, cast, or_, select, update
from sqlalchemy.orm import Session

MIN_IDENTIFIER_LENGTH = 3


class Identifiers:
    """The strings that name one customer, matched case-insensitively.

    ``own`` gives some of them their own replacement: each id (the customer's and every id
    merged into it) becomes its own pseudonym, so two keys that differed only by the id
    (the same badge earned under the old id and the new one) stay two keys.
    """

    def __init__(self, values: Iterable[str | None], own: Mapping[str, str] | None = None) -> None:
        kept = {v.strip() for v in values if v and len(v.strip()) >= MIN_IDENTIFIER_LENGTH}
        self.values = sorted(kept, key=lambda v: (-len(v), v))  # longest first
        alternatives = "|".join(re.escape(v) for v in self.values)
        self._pattern = re.compile(alternatives, re.IGNORECASE) if self.values else None
        self._own = {k.strip().casefold(): v for k, v in (own or {}).items()}

    def found_in(self, value: Any) -> bool:
        """Whether ``value`` (a string, or JSON made of dicts and lists) mentions one."""
        if self._pattern is None:
            return False
        if isinstance(value, str):
            return self._pattern.search(value) is not None
        if isinstance(value, dict):
            return any(self.found_in(k) or self.found_in(v) for k, v in value.items())
        if isinstance(value, list):
            return any(self.found_in(v) for v in value)
        return False

    def replaced(self, value: Any, replacement: str) -> Any:
        """``value`` with every mention replaced by ``replacement``, recursively."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self._pattern.sub(
                lambda found: self._own.get(found.group(0).casefold(), replacement), value
            )
        if isinstance(value, dict):
            return {
                self.replaced(k, replacement): self.replaced(v, replacement)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.replaced(v, replacement) for v in value]
        return value

    def spellings(self) -> set[str]:
        """Each identifier as it may appear in a column cast to text."""
        found = set()
        for value in self.values:
            found.add(value)
            found.add(json.dumps(value)[1:-1])  # \uXXXX escapes, as SQLite stores JSON
            found.add(json.dumps(value, ensure_ascii=False)[1:-1])
        return found


def text_columns(table: Table) -> list[str]:
    """Columns of ``table`` that can hold a name or an id: strings and JSON."""
    return [c.name for c in table.columns if isinstance(c.type, (String, Text, JSON))]


def _may_mention(
    table: Table, columns: Sequence[str], identifiers: Identifiers
) -> ColumnElement[bool]:
    checks = [
        cast(table.c[name], Text).icontains(spelling, autoescape=True)
        for name in columns
        for spelling in sorted(identifiers.spellings())
    ]
    return or_(*checks)


def mentioning_rows(
    session: Session,
    table: Table,
    identifiers: Identifiers,
    columns: Sequence[str] | None = None,
) -> Sequence[dict[str, Any]]:
    """The rows of ``table`` that mention the customer in ``columns`` (default: every text
    and JSON column), ordered by primary key."""
    columns = text_columns(table) if columns is None else columns
    if not identifiers.values or not columns:
        return []
    candidates = session.execute(
        select(table).where(_may_mention(table, columns, identifiers)).order_by(*table.primary_key)
    ).mappings()
    return [dict(row) for row in candidates if any(identifiers.found_in(row[c]) for c in columns)]


def scrub_mentions(
    session: Session,
    table: Table,
    identifiers: Identifiers,
    replacement: str,
    columns: Sequence[str] | None = None,
) -> int:
    """Replace the customer's mentions in ``columns`` of ``table`` (default: every text and
    JSON column) by ``replacement``; returns the rows changed."""
    columns = text_columns(table) if columns is None else columns
    rows = mentioning_rows(session, table, identifiers, columns)
    key = list(table.primary_key)
    for row in rows:
        changes = {c: identifiers.replaced(row[c], replacement) for c in columns}
        session.execute(update(table).where(*(k == row[k.name] for k in key)).values(changes))
    return len(rows)
