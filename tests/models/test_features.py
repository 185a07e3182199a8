"""Churn features: hand-checked values on every backend, the cutoff boundary, no leakage."""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regulars.engine import connect, table_from_arrow
from regulars.errors import ModelFitError
from regulars.models.features import (
    BGNBD_COLUMNS,
    ENGINE_FEATURES,
    add_bgnbd_features,
    btyd_inputs,
    churn_features,
)

MONEY = pa.decimal128(18, 2)
CUTOFF = date(2024, 2, 20)

# (order_id, customer, ordered_at, amount, refunded_amount, status)
ROWS = [
    ("1", "a", "2024-01-01 10:00", "10", "0", "completed"),
    ("2", "a", "2024-01-01 12:00", "5", "0", "completed"),  # same day: one purchase day
    ("3", "a", "2024-01-11 09:00", "20", "5", "partially_refunded"),
    ("4", "a", "2024-02-10 18:00", "30", "0", "completed"),
    ("0", "a", "2023-06-01 08:00", "25", "0", "completed"),  # 264 days before the cutoff
    ("5", "b", "2024-01-05 11:00", "40", "0", "completed"),
    ("6", "b", "2024-01-20 11:00", "-8", "0", "completed"),  # standalone return
    ("7", "b", "2024-01-21 11:00", "99", "0", "cancelled"),
    ("8", "c", "2024-01-05 11:00", "-5", "0", "completed"),  # return only before cutoff
    ("9", "c", "2024-03-01 11:00", "50", "0", "completed"),  # first purchase after
    ("10", "d", "2024-01-07 11:00", "60", "60", "refunded"),  # never a purchase
    ("11", "e", "2024-02-19 23:59", "15", "0", "completed"),  # last minute before cutoff
    ("12", "e", "2024-02-20 00:00", "15", "0", "completed"),  # the cutoff itself: excluded
]

LINES = [
    ("1", "A", 1),
    ("2", "B", 1),
    ("3", "A", 2),
    ("3", "Z", -1),  # a returned line does not widen the basket
    ("5", "A", 1),
    ("10", "Q", 1),  # a refunded order's lines do not count
]


def _orders(rows: list[tuple[str, str, str, str, str, str]]) -> pa.Table:
    return pa.table(
        {
            "order_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "ordered_at": pa.array(
                [datetime.fromisoformat(r[2]) for r in rows], pa.timestamp("us")
            ),
            "amount": pa.array([Decimal(r[3]) for r in rows], MONEY),
            "refunded_amount": pa.array([Decimal(r[4]) for r in rows], MONEY),
            "status": [r[5] for r in rows],
        }
    )


def _lines(rows: list[tuple[str, str, int]]) -> pa.Table:
    return pa.table(
        {
            "order_id": [r[0] for r in rows],
            "sku": [r[1].lower() for r in rows],
            "category": [r[1] for r in rows],
            "quantity": pa.array([r[2] for r in rows], pa.int64()),
            "line_amount": pa.array([Decimal(1)] * len(rows), MONEY),
        }
    )


def _by_customer(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row.pop("customer_id"): row for row in table.to_pylist()}


