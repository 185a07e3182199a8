"""Problems found while importing, and the rejects table users open in a spreadsheet.

Every problem names the file, the spreadsheet row (header = 1), the column as written in
the file, the offending value and a reason. Its *scope* says what was dropped:

* ``order``: the whole order (and every row of it) was not imported;
* ``line``: only that line item was dropped, the order was kept;
* ``duplicate``: an identical copy of an order already imported (counted once);
* ``note``: an optional value was ignored, the row was imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ORDER, LINE, DUPLICATE, NOTE = "order", "line", "duplicate", "note"

#: Internal form, one row per problem; ``_file`` indexes the list of input files.
PROBLEM_SCHEMA = pa.schema(
    [
        pa.field("_file", pa.int32()),
        pa.field("_row", pa.int64()),
        pa.field("field", pa.string()),
        pa.field("column", pa.string()),
        pa.field("value", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("scope", pa.string()),
        pa.field("raw", pa.string()),
    ]
)

#: The public rejects table (``ImportResult.rejects``).
REJECTS_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("column", pa.string()),
        pa.field("value", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
    ]
)


def problems(
    file_index: int,
    rows: Any,
    *,
    reason: Any,
    scope: str,
    field: str | None = None,
    column: Any = None,
    value: Any = None,
    raw: Any = None,
) -> pa.Table:
    """A problem table; scalar arguments are repeated for every row."""
    row_array = pa.array(rows, pa.int64())
    count = len(row_array)

    def column_of(item: Any) -> pa.Array:
        if isinstance(item, pa.ChunkedArray):
            item = item.combine_chunks()
        if isinstance(item, pa.Array):
            return pc.cast(item, pa.string())
        if isinstance(item, list):
            return pa.array(item, pa.string())
        if item is None:
            return pa.nulls(count, pa.string())
        return pa.repeat(pa.scalar(str(item), pa.string()), count)

    return pa.table(
        [
            pa.array(np.full(count, file_index, dtype=np.int32)),
            row_array,
            column_of(field),
            column_of(column),
            column_of(value),
            column_of(reason),
            column_of(scope),
            column_of(raw),
        ],
        schema=PROBLEM_SCHEMA,
    )


def empty_problems() -> pa.Table:
    return PROBLEM_SCHEMA.empty_table()


def concat_problems(tables: Sequence[pa.Table]) -> pa.Table:
    return pa.concat_tables([empty_problems(), *tables]).combine_chunks()


def to_rejects(found: pa.Table, labels: Sequence[str], raw_text: pa.Array) -> pa.Table:
    """The public rejects table: file names instead of indexes (``found`` is sorted)."""
    names = pc.take(pa.array(list(labels), pa.string()), found.column("_file"))
    return pa.table(
        [
            names,
            found.column("_row"),
            found.column("column"),
            found.column("value"),
            found.column("reason"),
            raw_text,
        ],
        schema=REJECTS_SCHEMA,
    )


def row_text(table: pa.Table, indices: np.ndarray[Any, Any], delimiter: str) -> pa.Array:
    """The given rows re-joined with the file's delimiter, quoting like a CSV writer would.

    Used for the ``raw`` column, so a user sees the whole row next to the reason.
    """
    if table.num_columns == 0 or table.num_rows == 0 or len(indices) == 0:
        return pa.nulls(len(indices), pa.string())
    picked = table.take(pa.array(indices, pa.int64()))
    cells = [_csv_cell(column, delimiter) for column in picked.columns]
    return pc.binary_join_element_wise(*cells, delimiter)


def _csv_cell(column: pa.ChunkedArray, delimiter: str) -> pa.Array:
    try:
        text = pc.fill_null(pc.cast(column.combine_chunks(), pa.string()), "")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # nested Parquet types
        return pa.repeat(pa.scalar("?", pa.string()), len(column))
    needs_quotes = pc.match_substring_regex(text, f'["\\n\\r{_regex_escape(delimiter)}]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs_quotes, quoted, text)


def _regex_escape(char: str) -> str:
    return "\\t" if char == "\t" else "\\" + char if char in r"\^$.|?*+()[]{}-" else char
