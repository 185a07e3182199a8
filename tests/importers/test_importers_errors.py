"""Files unusable as a whole raise InputFileError with a message that says what to do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from regulars.data.importers import ImportResult, MappingError, read_orders
from regulars.errors import InputFileError, RegularsError

Read = Callable[..., ImportResult]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "the file is empty"),
        ("blank_lines_only.csv", "the file is empty"),
        ("garbage.csv", "binary, not a CSV"),
        ("not_really.xlsx", "named .xlsx but is not an Excel workbook"),
        ("ambiguous_dates.csv", "03/05/2024 can be day-first or month-first"),
        ("mixed_date_order.csv", "mix day-first"),
    ],
)
def test_unusable_files(read: Read, name: str, message: str) -> None:
    with pytest.raises(InputFileError, match=message) as caught:
        read(name)
    assert name in str(caught.value.path)


def test_missing_columns_list_what_was_found_and_how_to_map(read: Read) -> None:
    with pytest.raises(InputFileError) as caught:
        read("missing_column.csv")
    message = caught.value.message
    assert "order_id, amount, customer_id (or email or phone)" in message
    assert "'Customer', 'Order', 'Date', 'Total Paid'" in message
    assert '--map "customer_id=<column>' in message


def test_wrong_delimiter_is_diagnosed(read: Read) -> None:
    with pytest.raises(InputFileError, match="probably delimited by ';'"):
        read("semicolon_decimal_comma.csv", delimiter=",")


def test_ambiguous_dates_tell_how_to_fix(read: Read) -> None:
    with pytest.raises(InputFileError, match='--map "date_format=DD/MM/YYYY"'):
        read("ambiguous_dates.csv")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        read_orders([tmp_path / "nope.csv"])


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="folder"):
        read_orders([tmp_path])


def test_no_files() -> None:
    with pytest.raises(InputFileError, match="no input files"):
        read_orders([])


def test_unknown_encoding(read: Read) -> None:
    with pytest.raises(InputFileError, match="unknown encoding 'klingon'"):
        read("canonical_good.csv", encoding="klingon")


def test_wrong_encoding_further_down(tmp_path: Path) -> None:
    head = "customer_id,order_id,ordered_at,amount\n" + "C1,1,2024-01-05,1.00\n" * 60_000
    path = tmp_path / "late.csv"
    path.write_bytes(head.encode() + "Ж2,2,2024-01-06,2.00\n".encode("cp1251"))
    with pytest.raises(InputFileError, match="--encoding"):
        read_orders([path])


def test_old_excel_and_pdf(tmp_path: Path) -> None:
    xls = tmp_path / "orders.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(InputFileError, match=r"old Excel \.xls"):
        read_orders([xls])
    pdf = tmp_path / "orders.csv"
    pdf.write_bytes(b"%PDF-1.7\n...")
    with pytest.raises(InputFileError, match="PDF"):
        read_orders([pdf])


def test_broken_parquet(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(InputFileError, match="Parquet"):
        read_orders([path])


def test_column_that_never_parses_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "swapped.csv"
    path.write_text(
        "customer_id,order_id,ordered_at,amount\nC1,1,10.00,2024-01-05\nC2,2,20.00,2024-01-06\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFileError, match="is it the right column"):
        read_orders([path])


def test_bad_options_are_user_errors(read: Read) -> None:
    with pytest.raises(MappingError, match="time zone"):
        read("canonical_good.csv", timezone="Nowhere/Town")
    with pytest.raises(RegularsError, match="decimal"):
        read("canonical_good.csv", decimal=";")
    with pytest.raises(RegularsError, match="delimiter"):
        read("canonical_good.csv", delimiter=";;")