def test_hand_checked_features(load: Callable[[pa.Table], ibis.Table]) -> None:
    features = churn_features(
        load(_orders(ROWS)), cutoff=CUTOFF, order_lines=load(_lines(LINES))
    ).to_pyarrow()
    assert features.column_names == ["customer_id", *ENGINE_FEATURES, "category_breadth"]
    got = _by_customer(features)
    assert set(got) == {"a", "b", "e"}

    a = got["a"]
    gaps = [214, 10, 30]  # 2023-06-01 → 2024-01-01 → 01-11 → 02-10
    mean_gap = sum(gaps) / 3
    assert {k: a[k] for k in ("recency_days", "frequency", "n_orders")} == {
        "recency_days": 10,
        "frequency": 4,
        "n_orders": 5,
    }
    assert a["tenure_days"] == 254
    assert a["days_since_first"] == 264
    assert a["monetary_total"] == pytest.approx(85.0)  # 25 + 15 + (20 − 5) + 30
    assert a["monetary_mean"] == pytest.approx(85.0 / 4)
    assert a["gap_mean"] == pytest.approx(mean_gap)
    assert a["gap_std"] == pytest.approx(statistics.stdev(gaps))
    assert a["gap_cv"] == pytest.approx(statistics.stdev(gaps) / mean_gap)
    assert a["last_gap"] == 30
    assert a["last_gap_ratio"] == pytest.approx(30 / mean_gap)
    assert a["overdue_ratio"] == pytest.approx(10 / mean_gap)
    assert (a["purchases_90d"], a["purchases_180d"], a["purchases_365d"]) == (3, 3, 4)
    assert a["trend_90_365"] == pytest.approx(0.75)
    assert a["trend_180_365"] == pytest.approx(0.75)
    assert a["refund_order_share"] == pytest.approx(1 / 5)
    assert a["refund_amount_share"] == pytest.approx(5 / 90)
    assert a["category_breadth"] == 2

    b = got["b"]
    assert (b["recency_days"], b["frequency"], b["tenure_days"]) == (46, 1, 0)
    assert b["days_since_first"] == 46
    for undefined in ("gap_mean", "gap_std", "gap_cv", "last_gap", "overdue_ratio"):
        assert b[undefined] is None
    assert b["refund_order_share"] == 0.0  # the cancelled order is not in the base
    assert b["refund_amount_share"] == pytest.approx(8 / 40)  # the standalone return
    assert b["category_breadth"] == 1

    e = got["e"]
    assert (e["recency_days"], e["frequency"], e["monetary_total"]) == (1, 1, 15.0)
    assert e["category_breadth"] == 0


def test_without_lines_or_optional_columns(load: Callable[[pa.Table], ibis.Table]) -> None:
    bare = _orders(ROWS).drop_columns(["status", "refunded_amount"])
    got = _by_customer(churn_features(load(bare), cutoff=CUTOFF).to_pyarrow())
    assert "category_breadth" not in got["a"]
    # without statuses every positive order counts, the refunded one of "d" included
    assert set(got) == {"a", "b", "d", "e"}
    assert got["a"]["monetary_total"] == pytest.approx(90.0)
    assert got["b"]["refund_order_share"] == 0.0


def _random_orders(seed: int, n: int = 400) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = datetime(2023, 1, 1)
    minutes = rng.integers(0, 500 * 1440, size=n)
    return pa.table(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": [f"c{i}" for i in rng.integers(0, 60, size=n)],
            "ordered_at": pa.array(
                [start + timedelta(minutes=int(m)) for m in minutes], pa.timestamp("us")
            ),
            "amount": pa.array(
                [Decimal(int(c)) / 100 for c in rng.integers(-2000, 20000, size=n)], MONEY
            ),
            "refunded_amount": pa.array([Decimal(0)] * n, MONEY),
            "status": rng.choice(["completed", "cancelled", "refunded"], size=n).tolist(),
        }
    )


_after_cutoff = st.lists(
    st.tuples(
        st.integers(0, 80),  # customer (some new, some known)
        st.integers(0, 200 * 1440),  # minutes after the cutoff
        st.integers(-5000, 50000),  # cents
        st.sampled_from(["completed", "cancelled", "refunded", "partially_refunded"]),
    ),
    max_size=30,
)


_CON = connect()
_LEAK_CUTOFF = date(2024, 1, 15)
_BASE_ORDERS = _random_orders(seed=11)


def _leak_features(orders: pa.Table, extra_ids: list[str]) -> pa.Table:
    """Features at the cutoff with order lines for ``extra_ids`` (post-cutoff orders) and
    one pre-cutoff order."""
    lines = _lines([(i, "NEW", 1) for i in extra_ids] + [("o1", "OLD", 1)])
    got = churn_features(
        table_from_arrow(_CON, orders),
        cutoff=_LEAK_CUTOFF,
        order_lines=table_from_arrow(_CON, lines),
    )
    return got.order_by("customer_id").to_pyarrow()


@functools.cache
def _base_features() -> pa.Table:
    return _leak_features(_BASE_ORDERS, [])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra=_after_cutoff)
