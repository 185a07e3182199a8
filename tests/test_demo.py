"""The demo shop generator: size, schema, consistency, realism, defects, determinism."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from regulars.data.demo import DemoParameterError, DemoShop, generate_demo
from regulars.data.demo import generate as demo_generate
from regulars.data.demo.defects import KINDS
from regulars.data.demo.money import iso_local_timestamps, money_array, padded_ids
from regulars.data.schema import arrow_schema

N = 20_000
SEED = 11


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> DemoShop:
    return generate_demo(
        tmp_path_factory.mktemp("parquet"), n_transactions=N, seed=SEED, fmt="parquet"
    )


@pytest.fixture(scope="module")
def csv_shop(tmp_path_factory: pytest.TempPathFactory) -> DemoShop:
    return generate_demo(tmp_path_factory.mktemp("csv"), n_transactions=N, seed=SEED, fmt="csv")


@pytest.fixture(scope="module")
def orders(shop: DemoShop) -> pa.Table:
    return pq.read_table(shop.orders)


def _sql(shop: DemoShop, query: str) -> list[tuple[Any, ...]]:
    """Run ``query`` on DuckDB with views over the shop's Parquet files."""
    con = duckdb.connect()
    for name in ("orders", "order_lines", "customers", "products"):
        path = getattr(shop, name)
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    return con.sql(query).fetchall()


def _purchases_per_customer(orders: pa.Table) -> np.ndarray[Any, Any]:
    purchases = orders.filter(pc.greater(orders["amount"], 0))
    counts = purchases.group_by("customer_id").aggregate([("order_id", "count")])
    return np.asarray(counts["order_id_count"])


# --- size and shape ---------------------------------------------------------------------


def test_order_count_hits_the_target(shop: DemoShop, orders: pa.Table) -> None:
    assert shop.n_orders == N
    assert orders.num_rows == N
    assert shop.n_defects == 0
    assert pq.read_metadata(shop.customers).num_rows == shop.n_customers


@pytest.mark.parametrize("n", [1_000, 4_321])
def test_small_shops_are_near_the_target(tmp_path: Path, n: int) -> None:
    small = generate_demo(tmp_path, n_transactions=n, seed=3, fmt="parquet")
    rows = pq.read_metadata(small.orders).num_rows
    assert rows == small.n_orders
    assert abs(rows - n) <= 0.1 * n


@pytest.mark.parametrize("table", ["orders", "order_lines", "customers", "products"])
def test_parquet_schemas_are_exactly_canonical(shop: DemoShop, table: str) -> None:
    schema = pq.read_schema(getattr(shop, table))
    assert schema.equals(arrow_schema(table), check_metadata=False)


def test_window_and_paths(shop: DemoShop, orders: pa.Table) -> None:
    assert (shop.start, shop.end) == (date(2023, 11, 1), date(2026, 11, 1))
    assert shop.orders.name == "orders.parquet"
    first, last = pc.min_max(orders["ordered_at"]).values()
    assert first.as_py() >= datetime(2023, 11, 1, tzinfo=UTC)
    assert last.as_py() < datetime(2026, 11, 1, tzinfo=UTC)


def test_ids_are_unique_and_referenced(shop: DemoShop) -> None:
    [(orders, ids, orphans, customers, customer_ids)] = _sql(
        shop,
        """SELECT (SELECT count(*) FROM orders), (SELECT count(DISTINCT order_id) FROM orders),
                  (SELECT count(*) FROM orders WHERE customer_id NOT IN
                        (SELECT customer_id FROM customers)),
                  (SELECT count(*) FROM customers),
                  (SELECT count(DISTINCT customer_id) FROM customers)""",
    )
    assert ids == orders
    assert orphans == 0
    assert customer_ids == customers


def test_truth_names_every_buyer_and_who_is_still_alive(shop: DemoShop) -> None:
    [(buyers, in_truth, alive, orphans)] = _sql(
        shop,
        f"""SELECT (SELECT count(DISTINCT customer_id) FROM orders),
                   (SELECT count(*) FROM read_parquet('{shop.truth}')),
                   (SELECT count(*) FILTER (WHERE alive) FROM read_parquet('{shop.truth}')),
                   (SELECT count(*) FROM read_parquet('{shop.truth}')
                    WHERE customer_id NOT IN (SELECT customer_id FROM orders))""",
    )
    assert in_truth == buyers
    assert orphans == 0
    assert alive == shop.n_alive
    # Dropout after every purchase (mean p 0.37) leaves a minority alive; regulars
    # (p ≈ 0.05) are far more often alive than occasional buyers.
    assert 0.2 < alive / buyers < 0.6
    [(regular_alive, occasional_alive)] = _sql(
        shop,
        f"""SELECT avg(alive::INT) FILTER (WHERE regular),
                   avg(alive::INT) FILTER (WHERE NOT regular)
            FROM read_parquet('{shop.truth}')""",
    )
    assert regular_alive > 1.5 * occasional_alive


