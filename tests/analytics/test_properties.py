"""Property tests: random order histories checked against the written definitions
(a plain-Python reference implementation) and against the metrics' invariants."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regulars.analytics import (
    SEGMENTS,
    cohort_matrix,
    customer_table,
    kpi_series,
    lifecycle,
    period_kpis,
)
from regulars.analytics.periods import calendar_periods

EPOCH = date(2022, 1, 1)
# Each example compiles and runs real queries (~0.1–0.5 s); CI can ask for more.
SETTINGS = settings(
    max_examples=int(os.environ.get("REGULARS_HYPOTHESIS_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

STATUSES = st.sampled_from(
    ["completed"] * 6 + ["cancelled", "refunded", "partially_refunded"]
)  # fmt: skip


@st.composite
def order_rows(draw: st.DrawFn) -> list[tuple[object, ...]]:
    """Up to 40 orders of up to 8 customers over three years, with every status,
    partial refunds and a few return documents."""
    rows = []
    for _ in range(draw(st.integers(0, 40))):
        customer = f"c{draw(st.integers(0, 7))}"
        day = EPOCH + timedelta(days=draw(st.integers(0, 3 * 365)))
        amount = draw(st.integers(-30, 200))
        status = draw(STATUSES)
        refunded = draw(st.integers(0, max(amount, 0))) if status == "partially_refunded" else 0
        rows.append((customer, day, str(amount), str(refunded), status))
    return rows


@dataclass
class Reference:
    """The definitions of docs/metrics.md, computed row by row in Python."""

    rows: list[tuple[object, ...]]

    def purchases(self) -> list[tuple[str, date, Decimal]]:
        counted = []
        for customer, day, amount, refunded, status in self.rows:
            gross = Decimal(str(amount))
            net = gross - Decimal(str(refunded))
            zero_value = gross == 0 and net == 0
            if status not in ("cancelled", "refunded") and (net > 0 or zero_value):
                counted.append((str(customer), day, net))
        return counted  # type: ignore[return-value]

    def days(self) -> dict[str, list[date]]:
        by_customer: dict[str, list[date]] = defaultdict(list)
        for customer, day, _ in self.purchases():
            by_customer[customer].append(day)
        return by_customer

    def active(self, moment: date, window: int) -> set[str]:
        low = moment - timedelta(days=window)
        return {c for c, days in self.days().items() if any(low <= d < moment for d in days)}

    def revenue(self, start: date, end: date) -> Decimal:
        total = sum((net for _, d, net in self.purchases() if start <= d < end), Decimal(0))
        for _, day, amount, refunded, status in self.rows:
            value = Decimal(str(amount))
            if value < 0 and status != "cancelled" and start <= day < end:  # type: ignore[operator]
                total += value - Decimal(str(refunded))
        return total

    def period(self, start: date, end: date, window: int) -> dict[str, Any]:
        days = self.days()
        first = {c: min(d) for c, d in days.items()}
        bought = {c for c, ds in days.items() if any(start <= d < end for d in ds)}
        s, e = self.active(start, window), self.active(end, window)
        new = {c for c, f in first.items() if start <= f < end}
        orders = [c for c, d, _ in self.purchases() if start <= d < end]
        return {
            "customers_start": len(s),
            "customers_new": len(new),
            "customers_end": len(e),
            "retained": len(s & e),
            "reactivated": len({c for c in bought if first[c] < start and c not in s}),
            "repeat_retained": len(s & bought),
            "orders": len(orders),
            "unique_customers": len(bought),
            "repeat_buyers": len({c for c in bought if orders.count(c) >= 2}),
            "revenue": self.revenue(start, end),
        }


def _in_percent_range(value: float | None) -> bool:
    return value is None or 0.0 <= value <= 100.0


@SETTINGS
@given(
    rows=order_rows(),
    start_day=st.integers(0, 3 * 365),
    length=st.integers(1, 400),
    window=st.integers(1, 500),
)
def test_period_kpis_follow_the_definitions(make_orders, rows, start_day, length, window):  # type: ignore[no-untyped-def]
    start = EPOCH + timedelta(days=start_day)
    end = start + timedelta(days=length)
    kpis = period_kpis(make_orders(rows), start, end, activity_window_days=window)
    expected = Reference(rows).period(start, end, window)
    w, r = kpis.window, kpis.repeat
    assert w.customers_start == expected["customers_start"]
    assert w.customers_new == expected["customers_new"]
    assert w.customers_end == expected["customers_end"]
    assert w.retained == expected["retained"]
    assert w.reactivated == expected["reactivated"]
    assert r.retained == expected["repeat_retained"]
    assert kpis.orders == expected["orders"]
    assert kpis.unique_customers == expected["unique_customers"]
    assert kpis.repeat_buyers == expected["repeat_buyers"]
    assert kpis.revenue == expected["revenue"]
    assert w.lost + w.retained == w.customers_start == r.lost + r.retained
    assert r.customers_end - r.customers_new - r.reactivated == r.retained
    if window >= length:  # a window at least as long as the period: E holds N, R, retained
        assert w.customers_end - w.customers_new - w.reactivated == w.retained
    for rate in (w.crr, w.churn_rate, r.crr, r.churn_rate, kpis.repeat_purchase_rate):
        assert _in_percent_range(rate)


@SETTINGS
@given(rows=order_rows(), first_month=st.integers(0, 30), window=st.integers(31, 400))
def test_monthly_series_follows_the_definitions(make_orders, rows, first_month, window):  # type: ignore[no-untyped-def]
    start = date(2022 + first_month // 12, first_month % 12 + 1, 1)
    end = start + timedelta(days=150)
    series = kpi_series(
        make_orders(rows), period="month", start=start, end=end, activity_window_days=window
    ).to_pyarrow().to_pylist()  # fmt: skip
    reference = Reference(rows)
    assert [(r["period_start"], r["period_end"]) for r in series] == calendar_periods(
        start, end, "month"
    )
    for row in series:
        expected = reference.period(row["period_start"], row["period_end"], window)
        assert {k: row[k] for k in expected} == expected
        # window ≥ 31 days ≥ any month: E − N − reactivated = retained
        assert row["customers_end"] - row["customers_new"] - row["reactivated"] == row["retained"]
        assert all(_in_percent_range(row[k]) for k in ("crr", "churn_rate", "repeat_crr"))


@SETTINGS
@given(rows=order_rows(), unit=st.sampled_from(["week", "month", "quarter"]))
def test_cohort_invariants(make_orders, rows, unit):  # type: ignore[no-untyped-def]
    orders = make_orders(rows)
    exact = cohort_matrix(orders, cohort=unit).to_pyarrow().to_pylist()
    cumulative = cohort_matrix(orders, cohort=unit, mode="cumulative").to_pyarrow().to_pylist()
    assert len(exact) == len(cumulative)
    for ex, cu in zip(exact, cumulative, strict=True):
        assert (ex["cohort_start"], ex["period_number"]) == (
            cu["cohort_start"],
            cu["period_number"],
        )
        if ex["period_number"] == 0:
            assert ex["customer_share"] == cu["customer_share"] == 100.0
            # undefined (null) for a cohort whose first period brought no revenue
            # (only zero-value orders)
            first_revenue = ex["revenue"]
            assert ex["revenue_share"] == (100.0 if first_revenue else None)
        assert 0 <= ex["customers"] <= cu["customers"] <= ex["cohort_size"]
        assert _in_percent_range(ex["customer_share"])
        assert _in_percent_range(cu["customer_share"])
    for before, after in pairwise(cumulative):
        if before["cohort_start"] == after["cohort_start"]:
            assert after["customers"] <= before["customers"]  # "N or later" never grows


@SETTINGS
@given(rows=order_rows(), unit=st.sampled_from(["week", "month", "quarter", "year"]))
def test_lifecycle_invariants(make_orders, rows, unit):  # type: ignore[no-untyped-def]
    table = lifecycle(make_orders(rows), period=unit, start=date(2022, 3, 1), end=date(2024, 6, 1))
    result = table.to_pyarrow().to_pylist()
    for previous, row in pairwise(result):
        assert row["active"] == row["new"] + row["returning"] + row["resurrected"]
        assert previous["active"] == row["returning"] + row["dormant"]
    assert all(
        min(r[k] for k in ("new", "returning", "resurrected", "dormant")) >= 0 for r in result
    )


@SETTINGS
@given(rows=order_rows(), as_of_day=st.integers(30, 3 * 365 + 30))
def test_customer_level_invariants(make_orders, rows, as_of_day):  # type: ignore[no-untyped-def]
    as_of = EPOCH + timedelta(days=as_of_day)
    customers = customer_table(make_orders(rows), as_of=as_of).to_pyarrow().to_pylist()
    buyers = {c for c, d, _ in Reference(rows).purchases() if d < as_of}
    assert {c["customer_id"] for c in customers} == buyers
    for c in customers:
        assert all(1 <= c[k] <= 5 for k in ("r_score", "f_score", "m_score"))
        assert c["segment"] in SEGMENTS
        assert c["rfm_cell"] == f"{c['r_score']}{c['f_score']}{c['m_score']}"
        assert 0.0 <= c["regularity"] <= 100.0
        assert (c["kind"] == "one-time") == (c["orders"] == 1)
        assert 1 <= c["recency_days"] <= c["tenure_days"]
    for key, score in (("recency_days", "r_score"), ("orders", "f_score"), ("revenue", "m_score")):
        by_value: dict[object, set[int]] = defaultdict(set)
        for c in customers:
            by_value[c[key]].add(c[score])
        assert all(len(scores) == 1 for scores in by_value.values())  # ties share a score
