"""Export formats as data: which headers feed which canonical field, and how statuses read.

A :class:`Preset` lists, per canonical field, the header names that may carry it (in
order of preference; when several are present they are combined row by row, the first
non-empty one winning). :func:`resolve` turns a preset plus an optional user mapping into
the concrete columns of one file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from regulars.data.importers.mapping import (
    MAP_SYNTAX_HINT,
    ColumnMapping,
    normalize_header,
)
from regulars.errors import InputFileError

COMPLETED, REFUNDED, PARTIAL, CANCELLED = (
    "completed",
    "refunded",
    "partially_refunded",
    "cancelled",
)


@dataclass(frozen=True)
class StatusRule:
    """How a status column's text becomes a canonical status.

    Keys of ``values`` are normalised (lower case, ``wc-`` prefix dropped, spaces and
    hyphens as ``_``). ``default`` applies to other non-empty values; None rejects them.
    A non-empty value in any ``cancelled_columns`` column makes the order cancelled.
    """

    values: dict[str, str]
    default: str | None = None
    cancelled_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preset:
    """One export format."""

    name: str
    aliases: dict[str, tuple[str, ...]]
    status: StatusRule
    first_name: tuple[str, ...] = ()
    last_name: tuple[str, ...] = ()
    #: True: every row is a line item. None: only when the file has line-item columns.
    line_level: bool | None = None


@dataclass(frozen=True)
class FileSpec:
    """The columns of one particular file that feed each canonical field."""

    format: str
    sources: dict[str, tuple[str, ...]]
    status: StatusRule
    line_level: bool
    first_name: str | None = None
    last_name: str | None = None
    cancelled: tuple[str, ...] = field(default=())

    def label(self, name: str) -> str:
        """The header(s) a user sees for a canonical field, for messages."""
        return " / ".join(self.sources.get(name, ())) or name


def header_index(headers: Iterable[str]) -> dict[str, str]:
    """Normalised header → header as written (the first one wins on a clash)."""
    index: dict[str, str] = {}
    for header in headers:
        index.setdefault(normalize_header(header), header)
    return index


def _present(index: dict[str, str], names: Sequence[str]) -> tuple[str, ...]:
    found = (index.get(normalize_header(n)) for n in names)
    return tuple(dict.fromkeys(h for h in found if h is not None))


def resolve(
    preset: Preset, headers: Sequence[str], mapping: ColumnMapping | None, path: Path
) -> FileSpec:
    """Concrete columns for ``preset`` on a file with ``headers``; the mapping wins."""
    index = header_index(headers)
    sources = {
        name: present
        for name, aliases in preset.aliases.items()
        if (present := _present(index, aliases))
    }
    for name, column in (mapping.columns if mapping else {}).items():
        found = index.get(normalize_header(column))
        if found is None:
            raise InputFileError(
                path,
                f"the mapping sends {name} to column {column!r}, which is not in the file; "
                f"columns found: {_listing(headers)}",
            )
        sources[name] = (found,)
    first = _present(index, preset.first_name)
    last = _present(index, preset.last_name)
    line_level = preset.line_level
    if line_level is None:
        # Item columns without any price cannot make order lines; such a file stays
        # one row per order and its item columns are ignored.
        line_level = any(name in sources for name in ("unit_price", "line_amount"))
    return FileSpec(
        format=preset.name,
        sources=sources,
        status=preset.status,
        line_level=line_level,
        first_name=first[0] if first else None,
        last_name=last[0] if last else None,
        cancelled=_present(index, preset.status.cancelled_columns),
    )


def check_required(spec: FileSpec, headers: Sequence[str], path: Path) -> None:
    """Raise when a required field has no column, telling the user how to map it."""
    missing = [name for name in ("order_id", "ordered_at") if name not in spec.sources]
    has_lines = any(n in spec.sources for n in ("unit_price", "line_amount"))
    if "amount" not in spec.sources and not has_lines:
        missing.append("amount")
    if not any(n in spec.sources for n in ("customer_id", "email", "phone")):
        missing.append("customer_id (or email or phone)")
    if not missing:
        return
    message = (
        f"required column(s) missing for {', '.join(missing)}. "
        f"Columns found: {_listing(headers)}. Rename them or {MAP_SYNTAX_HINT}."
    )
    message += _delimiter_hint(headers)
    raise InputFileError(path, message)


def _listing(headers: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(repr(h) for h in headers[:limit])
    return shown + (f" … ({len(headers)} in all)" if len(headers) > limit else "")


def _delimiter_hint(headers: Sequence[str]) -> str:
    if len(headers) != 1:
        return ""
    for delimiter, word in ((";", "';'"), (",", "','"), ("\t", "TAB"), ("|", "'|'")):
        if delimiter in headers[0]:
            return (
                f" The header is one single column that contains {word}: the file is probably "
                f"delimited by {word}; leave --delimiter out to detect it, or pass that one."
            )
    return ""