def test_customers_alive_at_the_end_bought_within_their_dropout(shop: DemoShop) -> None:
    """A customer who bought in the last month is alive unless that purchase was their
    last one (about 1 − mean p of them); of those silent for two years, only the slow
    buyers who have not dropped out are."""
    [(recent_alive, old_alive)] = _sql(
        shop,
        f"""WITH last AS (SELECT customer_id, max(ordered_at) AS last FROM orders
                         WHERE amount > 0 GROUP BY customer_id)
            SELECT avg(t.alive::INT) FILTER (WHERE l.last >= TIMESTAMPTZ '2026-10-01'),
                   avg(t.alive::INT) FILTER (WHERE l.last < TIMESTAMPTZ '2024-11-01')
            FROM last l JOIN read_parquet('{shop.truth}') t USING (customer_id)""",
    )
    assert recent_alive > 0.5
    assert old_alive < 0.5 * recent_alive


def test_row_groups_hold_a_fixed_number_of_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_generate, "ROW_GROUP_ROWS", 1_000)
    monkeypatch.setattr(demo_generate, "CHUNK_ROWS", 700)
    small = generate_demo(tmp_path, n_transactions=5_000, fmt="parquet")
    for path in (small.orders, small.order_lines, small.customers):
        meta = pq.read_metadata(path)
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert all(size == 1_000 for size in sizes[:-1])
        assert 0 < sizes[-1] <= 1_000


# --- consistency ------------------------------------------------------------------------


def test_order_amount_is_the_sum_of_its_lines(shop: DemoShop) -> None:
    [(n, mismatched, without_lines)] = _sql(
        shop,
        """WITH lines AS (SELECT order_id, sum(line_amount) AS total FROM order_lines GROUP BY 1)
           SELECT count(*), count(*) FILTER (WHERE total IS DISTINCT FROM amount),
                  count(*) FILTER (WHERE total IS NULL)
           FROM orders LEFT JOIN lines USING (order_id)""",
    )
    assert n == N
    assert mismatched == 0
    assert without_lines == 0


def test_lines_are_priced_from_the_catalogue(shop: DemoShop) -> None:
    [(lines, unknown, bad_amount, n_lines_max)] = _sql(
        shop,
        """SELECT count(*), count(*) FILTER (WHERE p.sku IS NULL),
                  count(*) FILTER (WHERE abs(l.line_amount) > abs(l.quantity * l.unit_price)
                                      OR l.unit_price > p.price OR l.unit_price <= 0),
                  (SELECT max(c) FROM (SELECT count(*) AS c FROM order_lines GROUP BY order_id))
           FROM order_lines l LEFT JOIN products p USING (sku)""",
    )
    assert lines > N
    assert unknown == 0
    assert bad_amount == 0  # discounts only lower a line; prices only rose over time
    assert n_lines_max == 5


def test_catalogue(shop: DemoShop) -> None:
    products = pq.read_table(shop.products)
    assert 180 <= products.num_rows <= 220
    assert len(set(products["sku"].to_pylist())) == products.num_rows
    assert len(set(products["category"].to_pylist())) == 8
    assert pc.min(products["price"]).as_py() > 0


def test_customers_look_real(shop: DemoShop) -> None:
    customers = pq.read_table(shop.customers)
    emails = [e for e in customers["email"].to_pylist() if e is not None]
    assert len(emails) == len(set(emails))
    assert all(re.fullmatch(r"[a-z0-9._]+@(mail\.)?example\.(com|org|net)", e) for e in emails)
    phones = [p for p in customers["phone"].to_pylist() if p is not None]
    assert all(re.fullmatch(r"\+49\d{11}", p) for p in phones)
    assert customers["email"].null_count > 0
    assert customers["phone"].null_count > 0
    assert 0.2 < customers["birthday"].null_count / customers.num_rows < 0.4
    channels = set(customers["acquisition_channel"].to_pylist())
    assert channels == {"organic", "paid_search", "social", "referral", "marketplace", "pos"}


def test_customers_are_created_before_their_first_order(shop: DemoShop) -> None:
    [(late, never_ordered)] = _sql(
        shop,
        """WITH first AS (SELECT customer_id, min(ordered_at) AS at FROM orders GROUP BY 1)
           SELECT count(*) FILTER (WHERE c.created_at > f.at), count(*) FILTER (WHERE f.at IS NULL)
           FROM customers c LEFT JOIN first f USING (customer_id)""",
    )
    assert late == 0
    assert 0 < never_ordered < 0.2 * shop.n_customers  # newsletter sign-ups


