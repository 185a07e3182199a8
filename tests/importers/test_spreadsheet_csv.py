"""CSV files for spreadsheets (regulars.data.spreadsheet): UTF-8 with a BOM, formulas
neutralised, numbers left alone; rejects.csv is written this way."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from regulars.data.importers import read_orders
from regulars.data.spreadsheet import BOM, FORMULA_STARTS, write_spreadsheet_csv


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_formulas_become_text_and_the_file_starts_with_a_bom(tmp_path: Path) -> None:
    names = [f"{start}SUM(A1)" for start in FORMULA_STARTS] + ["Müller", "a=b", None]
    table = pa.table(
        {
            "name": pa.array(names, pa.string()),
            "orders": pa.array(range(len(names)), pa.int64()),
            "revenue": pa.array([Decimal("-12.30")] * len(names), pa.decimal128(18, 2)),
        }
    )
    path = tmp_path / "sub" / "list.csv"
    write_spreadsheet_csv(table, path)
    assert path.read_bytes().startswith(BOM)
    header, *rows = _rows(path)
    assert header == ["name", "orders", "revenue"]
    shown = [row[0] for row in rows]
    assert shown[: len(FORMULA_STARTS)] == [f"'{s}SUM(A1)" for s in FORMULA_STARTS]
    assert shown[len(FORMULA_STARTS) :] == ["Müller", "a=b", ""]  # harmless text as is
    assert {row[2] for row in rows} == {"-12.30"}  # numbers are never prefixed
    assert [row[1] for row in rows] == [str(i) for i in range(len(names))]


def test_dictionary_text_columns_are_neutralised_too(tmp_path: Path) -> None:
    segment = pa.array(["=1+1", "Champions"]).dictionary_encode()
    write_spreadsheet_csv(pa.table({"segment": segment}), tmp_path / "s.csv")
    assert _rows(tmp_path / "s.csv")[1:] == [["'=1+1"], ["Champions"]]


def test_rejects_csv_neutralises_formulas(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,ordered_at,amount\n"
        "1,alice,2025-01-10,10.00\n"
        '2,bob,2025-01-11,"=HYPERLINK(""http://x"",""y"")"\n'
        "3,@carol,2025-01-12,-\n",
        encoding="utf-8",
    )
    result = read_orders([orders])
    assert result.rows_rejected == 2
    target = tmp_path / "rejects.csv"
    result.write_rejects(target)
    assert target.read_bytes().startswith(BOM)
    header, *rows = _rows(target)
    values = {row[header.index("row")]: row for row in rows}
    assert values["3"][header.index("value")] == '\'=HYPERLINK("http://x","y")'
    assert values["4"][header.index("value")] == "'-"
    # the raw row starts with the order id, so it is harmless text
    assert values["4"][header.index("raw")] == "3,@carol,2025-01-12,-"
