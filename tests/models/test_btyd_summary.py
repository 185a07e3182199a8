"""btyd_summary: the CDNOW calibration summary reproduced from the raw transactions, and
the counting rules, on every engine under test (the ``load`` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import btyd_data as cdnow
import ibis
import numpy as np
import pyarrow as pa
import pytest

from regulars.models.summary import btyd_summary

Load = Callable[[pa.Table], ibis.Table]


def _half_up(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Round to cents half away from zero, as the published CSV files do."""
    return np.floor(values * 100.0 + 0.5 + 1e-9) / 100.0


def _by_id(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["customer_id"]: row for row in table.to_pylist()}


def test_reproduces_the_cdnow_calibration_summary(load: Load) -> None:
    orders = load(cdnow.orders())
    ours = btyd_summary(
        orders,
        calibration_end=cdnow.CALIBRATION_END,
        observation_end=cdnow.OBSERVATION_END,
        unit="week",
    ).to_pyarrow()
    ours = ours.sort_by([("customer_id", "ascending")])
    rows = _by_id(ours)
    published = cdnow.summary_with_spend()
    ids = [str(int(i)) for i in published["ID"]]

    # Eight customers' only record is a $0.00 purchase; zero-value orders count, so
    # every one of the 2,357 customers is in the summary, as in the published one.
    assert sorted(rows) == sorted(ids)

    order = [rows[i] for i in ids]
    frequency = np.array([r["frequency"] for r in order], dtype=np.float64)
    recency = np.array([r["recency"] for r in order])
    age = np.array([r["T"] for r in order])
    spend = np.array([r["monetary_value"] for r in order])
    np.testing.assert_array_equal(frequency, published["x"])
    np.testing.assert_array_equal(_half_up(recency), published["t_x"])
    np.testing.assert_array_equal(_half_up(age), published["T"])
    np.testing.assert_array_equal(_half_up(spend), published["zbar"])
    # the other published file (no spend) agrees as well
    plain = cdnow.summary()
    np.testing.assert_array_equal(frequency, plain["frequency"])
    np.testing.assert_array_equal(_half_up(recency), plain["recency"])

    assert {r["duration_holdout"] for r in order} == {39.0}
    assert sum(r["frequency_holdout"] for r in order) == 1882