# --- behaviour --------------------------------------------------------------------------


def test_one_time_buyers_are_the_largest_group(orders: pa.Table) -> None:
    counts = _purchases_per_customer(orders)
    assert 0.48 <= np.mean(counts == 1) <= 0.62
    assert counts.max() >= 20  # a core of heavy regulars


def test_regulars_buy_near_periodically(shop: DemoShop) -> None:
    """Coefficient of variation of the gaps of frequent buyers: regulars (CV ≈ 0.3) and
    Poisson-like occasional buyers (CV ≈ 1) both exist."""
    cvs = [
        row[0]
        for row in _sql(
            shop,
            """WITH g AS (SELECT customer_id, epoch(ordered_at) - lag(epoch(ordered_at))
                            OVER (PARTITION BY customer_id ORDER BY ordered_at) AS gap
                          FROM orders WHERE amount > 0)
               SELECT stddev_samp(gap) / avg(gap) FROM g GROUP BY customer_id
               HAVING count(gap) >= 5""",
        )
    ]
    cv = np.array(cvs)
    assert np.mean(cv < 0.5) > 0.3
    assert np.mean(cv > 0.8) > 0.2


def test_november_and_december_peak(orders: pa.Table) -> None:
    month = pc.month(orders["ordered_at"])
    peak = pc.sum(pc.is_in(month, pa.array([11, 12]))).as_py()
    assert peak / orders.num_rows > 2 / 12 + 0.01


def test_referred_customers_come_back_more_than_marketplace_ones(shop: DemoShop) -> None:
    rows = dict(
        _sql(
            shop,
            """WITH n AS (SELECT customer_id, count(*) AS k FROM orders WHERE amount > 0 GROUP BY 1)
               SELECT acquisition_channel, avg((k > 1)::INT)
               FROM n JOIN customers USING (customer_id) GROUP BY 1""",
        )
    )
    assert rows["referral"] > rows["marketplace"] + 0.05


def test_store_orders_happen_in_opening_hours(orders: pa.Table) -> None:
    at_till = orders.filter(pc.equal(orders["channel"], "pos"))
    local = pc.local_timestamp(at_till["ordered_at"].cast(pa.timestamp("us", tz="Europe/Berlin")))
    hours = np.asarray(pc.hour(local))
    assert 0.05 < at_till.num_rows / orders.num_rows < 0.3
    assert hours.min() >= 9
    assert hours.max() < 20
    assert pc.sum(pc.equal(pc.day_of_week(local), 6)).as_py() == 0  # closed on Sundays
    assert set(orders["channel"].to_pylist()) == {"web", "pos"}
    assert set(orders["currency"].to_pylist()) == {"EUR"}


def test_spend_is_heterogeneous_money_with_two_decimals(orders: pa.Table) -> None:
    assert orders.schema.field("amount").type == pa.decimal128(18, 2)
    purchases = orders.filter(pc.greater(orders["amount"], 0))
    amounts = np.asarray(purchases["amount"].cast(pa.float64()))
    assert 30 < amounts.mean() < 80
    assert np.quantile(amounts, 0.99) > 4 * np.median(amounts)


def test_refunds_cancellations_and_till_returns(orders: pa.Table) -> None:
    status = Counter(orders["status"].to_pylist())
    refunded = (status["refunded"] + status["partially_refunded"]) / orders.num_rows
    assert 0.05 <= refunded <= 0.08
    assert 0 < status["cancelled"] < 0.03 * orders.num_rows
    partial = orders.filter(pc.equal(orders["status"], "partially_refunded"))
    assert pc.all(pc.less(partial["refunded_amount"], partial["amount"])).as_py()
    assert pc.all(pc.greater(partial["refunded_amount"], 0)).as_py()
    returns = orders.filter(pc.less(orders["amount"], 0))
    assert returns.num_rows > 0
    assert set(returns["channel"].to_pylist()) == {"pos"}
    assert all(i.startswith("RT-") for i in returns["order_id"].to_pylist())


# --- the CSV export and its defects -----------------------------------------------------


def _csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


def _is_iso(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).utcoffset() is not None
    except ValueError:
        return False


