"""What an import returns: canonical tables, the rejects, and the counts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from regulars.data.spreadsheet import write_spreadsheet_csv


@dataclass
class ImportResult:
    """Canonical tables built from the input files, plus everything that was left out.

    ``orders`` always has exactly ``schema.arrow_schema("orders")``; ``order_lines`` is
    set when the input had line items, ``customers`` when it had customer attributes.
    ``rejects`` lists one problem per row: ``file``, ``row`` (header = 1), ``column``,
    ``value``, ``reason`` and ``raw`` (the whole row as text).

    Counts: ``rows_read`` data rows (blank lines excluded); ``orders_imported`` rows of
    ``orders``; ``rows_rejected`` rows whose order or line was dropped because of a
    problem; ``duplicate_orders`` identical copies of orders that were counted once.

    Time: ``orders.ordered_at`` is UTC. ``utc_offsets`` (int16 minutes east of UTC, one
    per row of ``orders``; null where the time had none; None when no time had one) is
    the offset each time was written with, i.e. the writer's wall clock;
    ``timezone`` is the shop's time zone when one was given (times without an offset
    were read on its clock), else None (they were read as UTC).
    """

    orders: pa.Table
    order_lines: pa.Table | None
    customers: pa.Table | None
    rejects: pa.Table
    rows_read: int
    orders_imported: int
    rows_rejected: int
    duplicate_orders: int
    source_format: str
    utc_offsets: pa.Array | None = None
    timezone: str | None = None

    def write_rejects(self, path: Path) -> None:
        """Write ``rejects`` as a CSV for spreadsheets (UTF-8 with BOM, formulas
        neutralised: :func:`regulars.data.spreadsheet.write_spreadsheet_csv`); a
        header-only file when nothing was rejected."""
        write_spreadsheet_csv(self.rejects, path)

    def summary(self) -> str:
        """One line for people, e.g. ``Read 120 rows (shopify): imported 97 orders, …``."""
        parts = [
            f"Read {self.rows_read:,} {_plural(self.rows_read, 'row')} ({self.source_format})",
            f"imported {self.orders_imported:,} {_plural(self.orders_imported, 'order')}",
            f"rejected {self.rows_rejected:,} {_plural(self.rows_rejected, 'row')}",
            f"{self.duplicate_orders:,} duplicate {_plural(self.duplicate_orders, 'order')}"
            " counted once",
        ]
        return f"{parts[0]}: {', '.join(parts[1:])}."


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"
