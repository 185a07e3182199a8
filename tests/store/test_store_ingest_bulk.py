"""``ingest`` on batches that mix new and existing orders, and exact values on the way in.

On PostgreSQL ``ingest`` writes through COPY staging tables and set-based statements; on
SQLite row by row. Both must give the same rows and the same counts, so every test here
runs on both (``store_engine``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import Engine, select

from regulars.data.importers.result import ImportResult
from regulars.data.schema import arrow_schema
from regulars.errors import RegularsError
from regulars.store.ingest import IngestCounts, ingest
from regulars.store.tables import Customer, Order, OrderLine

DAY = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def _order(order_id: str, customer: str = "C1", amount: str = "10.00", **extra: Any) -> dict:
    return {
        "order_id": order_id,
        "customer_id": customer,
        "ordered_at": DAY,
        "amount": Decimal(amount),
        **extra,
    }


def _line(order_id: str, sku: str, quantity: int = 1, price: str = "5.00") -> dict:
    unit = Decimal(price)
    return {
        "order_id": order_id,
        "sku": sku,
        "product_name": f"name {sku}",
        "category": "c",
        "quantity": quantity,
        "unit_price": unit,
        "line_amount": unit * quantity,
    }


def _result(
    orders: list[dict[str, Any]],
    lines: list[dict[str, Any]] | None = None,
    customers: list[dict[str, Any]] | None = None,
) -> ImportResult:
    def table(name: str, rows: list[dict[str, Any]] | None) -> pa.Table | None:
        return None if rows is None else pa.Table.from_pylist(rows, arrow_schema(name))

    orders_table = table("orders", orders)
    assert orders_table is not None
    return ImportResult(
        orders=orders_table,
        order_lines=table("order_lines", lines),
        customers=table("customers", customers),
        rejects=pa.table({}),
        rows_read=len(orders),
        orders_imported=len(orders),
        rows_rejected=0,
        duplicate_orders=0,
        source_format="test",
    )


def _counts(counts: IngestCounts) -> tuple[int, ...]:
    return (
        counts.orders_inserted,
        counts.orders_updated,
        counts.orders_unchanged,
        counts.lines_inserted,
        counts.lines_deleted,
    )


def _lines(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(OrderLine.id, OrderLine.order_id, OrderLine.sku, OrderLine.quantity)
        ).all()
    return sorted(tuple(r) for r in rows)


def _updated_at(engine: Engine) -> dict[str, datetime]:
    with engine.connect() as conn:
        return {r.order_id: r.updated_at for r in conn.execute(select(Order))}


FIRST = [_order("O1"), _order("O2"), _order("O3", channel="web"), _order("O4"), _order("O7")]
FIRST_LINES = [
    *(_line("O1", "A"), _line("O1", "B"), _line("O2", "A"), _line("O3", "A", 2)),
    *(_line("O7", "A"), _line("O7", "B")),
]


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_mixed_batches_follow_the_rules(store_engine: Engine, batch_size: int) -> None:
    first = ingest(store_engine, _result(FIRST, FIRST_LINES), batch_size=batch_size)
    assert _counts(first) == (5, 0, 0, 6, 0)
    before = {r[1:]: r[0] for r in _lines(store_engine)}
    stamps = _updated_at(store_engine)
    assert sorted(before, key=before.__getitem__)[:2] == [
        ("O1", "A", 1),
        ("O1", "B", 1),
    ]  # ids follow the file order within an order

    second = [
        _order("O1"),  # unchanged, same lines in another order: unchanged
        _order("O2", refunded_amount=Decimal("10.00"), status="refunded"),  # fields change
        _order("O3"),  # channel web -> NULL: changes; lines absent: kept
        _order("O4"),  # unchanged, lines appear
        _order("O5", customer="C2"),  # new, with lines
        _order("O6", customer="C2"),  # new, no lines
        _order("O7"),  # unchanged, one line fewer: lines replaced
    ]
    second_lines = [
        _line("O1", "B"),
        _line("O1", "A"),
        _line("O2", "A", 3),
        _line("O4", "Z"),
        _line("O5", "A"),
        _line("O5", "A"),
        _line("X9", "A"),  # a line of no imported order: ignored
        _line("O7", "B"),
    ]
    counts = ingest(store_engine, _result(second, second_lines), batch_size=batch_size)
    # O2 (fields and lines), O3 (channel), O4 and O7 (lines) updated; O1 unchanged.
    assert _counts(counts) == (2, 4, 1, 5, 3)

    after = {r[1:]: r[0] for r in _lines(store_engine)}
    assert after[("O1", "A", 1)] == before[("O1", "A", 1)]  # untouched lines keep their ids
    assert after[("O3", "A", 2)] == before[("O3", "A", 2)]
    assert ("O2", "A", 1) not in after
    assert ("O2", "A", 3) in after
    assert [r[1:] for r in _lines(store_engine) if r[1] == "O7"] == [("O7", "B", 1)]
    assert [r[1:] for r in _lines(store_engine) if r[1] == "O5"] == [("O5", "A", 1)] * 2
    assert not any(k[0] in ("O6", "X9") for k in after)
    with store_engine.connect() as conn:
        orders = {r.order_id: r for r in conn.execute(select(Order))}
    assert (orders["O2"].status, orders["O2"].refunded_amount) == ("refunded", Decimal("10.00"))
    assert orders["O3"].channel is None
    changed = {k for k, v in _updated_at(store_engine).items() if stamps.get(k) != v}
    assert changed == {"O2", "O3", "O5", "O6"}  # O4's lines changed, the order did not

    again = ingest(store_engine, _result(second, second_lines), batch_size=batch_size)
    assert _counts(again) == (0, 0, 7, 0, 0)
    assert {r[1:]: r[0] for r in _lines(store_engine)} == after


def test_money_and_text_arrive_exactly(store_engine: Engine) -> None:
    orders = [
        _order("M1", amount="9999999999999999.99", currency="EUR", channel=""),
        _order("M2", amount="-0.01", currency=None, channel='we"b, "shop"\nline 2'),
        _order("M3", amount="0.10", refunded_amount=Decimal("0.10"), status="refunded"),
    ]
    lines = [_line("M1", "Ü-1", 3, "3333333333333333.33"), _line("M2", "", 1, "0.01")]
    customers = [
        {
            "customer_id": "C1",
            "name": 'Zoë O\'Brien, "Z"',
            "email": "",
            "phone": None,
            "birthday": None,
            "acquisition_channel": "ads",
        },
    ]
    ingest(store_engine, _result(orders, lines, customers))
    with store_engine.connect() as conn:
        stored = {
            r.order_id: r
            for r in conn.execute(
                select(
                    Order.order_id,
                    Order.amount,
                    Order.refunded_amount,
                    Order.currency,
                    Order.channel,
                    Order.ordered_at,
                )
            )
        }
        line_rows = sorted(
            tuple(r)
            for r in conn.execute(
                select(OrderLine.sku, OrderLine.unit_price, OrderLine.line_amount)
            )
        )
        customer = conn.execute(select(Customer)).one()
    assert stored["M1"].amount == Decimal("9999999999999999.99")
    assert (stored["M1"].currency, stored["M1"].channel) == ("EUR", "")  # empty is not NULL
    assert (stored["M2"].amount, stored["M2"].currency) == (Decimal("-0.01"), None)
    assert stored["M2"].channel == 'we"b, "shop"\nline 2'
    assert stored["M3"].refunded_amount == Decimal("0.10")
    assert stored["M1"].ordered_at == DAY
    assert line_rows == [
        ("", Decimal("0.01"), Decimal("0.01")),
        ("Ü-1", Decimal("3333333333333333.33"), Decimal("9999999999999999.99")),
    ]
    assert (customer.name, customer.email, customer.phone) == ('Zoë O\'Brien, "Z"', "", None)
    assert customer.attributes == {}


def test_existing_customers_are_never_overwritten(store_engine: Engine) -> None:
    people = [{"customer_id": "C1", "name": "Ann", "email": "ann@example.com"}]
    ingest(store_engine, _result([_order("O1")], customers=people))
    people = [
        {"customer_id": "C1", "name": "Someone else", "email": "x@example.com"},
        {"customer_id": "C2", "name": "Bo", "email": "bo@example.com"},
    ]
    counts = ingest(store_engine, _result([_order("O1"), _order("O2", "C2")], customers=people))
    assert (counts.customers_inserted, counts.customers_existing) == (1, 1)
    with store_engine.connect() as conn:
        rows = sorted(tuple(r) for r in conn.execute(select(Customer.customer_id, Customer.email)))
    assert rows == [("C1", "ann@example.com"), ("C2", "bo@example.com")]


def test_money_that_would_round_is_refused_before_writing(store_engine: Engine) -> None:
    orders = pa.Table.from_pylist(
        [_order("R1", amount="10.005")],
        arrow_schema("orders").set(3, pa.field("amount", pa.decimal128(18, 3))),
    )
    result = _result([])
    result.orders = orders
    with pytest.raises(RegularsError, match="'amount'"):
        ingest(store_engine, result)
    with store_engine.connect() as conn:
        assert conn.execute(select(Customer)).first() is None


def test_naive_timestamps_are_refused(store_engine: Engine) -> None:
    schema = arrow_schema("orders").set(2, pa.field("ordered_at", pa.timestamp("us")))
    result = _result([])
    result.orders = pa.Table.from_pylist(
        [_order("N1", ordered_at=datetime(2024, 1, 1, 12, 0))], schema
    )
    with pytest.raises(RegularsError, match="'ordered_at' has naive timestamps"):
        ingest(store_engine, result)
