"""Shopify and WooCommerce exports are recognised and mapped without any --map."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from importer_helpers import rows_by

from regulars.data import schema
from regulars.data.importers import ImportResult, read_orders

Read = Callable[..., ImportResult]
UTC = dt.UTC


@pytest.fixture
def shopify(read: Read) -> ImportResult:
    return read("shopify_orders.csv", timezone="Europe/Berlin")


def test_shopify_is_recognised(shopify: ImportResult) -> None:
    assert shopify.source_format == "shopify"
    assert (shopify.rows_read, shopify.orders_imported, shopify.rows_rejected) == (8, 6, 0)
    assert shopify.orders.schema == schema.arrow_schema("orders")


def test_shopify_orders(shopify: ImportResult) -> None:
    orders = rows_by(shopify.orders, "order_id")
    first = orders["#1001"]
    assert first["customer_id"] == "alice@example.com"
    assert first["amount"] == Decimal("54.90")
    assert first["ordered_at"] == dt.datetime(2024, 3, 5, 13, 2, 11, tzinfo=UTC)  # Paid at
    assert (first["currency"], first["channel"], first["status"]) == ("EUR", "web", "completed")
    assert orders["#1002"]["customer_id"] == "bob@example.com"  # "BOB@Example.com "
    assert orders["#1006"]["channel"] == "pos"


def test_shopify_refunds_and_cancellations(shopify: ImportResult) -> None:
    orders = rows_by(shopify.orders, "order_id")
    status = {k: (v["status"], v["refunded_amount"]) for k, v in orders.items()}
    assert status["#1002"] == ("partially_refunded", Decimal("12.50"))
    assert status["#1003"] == ("refunded", Decimal("29.90"))
    assert status["#1004"] == ("cancelled", Decimal("0.00"))
    assert status["#1005"] == ("completed", Decimal("0.00"))  # pending bank transfer


def test_shopify_unpaid_order_uses_created_at_and_phone(shopify: ImportResult) -> None:
    pending = rows_by(shopify.orders, "order_id")["#1005"]
    assert pending["ordered_at"] == dt.datetime(2024, 3, 31, 7, 15, tzinfo=UTC)  # +0200
    assert pending["customer_id"] == "+491512345678"
    assert pending["amount"] == Decimal("1234.56")


def test_shopify_lines(shopify: ImportResult) -> None:
    lines = shopify.order_lines
    assert lines is not None
    assert lines.schema == schema.arrow_schema("order_lines")
    assert lines.num_rows == 8
    first_order = [r for r in lines.to_pylist() if r["order_id"] == "#1001"]
    assert [(r["sku"], r["quantity"], r["unit_price"], r["line_amount"]) for r in first_order] == [
        ("ESP-1KG", 1, Decimal("29.90"), Decimal("29.90")),
        ("CUP-01", 2, Decimal("12.50"), Decimal("25.00")),
    ]
    discounted = next(r for r in lines.to_pylist() if r["order_id"] == "#1006")
    assert discounted["line_amount"] == Decimal("20.00")  # 2 × 12.50 − 5.00 discount
    machine = next(r for r in lines.to_pylist() if r["order_id"] == "#1005")
    assert machine["product_name"] == 'Espresso Machine "Barista Pro"'


def test_shopify_customers(shopify: ImportResult) -> None:
    assert shopify.customers is not None
    customers = rows_by(shopify.customers, "customer_id")
    assert customers["alice@example.com"]["name"] == "Alice Meyer"
    assert customers["+491512345678"]["name"] == "Dana Krüger"
    assert customers["dave@example.com"]["acquisition_channel"] == "pos"
    assert len(customers) == 5


@pytest.fixture
def woo(read: Read) -> ImportResult:
    return read("woocommerce_orders.csv", timezone="Europe/Berlin")


def test_woocommerce_is_recognised(woo: ImportResult) -> None:
    assert woo.source_format == "woocommerce"
    assert (woo.rows_read, woo.orders_imported, woo.rows_rejected) == (6, 5, 0)


def test_woocommerce_orders(woo: ImportResult) -> None:
    orders = rows_by(woo.orders, "order_id")
    assert orders["2001"]["amount"] == Decimal("49.80")
    # Paid Date 2024-03-05 10:02 in the shop's zone (CET).
    assert orders["2001"]["ordered_at"] == dt.datetime(2024, 3, 5, 9, 2, tzinfo=UTC)
    assert orders["2005"]["ordered_at"] == dt.datetime(2024, 3, 9, 10, 11, tzinfo=UTC)
    assert orders["2001"]["customer_id"] == "17"
    assert orders["2002"]["customer_id"] == "zoe@example.com"  # guest (user id 0)
    assert orders["2005"]["customer_id"] == "17"  # guest, but the email belongs to user 17


def test_woocommerce_statuses_and_refunds(woo: ImportResult) -> None:
    orders = rows_by(woo.orders, "order_id")
    status = {k: (v["status"], v["refunded_amount"]) for k, v in orders.items()}
    assert status == {
        "2001": ("completed", Decimal("0.00")),
        "2002": ("completed", Decimal("0.00")),  # processing
        "2003": ("refunded", Decimal("25.00")),  # written as -25.00
        "2004": ("cancelled", Decimal("0.00")),  # failed payment
        "2005": ("partially_refunded", Decimal("5.00")),
    }


def test_woocommerce_lines_and_customers(woo: ImportResult) -> None:
    assert woo.order_lines is not None
    lines = [r for r in woo.order_lines.to_pylist() if r["order_id"] == "2001"]
    assert [(r["sku"], r["quantity"], r["line_amount"]) for r in lines] == [
        ("BEAN-500", 2, Decimal("29.90")),
        ("FLT-100", 1, Decimal("15.00")),
    ]
    assert woo.customers is not None
    customers = rows_by(woo.customers, "customer_id")
    assert customers["17"]["name"] == "Alice Meyer"
    assert customers["17"]["phone"] == "+49301234567"


def test_woocommerce_order_level_export(read: Read) -> None:
    result = read("woocommerce_order_level.csv")
    assert result.source_format == "woocommerce"
    assert result.order_lines is None
    orders = rows_by(result.orders, "order_id")
    assert orders["301"]["amount"] == Decimal("1200.00")
    assert orders["301"]["ordered_at"] == dt.datetime(2024, 3, 15, 14, 30, tzinfo=UTC)  # MM/DD
    assert orders["302"]["customer_id"] == "max@example.com"
    assert orders["302"]["status"] == "completed"  # wc-on-hold
    assert orders["303"]["status"] == "cancelled"
    assert (orders["304"]["status"], orders["304"]["refunded_amount"]) == (
        "partially_refunded",
        Decimal("10.00"),
    )
    assert rows_by(result.customers, "customer_id")["5"]["name"] == "Lena Vogel"


def test_shopify_and_canonical_files_together(read: Read) -> None:
    result = read("shopify_orders.csv", "canonical_good.csv")
    assert result.source_format == "shopify+canonical"
    assert result.orders_imported == 11
    assert result.order_lines is not None
    assert result.order_lines.num_rows == 8


def test_row_numbers_count_records_not_lines(corpus: Path, tmp_path: Path) -> None:
    # Order #1005 has a two-line note, so #1006 starts on line 10 but is spreadsheet row 9.
    text = (corpus / "shopify_orders.csv").read_text(encoding="utf-8")
    broken = tmp_path / "shopify.csv"
    broken.write_text(
        text.replace(",20.00,0.00,0.00,20.00,", ",20.00,0.00,0.00,twenty,"), encoding="utf-8"
    )
    result = read_orders([broken])
    assert "#1006" not in rows_by(result.orders, "order_id")
    [problem] = result.rejects.to_pylist()
    assert (problem["row"], problem["column"], problem["value"]) == (9, "Total", "twenty")
    assert problem["raw"].startswith("#1006,dave@example.com,paid,")


def test_overlapping_shopify_exports_count_orders_once(corpus: Path) -> None:
    path = corpus / "shopify_orders.csv"
    result = read_orders([path, path])
    assert result.orders_imported == 6
    assert result.duplicate_orders == 6
    assert result.rows_rejected == 0
    assert result.order_lines is not None
    assert result.order_lines.num_rows == 8
    second_copy = [r for r in result.rejects.to_pylist() if r["row"] == 3]
    assert second_copy[0]["reason"].startswith("duplicate order id #1001 (identical")
    assert len(result.rejects) == 8  # every row of the second file is listed
