"""``regulars import`` / :func:`regulars.store.ingest.ingest`: exports into the store."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from regulars.cli import app
from regulars.data.importers import read_orders
from regulars.errors import RegularsError
from regulars.store.ingest import default_batch_size, ingest
from regulars.store.tables import Customer, Order, OrderLine, Product

FILES = Path(__file__).parent.parent / "importers" / "files"
CANONICAL = "customer_id,order_id,ordered_at,amount,refunded_amount,status,currency\n"


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text(CANONICAL + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            "customers": sorted(
                tuple(r) for r in conn.execute(select(Customer.customer_id, Customer.email))
            ),
            "products": sorted(tuple(r) for r in conn.execute(select(Product.sku, Product.name))),
            "orders": sorted(
                tuple(r)
                for r in conn.execute(
                    select(
                        Order.shop_id,
                        Order.order_id,
                        Order.customer_id,
                        Order.ordered_at,
                        Order.amount,
                        Order.refunded_amount,
                        Order.status,
                        Order.currency,
                        Order.updated_at,
                    )
                )
            ),
            "lines": sorted(
                tuple(r)
                for r in conn.execute(
                    select(
                        OrderLine.id,
                        OrderLine.order_id,
                        OrderLine.sku,
                        OrderLine.quantity,
                        OrderLine.unit_price,
                        OrderLine.line_amount,
                    )
                )
            ),
        }


def test_canonical_csv_lands_exactly(store_engine: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "o.csv",
        [
            "C1,A-1,2024-01-05 10:15:00,1234.56,,,EUR",
            "C2,A-2,2024-01-06T08:30:00+01:00,20.00,5.00,partially_refunded,EUR",
            "C1,A-3,2024-02-10,-25.00,,,EUR",
        ],
    )
    counts = ingest(store_engine, read_orders([path]))
    assert (counts.customers_inserted, counts.orders_inserted, counts.lines_inserted) == (2, 3, 0)
    rows = _snapshot(store_engine)
    assert rows["customers"] == [("C1", None), ("C2", None)]
    by_id = {r[1]: r for r in rows["orders"]}
    assert by_id["A-1"][3:8] == (
        datetime(2024, 1, 5, 10, 15, tzinfo=UTC),
        Decimal("1234.56"),
        Decimal("0.00"),
        "completed",
        "EUR",
    )
    assert by_id["A-2"][3:7] == (
        datetime(2024, 1, 6, 7, 30, tzinfo=UTC),
        Decimal("20.00"),
        Decimal("5.00"),
        "partially_refunded",
    )
    assert by_id["A-3"][4] == Decimal("-25.00")
    assert all(isinstance(r[4], Decimal) and r[3].tzinfo is not None for r in rows["orders"])


def test_shopify_sample_and_reimport_is_a_no_op(store_engine: Engine) -> None:
    result = read_orders([FILES / "shopify_orders.csv"])
    first = ingest(store_engine, result, batch_size=2)
    assert (first.customers_inserted, first.products_inserted) == (5, 5)
    assert (first.orders_inserted, first.lines_inserted) == (6, 8)
    before = _snapshot(store_engine)
    assert [r[:3] for r in before["lines"]][:2] == [(1, "#1001", "ESP-1KG"), (2, "#1001", "CUP-01")]
    order_1002 = next(r for r in before["orders"] if r[1] == "#1002")
    assert order_1002[2:8] == (
        "bob@example.com",
        datetime(2024, 3, 6, 8, 30, tzinfo=UTC),
        Decimal("42.40"),
        Decimal("12.50"),
        "partially_refunded",
        "EUR",
    )

    second = ingest(store_engine, result, batch_size=3)
    assert (second.customers_inserted, second.customers_existing) == (0, 5)
    assert (second.orders_inserted, second.orders_updated, second.orders_unchanged) == (0, 0, 6)
    assert (second.lines_inserted, second.lines_deleted) == (0, 0)
    assert _snapshot(store_engine) == before  # same rows, same values, same ids, same updated_at


def test_changed_refund_updates_the_order(store_engine: Engine, tmp_path: Path) -> None:
    rows = ["C1,A-1,2024-01-05,50.00,,,EUR", "C2,A-2,2024-01-06,20.00,,,EUR"]
    ingest(store_engine, read_orders([_write(tmp_path / "a.csv", rows)]))
    rows[0] = "C9,A-1,2024-01-05,50.00,50.00,refunded,EUR"  # refunded; customer id ignored
    counts = ingest(store_engine, read_orders([_write(tmp_path / "b.csv", rows)]))
    assert (counts.orders_inserted, counts.orders_updated, counts.orders_unchanged) == (0, 1, 1)
    with store_engine.connect() as conn:
        order = conn.execute(select(Order).where(Order.order_id == "A-1")).one()
        assert (order.refunded_amount, order.status, order.customer_id) == (
            Decimal("50.00"),
            "refunded",
            "C1",
        )
        assert conn.scalar(select(func.count()).select_from(Order)) == 2


def test_changed_lines_are_replaced(store_engine: Engine, tmp_path: Path) -> None:
    header = "order_id,customer_id,ordered_at,sku,quantity,unit_price\n"
    first = tmp_path / "l1.csv"
    first.write_text(header + "R-1,C1,2024-01-05,S1,2,3.50\nR-1,C1,2024-01-05,S2,1,2.20\n")
    ingest(store_engine, read_orders([first]))
    second = tmp_path / "l2.csv"
    second.write_text(header + "R-1,C1,2024-01-05,S1,1,3.50\nR-1,C1,2024-01-05,S2,1,2.20\n")
    counts = ingest(store_engine, read_orders([second]))
    assert (counts.orders_updated, counts.lines_deleted, counts.lines_inserted) == (1, 2, 2)
    with store_engine.connect() as conn:
        lines = sorted(conn.execute(select(OrderLine.sku, OrderLine.quantity)).all())
    assert [tuple(r) for r in lines] == [("S1", 1), ("S2", 1)]


def test_rejects_are_left_out_and_valid_rows_kept(store_engine: Engine) -> None:
    result = read_orders([FILES / "lines_canonical.csv"])
    assert result.rows_rejected > 0
    ingest(store_engine, result)
    with store_engine.connect() as conn:
        orders = set(conn.scalars(select(Order.order_id)))
    assert orders == set(result.orders.column("order_id").to_pylist())
    assert {"R-1", "R-2"} <= orders


def test_unmigrated_database_is_refused(empty_engine: Engine) -> None:
    result = read_orders([FILES / "canonical_good.csv"])
    with pytest.raises(RegularsError, match="regulars db upgrade"):
        ingest(empty_engine, result)


def test_cli_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    runner = CliRunner()
    refused = runner.invoke(app, ["import", str(FILES / "shopify_orders.csv"), "--url", url])
    assert refused.exit_code != 0
    assert "regulars db upgrade" in str(refused.exception)
    assert runner.invoke(app, ["db", "upgrade", "--url", url]).exit_code == 0

    args = ["import", str(FILES / "lines_canonical.csv"), "--url", url, "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "orders 2 new" in " ".join(result.output.split())
    assert (tmp_path / "rejects.csv").read_text().count("\n") > 1  # header + rejected rows
    again = runner.invoke(app, [*args, "--rejects", str(tmp_path / "r2.csv")])
    assert "0 new, 0 updated, 2 unchanged" in " ".join(again.output.split())
    assert (tmp_path / "r2.csv").exists()

    clean = runner.invoke(
        app, ["import", str(FILES / "shopify_orders.csv"), "--url", url, "--batch-size", "2"]
    )
    assert clean.exit_code == 0, clean.output
    assert "orders 6 new" in " ".join(clean.output.split())


def test_default_batch_size_is_larger_on_postgresql(store_engine: Engine) -> None:
    expected = 100_000 if store_engine.dialect.name == "postgresql" else 10_000
    assert default_batch_size(store_engine) == expected
