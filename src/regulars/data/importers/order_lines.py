"""Order lines given in a file of their own, for an export without line items (the
simulator's SKU and category multipliers need them): Parquet or CSV with ``order_id`` and
``line_amount``, optionally ``sku`` and ``category``."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from regulars.data.schema import MONEY
from regulars.errors import RegularsError

#: The columns returned, in this order and with these types.
LINE_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("sku", pa.string()),
        ("category", pa.string()),
        ("line_amount", MONEY),
    ]
)
REQUIRED = ("order_id", "line_amount")
OPTIONAL = ("sku", "category")


def read_order_lines(path: Path) -> pa.Table:
    """The canonical order lines of ``path`` (a missing optional column is all null).

    Raises :class:`~regulars.errors.RegularsError` for an unreadable file or a missing
    required column; the message names the ``--lines`` option, which is where the file
    comes from."""
    table = _read_table(path)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise RegularsError(f"--lines: {path} has no column {', '.join(missing)}")
    for column in OPTIONAL:
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows, pa.string()))
    return table.select(LINE_SCHEMA.names).cast(LINE_SCHEMA)


def _read_table(path: Path) -> pa.Table:
    """Parquet by its suffix, anything else as CSV with the known columns typed (so an
    order id stays text and an amount stays exact)."""
    try:
        if path.suffix.lower() == ".parquet":
            return pq.read_table(path)
        types = {field.name: field.type for field in LINE_SCHEMA}
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
    except (OSError, pa.ArrowInvalid) as exc:
        raise RegularsError(f"--lines: {path}: {str(exc).splitlines()[0]}") from None