def _orders(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Orders from (customer_id, ordered_at, amount, refunded_amount, status) tuples."""
    return pa.table(
        {
            "order_id": pa.array([str(i) for i in range(len(rows))]),
            "customer_id": pa.array([r[0] for r in rows]),
            "ordered_at": pa.array([r[1] for r in rows], pa.timestamp("us")),
            "amount": pa.array([Decimal(str(r[2])) for r in rows], pa.decimal128(18, 2)),
            "refunded_amount": pa.array(
                [None if r[3] is None else Decimal(str(r[3])) for r in rows],
                pa.decimal128(18, 2),
            ),
            "status": pa.array([r[4] for r in rows], pa.string()),
        }
    )


CAL_END = date(2024, 3, 1)
OBS_END = date(2024, 4, 1)


def test_counting_rules(load: Load) -> None:
    rows = [
        # a: first day has two orders (merged); cancelled and fully refunded orders and
        # return documents do not count, a zero-value order does; a partial refund lowers
        # the spend; one holdout purchase day.
        ("a", datetime(2024, 1, 1, 9), 10, 0, "completed"),
        ("a", datetime(2024, 1, 1, 18), 5, None, None),
        ("a", datetime(2024, 1, 8, 10), 20, 5, "partially_refunded"),
        ("a", datetime(2024, 1, 8, 11), 30, 0, "completed"),
        ("a", datetime(2024, 1, 15), 99, 0, "cancelled"),
        ("a", datetime(2024, 1, 22), 40, 40, "refunded"),
        ("a", datetime(2024, 1, 29), 0, 0, "completed"),
        ("a", datetime(2024, 1, 29), -15, 0, "completed"),
        ("a", datetime(2024, 2, 5), 12, None, "completed"),
        ("a", datetime(2024, 3, 10), 7, 0, "completed"),
        ("a", datetime(2024, 3, 10, 20), 7, 0, "completed"),
        # b: a single purchase on the last calibration day → T = 0
        ("b", datetime(2024, 2, 29, 23, 59), 25, 0, "completed"),
        # c: first purchase in the holdout → not in the summary
        ("c", datetime(2024, 3, 2), 25, 0, "completed"),
        # d: only a cancelled order → not a customer yet
        ("d", datetime(2024, 1, 2), 25, 0, "cancelled"),
        # e: a purchase after the observation end is ignored
        ("e", datetime(2024, 1, 31), 8, 0, "completed"),
        ("e", datetime(2024, 4, 1), 8, 0, "completed"),
    ]
    table = btyd_summary(
        load(_orders(rows)), calibration_end=CAL_END, observation_end=OBS_END, unit="day"
    ).to_pyarrow()
    got = _by_id(table)
    assert set(got) == {"a", "b", "e"}
    a = got["a"]
    assert a["frequency"] == 3  # Jan 8, Jan 29 (the zero-value order) and Feb 5
    assert a["recency"] == 35.0  # Jan 1 → Feb 5
    assert a["T"] == 59.0  # Jan 1 → Feb 29 (the day before calibration_end)
    assert a["monetary_value"] == pytest.approx((15 + 30 + 0 + 12) / 3)
    assert a["frequency_holdout"] == 1
    assert a["duration_holdout"] == 31.0
    b = got["b"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0.0, 0.0, 0.0)
    assert got["e"]["frequency_holdout"] == 0
    assert table.schema.field("frequency").type == pa.int64()
    assert table.schema.field("frequency_holdout").type == pa.int64()
    for name in ("recency", "T", "monetary_value", "duration_holdout"):
        assert table.schema.field(name).type == pa.float64()


@pytest.mark.parametrize(("unit", "days"), [("day", 1.0), ("week", 7.0), ("month", 30.4375)])
def test_time_units(load: Load, unit: str, days: float) -> None:
    rows = [
        ("a", datetime(2024, 1, 1), 10, 0, "completed"),
        ("a", datetime(2024, 2, 10), 10, 0, "completed"),
    ]
    got = _by_id(
        btyd_summary(load(_orders(rows)), calibration_end=CAL_END, unit=unit).to_pyarrow()  # type: ignore[arg-type]
    )["a"]
    assert got["recency"] == pytest.approx(40 / days)
    assert got["T"] == pytest.approx(59 / days)
    assert "frequency_holdout" not in got


def test_optional_columns_and_dates(load: Load) -> None:
    """Without ``refunded_amount``/``status`` every positive order counts; ``ordered_at``
    may be a date."""
    table = pa.table(
        {
            "order_id": ["1", "2", "3"],
            "customer_id": ["a", "a", "a"],
            "ordered_at": pa.array(
                [date(2024, 1, 1), date(2024, 1, 1), date(2024, 1, 3)], pa.date32()
            ),
            "amount": pa.array([Decimal("1.50"), Decimal("2"), Decimal("4")], pa.decimal128(18, 2)),
        }
    )
    got = _by_id(btyd_summary(load(table), calibration_end=CAL_END, unit="day").to_pyarrow())
    assert got["a"]["frequency"] == 1
    assert got["a"]["monetary_value"] == 4.0


def test_empty_and_invalid(load: Load) -> None:
    empty = _orders([("a", datetime(2024, 5, 1), 10, 0, "completed")])
    assert btyd_summary(load(empty), calibration_end=CAL_END).to_pyarrow().num_rows == 0
    with pytest.raises(ValueError, match="observation_end"):
        btyd_summary(load(empty), calibration_end=CAL_END, observation_end=CAL_END)
    with pytest.raises(ValueError, match="unit"):
        btyd_summary(load(empty), calibration_end=CAL_END, unit="year")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="customer_id"):
        btyd_summary(load(empty.drop(["customer_id"])), calibration_end=CAL_END)
