"""Canonical-column files of the corpus: exact values, rejects and counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
from importer_helpers import rejects_at, rows_by

from regulars.data import schema
from regulars.data.importers import ImportResult, read_orders

Read = Callable[..., ImportResult]
UTC = dt.UTC


def test_good_file_has_exact_schema_and_values(read: Read) -> None:
    result = read("canonical_good.csv")
    assert result.orders.schema == schema.arrow_schema("orders")
    orders = rows_by(result.orders, "order_id")
    assert orders["1001"]["amount"] == Decimal("1234.56")
    assert orders["1002"]["amount"] == Decimal("1200.00")
    assert orders["1004"]["amount"] == Decimal("-25.00")  # a standalone return
    assert orders["1004"]["ordered_at"] == dt.datetime(2024, 2, 11, 16, 45, tzinfo=UTC)
    assert orders["1003"]["ordered_at"] == dt.datetime(2024, 2, 10, 8, 30, tzinfo=UTC)
    assert {o["status"] for o in orders.values()} == {"completed"}
    assert {o["refunded_amount"] for o in orders.values()} == {Decimal("0.00")}
    assert orders["1001"]["currency"] == "EUR"
    assert orders["1005"]["channel"] == "app"
    assert (result.rows_read, result.orders_imported, result.rows_rejected) == (5, 5, 0)
    assert result.rejects.num_rows == 0
    assert result.order_lines is None
    assert result.source_format == "canonical"


def test_customers_from_attribute_columns(read: Read) -> None:
    customers = rows_by(read("canonical_good.csv").customers, "customer_id")
    assert customers["C001"]["email"] == "anna@example.com"  # latest order's, normalised
    assert customers["C001"]["acquisition_channel"] == "web"  # channel of the first order
    assert customers["C003"]["email"] is None


def test_bad_amounts(read: Read) -> None:
    result = read("bad_amounts.csv")
    assert rows_by(result.orders, "order_id")["5"]["amount"] == Decimal("-5.00")
    assert rows_by(result.orders, "order_id")["8"]["amount"] == Decimal("1234.50")
    assert sorted(rows_by(result.orders, "order_id")) == ["1", "2", "5", "8"]
    [row7] = rejects_at(result, 7)
    assert (row7["column"], row7["value"]) == ("total", "12,3,4")
    assert row7["reason"] == "not a valid amount"
    assert row7["raw"] == 'C006,6,2024-01-10,"12,3,4"'
    assert rejects_at(result, 5)[0]["reason"] == "amount is missing"
    assert rejects_at(result, 4)[0]["value"] == "n/a"
    assert rejects_at(result, 8)[0]["value"] == "1e5"
    assert (result.rows_read, result.orders_imported, result.rows_rejected) == (8, 4, 4)


def test_bad_dates(read: Read) -> None:
    result = read("bad_dates.csv")
    assert sorted(rows_by(result.orders, "order_id")) == ["1", "7"]
    by_row = {r["row"]: r for r in result.rejects.to_pylist()}
    assert sorted(by_row) == [3, 4, 5, 6, 7]
    assert by_row[3]["value"] == "2024-02-30"
    assert by_row[3]["column"] == "order_date"
    assert by_row[3]["reason"].startswith("not a date/time we recognise")
    assert by_row[5]["reason"] == "order date is missing"
    assert by_row[7]["value"] == "2024-01-09 25:00"


def test_duplicates_identical_and_conflicting(read: Read) -> None:
    result = read("duplicates.csv")
    orders = rows_by(result.orders, "order_id")
    assert sorted(orders) == ["1", "2", "3"]
    assert orders["2"]["amount"] == Decimal("20.00")  # the first one is kept
    assert orders["3"]["customer_id"] == "C3"
    assert result.duplicate_orders == 2  # rows 4 and 8 (8 only differs in spelling)
    assert result.rows_rejected == 2  # rows 6 and 7 conflict
    reasons = {r["row"]: r["reason"] for r in result.rejects.to_pylist()}
    assert reasons[4].startswith("duplicate order id 1 (identical, counted once")
    assert "row 2" in reasons[4]
    assert reasons[6].startswith("duplicate order id 2 with a different amount than")
    assert reasons[7].startswith("duplicate order id 3 with a different customer, date than")
    assert reasons[8].startswith("duplicate order id 1 (identical, counted once")
    assert "Read 7 rows" in result.summary()
    assert "2 duplicate orders counted once" in result.summary()


def test_duplicates_across_files_name_the_first_file(corpus: Path) -> None:
    result = read_orders([corpus / "bom.csv", corpus / "bom.csv"])
    assert result.orders_imported == 2
    assert result.duplicate_orders == 2
    assert {r["file"] for r in result.rejects.to_pylist()} == {str(corpus / "bom.csv")}


def test_several_files_are_concatenated_and_rejects_name_their_file(corpus: Path) -> None:
    result = read_orders([corpus / "canonical_good.csv", corpus / "bad_amounts.csv"])
    assert result.orders_imported == 9
    assert {r["file"] for r in result.rejects.to_pylist()} == {str(corpus / "bad_amounts.csv")}


def test_bom_header_is_recognised(read: Read) -> None:
    result = read("bom.csv")
    assert result.orders.column("customer_id").to_pylist() == ["C1", "C2"]


def test_semicolon_and_decimal_comma(read: Read) -> None:
    orders = rows_by(read("semicolon_decimal_comma.csv").orders, "order_id")
    assert orders["A-100"]["amount"] == Decimal("1234.56")
    assert orders["A-101"]["amount"] == Decimal("12.50")
    assert orders["A-102"]["amount"] == Decimal("99.00")
    assert orders["A-103"]["amount"] == Decimal("1000000.01")
    assert orders["A-103"]["ordered_at"] == dt.datetime(2024, 12, 31, 23, 59, tzinfo=UTC)


def test_cp1251_with_cyrillic_names(read: Read) -> None:
    result = read("cp1251_cyrillic.csv")
    customers = rows_by(result.customers, "customer_id")
    assert customers["1"]["name"] == "Иван Петров"
    assert customers["3"]["name"] == "Ольга Ёлкина"
    orders = rows_by(result.orders, "order_id")
    assert orders["Z-2"]["amount"] == Decimal("1200.00")
    assert orders["Z-1"]["currency"] == "RUB"  # read from "руб." in the amount
    assert orders["Z-1"]["ordered_at"] == dt.datetime(2024, 2, 1, tzinfo=UTC)


def test_explicit_encoding_is_used(read: Read) -> None:
    result = read("cp1251_cyrillic.csv", encoding="cp1251", delimiter=";", decimal=",")
    assert rows_by(result.customers, "customer_id")["2"]["name"] == "Мария Смирнова"


def test_tab_and_pipe_delimiters(read: Read) -> None:
    assert read("tab_separated.tsv").orders_imported == 2
    result = read("pipe_separated.txt")
    assert result.orders_imported == 1  # "20,00" next to "10.00": the dot convention wins
    assert rejects_at(result, 3)[0]["value"] == "20,00"
    assert read("pipe_separated.txt", decimal=",").orders_imported == 1


def test_ragged_rows_are_rejected_with_their_line(read: Read) -> None:
    result = read("ragged.csv")
    assert sorted(rows_by(result.orders, "order_id")) == ["1", "4"]
    row3, row4 = rejects_at(result, 3)[0], rejects_at(result, 4)[0]
    assert row3["raw"] == "C2,2,2024-01-06,20.00,extra"
    assert row3["reason"].startswith("expected 4 fields like the header, found 5")
    assert row4["reason"].startswith("expected 4 fields like the header, found 3")
    assert result.rows_read == 4  # the blank line is not a row


def test_row_numbers_after_a_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "gap.csv"
    path.write_text(
        "customer_id,order_id,ordered_at,amount\nC1,1,2024-01-05,1\n\nC2,2,2024-01-06,x\n",
        encoding="utf-8",
    )
    result = read_orders([path])
    assert result.rejects.column("row").to_pylist() == [4]


def test_timezones(read: Read) -> None:
    orders = rows_by(read("timezones.csv", timezone="Europe/Berlin").orders, "order_id")
    at = {key: row["ordered_at"] for key, row in orders.items()}
    assert at["1"] == dt.datetime(2024, 3, 5, 13, 2, 11, tzinfo=UTC)  # +0100 written
    assert at["2"] == dt.datetime(2024, 3, 5, 14, 2, 11, tzinfo=UTC)  # Z written
    assert at["3"] == dt.datetime(2024, 3, 5, 19, 2, 11, tzinfo=UTC)  # -05:00 written
    assert at["4"] == dt.datetime(2024, 3, 5, 13, 2, 11, tzinfo=UTC)  # naive: Berlin, CET
    assert at["5"] == dt.datetime(2024, 6, 30, 22, 0, tzinfo=UTC)  # date: Berlin midnight, CEST
    assert at["6"] == dt.datetime(2024, 3, 31, 1, 0, tzinfo=UTC)  # in the DST gap
    assert at["7"] == dt.datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # repeated hour: first
    assert read("timezones.csv").orders.column("ordered_at")[3].as_py().hour == 14


def test_us_dates_detected(read: Read) -> None:
    orders = rows_by(read("us_dates.csv").orders, "order_id")
    assert orders["1"]["ordered_at"] == dt.datetime(2024, 3, 5, 14, 15, tzinfo=UTC)
    assert orders["3"]["ordered_at"] == dt.datetime(2024, 1, 2, tzinfo=UTC)


def test_ambiguous_dates_work_with_a_date_format(corpus: Path) -> None:
    from regulars.data.importers import parse_mapping

    result = read_orders(
        [corpus / "ambiguous_dates.csv"], mapping=parse_mapping("date_format=DD/MM/YYYY")
    )
    assert result.source_format == "canonical"  # options alone do not make it "mapped"
    assert rows_by(result.orders, "order_id")["1"]["ordered_at"] == dt.datetime(
        2024, 5, 3, tzinfo=UTC
    )


def test_identity_precedence(read: Read) -> None:
    result = read("identity.csv")
    orders = rows_by(result.orders, "order_id")
    assert orders["1"]["customer_id"] == "C100"
    assert orders["2"]["customer_id"] == "C100"  # email seen with id C100
    assert orders["3"]["customer_id"] == "noah@example.com"  # email beats phone
    assert orders["4"]["customer_id"] == "+491512345678"  # 0049 → +49
    assert orders["5"]["customer_id"] == "0301234567"  # no country guessed
    assert "6" not in orders  # "0" is a guest id and the email is not an address
    assert "7" not in orders  # "12" is not a phone number
    notes = {r["row"]: r["reason"] for r in result.rejects.to_pylist() if "ignored" in r["reason"]}
    assert notes == {7: "not a valid email; value ignored", 8: "not a valid phone; value ignored"}
    assert result.rows_rejected == 2
    customers = rows_by(result.customers, "customer_id")
    assert customers["C100"]["name"] == "Mia Wong"
    assert customers["noah@example.com"]["phone"] == "+491512345678"


def test_statuses_and_refunds(read: Read) -> None:
    result = read("statuses.csv")
    orders = rows_by(result.orders, "order_id")
    summary = {k: (v["status"], v["refunded_amount"]) for k, v in orders.items()}
    assert summary == {
        "1": ("completed", Decimal("0.00")),
        "2": ("partially_refunded", Decimal("30.00")),
        "3": ("refunded", Decimal("100.00")),
        "4": ("refunded", Decimal("100.00")),
        "5": ("cancelled", Decimal("0.00")),
        "6": ("completed", Decimal("0.00")),
        "8": ("partially_refunded", Decimal("20.00")),
    }
    [unknown] = rejects_at(result, 8)
    assert unknown["column"] == "status"
    assert unknown["reason"].startswith("unknown status")


def test_line_items_in_canonical_columns(read: Read) -> None:
    result = read("lines_canonical.csv")
    orders = rows_by(result.orders, "order_id")
    assert orders["R-1"]["amount"] == Decimal("9.20")  # 2 × 3.50 + 2.20, no total column
    assert "R-3" not in orders
    assert result.order_lines is not None
    assert result.order_lines.schema == schema.arrow_schema("order_lines")
    assert result.order_lines.column("order_id").to_pylist() == ["R-1", "R-1", "R-2"]
    assert result.order_lines.column("line_amount").to_pylist()[0] == Decimal("7.00")
    reasons = {(r["row"], r["column"]): r["reason"] for r in result.rejects.to_pylist()}
    assert reasons[(5, "quantity")].startswith("not a whole number")
    assert reasons[(5, "amount")] == "order total unknown: a line of this order is invalid"
    assert reasons[(6, "order_id")] == "dropped with its order R-3, rejected because of row 5"


def test_header_only_file_imports_nothing(read: Read) -> None:
    result = read("header_only.csv")
    assert result.orders.num_rows == 0
    assert result.orders.schema == schema.arrow_schema("orders")
    assert (result.rows_read, result.orders_imported, result.rows_rejected) == (0, 0, 0)


def test_xlsx(read: Read) -> None:
    result = read("orders.xlsx")
    orders = rows_by(result.orders, "order_id")
    assert orders["5001"]["amount"] == Decimal("1234.56")
    assert orders["5001"]["ordered_at"] == dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert orders["5002"]["amount"] == Decimal("19.90")
    assert rejects_at(result, 5)[0]["column"] == "Amount"  # "€ 7,50" beside dot decimals
    assert rejects_at(result, 6)[0]["value"] == "not a date"
    assert result.rows_read == 4  # the empty spreadsheet row 4 is skipped


def test_xlsx_saved_with_a_csv_name_is_read_as_xlsx(read: Read) -> None:
    assert read("excel_saved_as.csv").orders_imported == 2


def test_parquet_keeps_types(read: Read) -> None:
    result = read("orders.parquet")
    orders = rows_by(result.orders, "order_id")
    assert orders["7001"]["ordered_at"] == dt.datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    assert orders["7002"]["amount"] == Decimal("1234.56")
    assert orders["7002"]["refunded_amount"] == Decimal("34.56")
    assert orders["7002"]["status"] == "partially_refunded"
    assert [r["reason"] for r in result.rejects.to_pylist()] == [
        "no customer id, email or phone",
        "order date is missing",
    ]


def test_write_rejects(read: Read, tmp_path: Path) -> None:
    result = read("bad_amounts.csv")
    result.write_rejects(tmp_path / "out" / "rejects.csv")
    written = pacsv.read_csv(tmp_path / "out" / "rejects.csv")
    assert written.column_names == ["file", "row", "column", "value", "reason", "raw"]
    assert written.num_rows == 4


def test_write_rejects_header_only_when_clean(read: Read, tmp_path: Path) -> None:
    read("canonical_good.csv").write_rejects(tmp_path / "rejects.csv")
    # A file for spreadsheets: UTF-8 with a byte-order mark (docs/importing.md).
    assert (tmp_path / "rejects.csv").read_text(encoding="utf-8-sig").strip() == (
        '"file","row","column","value","reason","raw"'
    )


def test_rejects_schema(read: Read) -> None:
    rejects = read("canonical_good.csv").rejects
    assert rejects.schema.names == ["file", "row", "column", "value", "reason", "raw"]
    assert rejects.schema.field("row").type == pa.int64()


def test_summary_is_one_line(read: Read) -> None:
    text = read("bad_amounts.csv").summary()
    assert "\n" not in text
    assert text == (
        "Read 8 rows (canonical): imported 4 orders, rejected 4 rows, "
        "0 duplicate orders counted once."
    )


def test_utf16_with_bom(tmp_path: Path) -> None:
    # Excel's "Unicode text" export: UTF-16 with a byte-order mark, tab-separated.
    path = tmp_path / "unicode.txt"
    text = "customer_id\torder_id\tordered_at\tamount\tname\nC1\t1\t2024-01-05\t9.99\tZoë\n"
    path.write_bytes(text.encode("utf-16"))
    result = read_orders([path])
    assert result.orders.column("amount").to_pylist() == [Decimal("9.99")]
    assert result.customers is not None
    assert result.customers.column("name").to_pylist() == ["Zoë"]


def test_line_without_price_is_dropped_and_the_order_kept(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text(
        "order_id,customer_id,ordered_at,amount,sku,unit_price\n"
        "R-1,C1,2024-01-05,10.00,A,4.00\n"
        "R-1,C1,2024-01-05,10.00,B,\n",
        encoding="utf-8",
    )
    result = read_orders([path])
    assert result.orders.column("amount").to_pylist() == [Decimal("10.00")]
    assert result.order_lines is not None
    assert result.order_lines.column("sku").to_pylist() == ["A"]
    [problem] = result.rejects.to_pylist()
    assert (problem["row"], problem["column"]) == (3, "unit_price")
    assert problem["reason"] == "line has no price; line dropped, order kept"
    assert result.rows_rejected == 1


def test_header_without_line_break(read: Read) -> None:
    assert read("header_only_no_newline.csv").orders_imported == 0


def test_windows_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes(b"customer_id;order_id;ordered_at;amount\r\nC1;1;2024-01-05;10,00\r\n")
    result = read_orders([path])
    assert result.orders.column("amount").to_pylist() == [Decimal("10.00")]
    assert result.orders.column("order_id").to_pylist() == ["1"]