def _is_money(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return re.fullmatch(r"-?\d+\.\d\d", text) is not None


def test_csv_has_the_canonical_header_and_format(csv_shop: DemoShop) -> None:
    header, rows = _csv_rows(csv_shop.orders)
    assert header == arrow_schema("orders").names
    assert len(rows) == csv_shop.n_orders + csv_shop.n_defects
    first = rows[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", first["ordered_at"])
    assert {r["ordered_at"][-6:] for r in rows[:5000]} == {"+01:00", "+02:00"}  # DST
    assert b'"' not in csv_shop.orders.read_bytes()


def test_csv_carries_each_kind_of_defect(csv_shop: DemoShop) -> None:
    _, rows = _csv_rows(csv_shop.orders)
    bad_date = sum(not _is_iso(r["ordered_at"]) for r in rows)
    no_customer = sum(r["customer_id"] == "" for r in rows)
    bad_amount = sum(not _is_money(r["amount"]) for r in rows)
    lines = Counter(tuple(r.values()) for r in rows)
    exact = sum(n - 1 for n in lines.values())
    ids = Counter(r["order_id"] for r in rows)
    conflicting = sum(n - 1 for n in ids.values()) - exact
    found = [bad_date, no_customer, bad_amount, exact, conflicting]
    assert all(n >= 1 for n in found), dict(zip(KINDS, found, strict=True))
    assert sum(found) == csv_shop.n_defects


def test_csv_without_defects_is_the_parquet_export(
    csv_shop: DemoShop, shop: DemoShop, orders: pa.Table
) -> None:
    _, rows = _csv_rows(csv_shop.orders)
    seen: set[str] = set()
    clean = []
    for row in rows:  # keep the first row per id, drop rows that are not valid
        valid = _is_iso(row["ordered_at"]) and row["customer_id"] and _is_money(row["amount"])
        if valid and row["order_id"] not in seen:
            seen.add(row["order_id"])
            clean.append(row)
    assert len(clean) == shop.n_orders
    assert [r["order_id"] for r in clean] == orders["order_id"].to_pylist()
    assert [Decimal(r["amount"]) for r in clean] == orders["amount"].to_pylist()
    parsed = [datetime.fromisoformat(r["ordered_at"]) for r in clean[:1000]]
    assert parsed == orders["ordered_at"].to_pylist()[:1000]
    assert csv_shop.order_lines.read_bytes() == shop.order_lines.read_bytes()


# --- determinism, progress, arguments ---------------------------------------------------


def _files(shop: DemoShop) -> dict[str, bytes]:
    paths = (shop.orders, shop.order_lines, shop.customers, shop.products, shop.truth)
    return {p.name: p.read_bytes() for p in paths}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    first = generate_demo(tmp_path / "a", n_transactions=3_000, seed=5)
    again = generate_demo(tmp_path / "b", n_transactions=3_000, seed=5)
    other = generate_demo(tmp_path / "c", n_transactions=3_000, seed=6)
    assert _files(first) == _files(again)
    counts = ("n_customers", "n_orders", "n_defects")
    assert [getattr(first, k) for k in counts] == [getattr(again, k) for k in counts]
    assert _files(first)["orders.csv"] != _files(other)["orders.csv"]


def test_progress_is_monotone_and_completes(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate_demo(tmp_path, n_transactions=2_000, progress=lambda d, t: calls.append((d, t)))
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert calls[-1][0] == calls[-1][1]
    assert len({t for _, t in calls}) == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"n_transactions": 5}, {"seed": -1}, {"years": 0.0}, {"years": 100.0}, {"fmt": "xlsx"}],
)
def test_invalid_arguments_are_refused(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(DemoParameterError):
        generate_demo(tmp_path, **kwargs)


# --- helpers ----------------------------------------------------------------------------


def test_money_array_is_exact() -> None:
    cents = np.array([0, 1, -1, 123_456, -99, 2**62], dtype=np.int64)
    expected = [Decimal(int(c)) / 100 for c in cents]
    assert money_array(cents).to_pylist() == expected


def test_padded_ids_and_local_timestamps() -> None:
    assert padded_ids("C", np.array([1, 42, 123456]), 6).to_pylist() == [
        "C000001",
        "C000042",
        "C123456",
    ]
    utc = np.array([1_711_846_800, 1_711_846_800], dtype=np.int64)  # 2024-03-31T01:00Z
    text = iso_local_timestamps(utc, np.array([7_200, -19_800], dtype=np.int64)).to_pylist()
    assert text == ["2024-03-31T03:00:00+02:00", "2024-03-30T19:30:00-05:30"]


@pytest.mark.slow
def test_a_million_orders_stream_in_row_groups(tmp_path: Path) -> None:
    big = generate_demo(tmp_path, n_transactions=1_200_000, fmt="parquet")
    meta = pq.read_metadata(big.orders)
    assert meta.num_rows == big.n_orders == 1_200_000
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [
        1_000_000,
        200_000,
    ]
