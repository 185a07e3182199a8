"""``read_order_lines``: order lines in a file of their own (``loyalty simulate --lines``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from regulars.data.importers import read_order_lines
from regulars.data.importers.order_lines import LINE_SCHEMA
from regulars.errors import RegularsError


def test_csv_keeps_ids_as_text_and_amounts_exact(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text("line_amount,order_id,extra\n12.30,007,x\n")
    lines = read_order_lines(path)
    assert lines.schema == LINE_SCHEMA
    assert lines.to_pylist() == [
        {"order_id": "007", "sku": None, "category": None, "line_amount": Decimal("12.30")}
    ]


def test_parquet_is_read_by_its_suffix(tmp_path: Path) -> None:
    path = tmp_path / "lines.PARQUET"
    pq.write_table(pa.table({"order_id": ["1"], "category": ["tea"], "line_amount": [3.5]}), path)
    lines = read_order_lines(path)
    assert lines.column("category").to_pylist() == ["tea"]
    assert lines.column("line_amount").to_pylist() == [Decimal("3.50")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("order,amount\n1,2\n", "has no column order_id, line_amount"),
        ("order_id,line_amount\n1,abc\n", r"lines\.csv: "),
    ],
)
def test_unusable_files_name_the_option(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lines.csv"
    path.write_text(text)
    with pytest.raises(RegularsError, match=f"^--lines: .*{message}"):
        read_order_lines(path)


def test_a_missing_file_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(RegularsError, match=r"^--lines: "):
        read_order_lines(tmp_path / "absent.csv")
