"""CSV files meant to be opened in a spreadsheet: the rejects of an import, contact lists.

Two things make a CSV safe and readable there:

* **UTF-8 with a byte-order mark.** Excel reads a CSV without one in the computer's
  legacy code page, so "Müller" or "Крылова" arrive garbled; the BOM makes it read UTF-8.
* **No formulas.** A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or
  carriage return, which some spreadsheets skip before looking) is run as a formula when
  the file is opened: a customer named ``=HYPERLINK("http://…")`` or a phone field
  ``+1+cmd|…`` would execute in the marketer's spreadsheet (CSV injection). Such text
  cells get a leading apostrophe, which spreadsheets read as "this is text", and every
  text cell is quoted. Only text columns are touched: a number column (an amount of
  −12.30) stays a number, since it cannot hold a formula.

:func:`write_spreadsheet_csv` is the one writer of such files.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

BOM = b"\xef\xbb\xbf"
#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = "^[=+\\-@\\t\\r]"


def neutralise_formulas(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text values with an apostrophe before any that starts like a formula (see the
    module docstring); nulls stay null."""
    text = pc.cast(values, pa.string())
    risky = pc.fill_null(pc.match_substring_regex(text, _FORMULA_START), False)
    return pc.if_else(risky, pc.binary_join_element_wise("'", text, ""), text)


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _is_text(kind.value_type)
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def write_spreadsheet_csv(table: pa.Table, path: Path) -> None:
    """Write ``table`` as a CSV a spreadsheet opens safely: UTF-8 with a BOM, a header
    row, every text column neutralised and quoted. Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [
        neutralise_formulas(column) if _is_text(column.type) else column for column in table.columns
    ]
    safe = pa.table(columns, names=table.column_names)
    with path.open("wb") as handle:
        handle.write(BOM)
        pacsv.write_csv(safe, handle)