def test_orders_from_the_cutoff_on_do_not_change_features(
    extra: list[tuple[int, int, int, str]],
) -> None:
    midnight = datetime.combine(_LEAK_CUTOFF, datetime.min.time())
    ids = [f"x{i}" for i in range(len(extra))]
    added = pa.table(
        {
            "order_id": pa.array(ids, pa.string()),
            "customer_id": pa.array([f"c{e[0]}" for e in extra], pa.string()),
            "ordered_at": pa.array(
                [midnight + timedelta(minutes=e[1]) for e in extra], pa.timestamp("us")
            ),
            "amount": pa.array([Decimal(e[2]) / 100 for e in extra], MONEY),
            "refunded_amount": pa.array([Decimal(0)] * len(extra), MONEY),
            "status": pa.array([e[3] for e in extra], pa.string()),
        }
    )
    changed = _leak_features(pa.concat_tables([_BASE_ORDERS, added]), ids)
    assert changed.equals(_base_features())


def _fake_inputs(n: int, seed: int) -> pa.Table:
    """A feature table with just the columns BG/NBD reads: Poisson buyers (gamma rates),
    a third of whom stopped buying at a random point of their history."""
    rng = np.random.default_rng(seed)
    age = rng.integers(30, 700, size=n)
    rate = rng.gamma(1.0, 1 / 30, size=n)
    active = np.where(rng.random(n) < 1 / 3, age * rng.random(n), age)
    repeats = rng.poisson(rate * active)
    # the last of `repeats` uniform points in (0, active]
    tenure = np.where(repeats > 0, active * rng.random(n) ** (1 / np.maximum(repeats, 1)), 0)
    return pa.table(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "frequency": repeats + 1,
            "tenure_days": np.floor(tenure).astype(np.int64),
            "days_since_first": age,
        }
    )


def test_btyd_inputs_are_in_weeks() -> None:
    x, t_x, age = btyd_inputs(_fake_inputs(5, seed=0))
    table = _fake_inputs(5, seed=0)
    np.testing.assert_array_equal(x, table["frequency"].to_numpy() - 1)
    np.testing.assert_allclose(t_x * 7, table["tenure_days"].to_numpy())
    np.testing.assert_allclose(age * 7, table["days_since_first"].to_numpy() - 1)


def test_btyd_inputs_match_the_btyd_summary(load: Callable[[pa.Table], ibis.Table]) -> None:
    from regulars.models.summary import btyd_summary

    orders = load(_orders(ROWS))
    features = churn_features(orders, cutoff=CUTOFF).order_by("customer_id").to_pyarrow()
    summary = btyd_summary(orders, calibration_end=CUTOFF).order_by("customer_id").to_pyarrow()
    assert features["customer_id"].equals(summary["customer_id"])
    x, t_x, age = btyd_inputs(features)
    np.testing.assert_array_equal(x, summary["frequency"].to_numpy())
    np.testing.assert_allclose(t_x, summary["recency"].to_numpy())
    np.testing.assert_allclose(age, summary["T"].to_numpy())


def test_bgnbd_columns_are_added_when_fittable() -> None:
    table = add_bgnbd_features(_fake_inputs(2_000, seed=1), horizon_days=90)
    assert table.column_names[-2:] == list(BGNBD_COLUMNS)
    p_alive = table["p_alive"].to_numpy()
    expected = table["expected_purchases"].to_numpy()
    assert np.all((p_alive >= 0) & (p_alive <= 1))
    assert np.all(expected >= 0)
    assert np.isfinite(expected).all()


def test_bgnbd_columns_are_left_out_when_unfittable(monkeypatch: pytest.MonkeyPatch) -> None:
    from regulars.models import bgnbd

    def refuse(*args: object, **kwargs: object) -> None:
        raise ModelFitError("no repeat purchases")

    monkeypatch.setattr(bgnbd.BetaGeoModel, "fit", refuse)
    table = _fake_inputs(100, seed=2)
    assert add_bgnbd_features(table, horizon_days=90).equals(table)
