"""Period KPIs against hand-computed examples."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from regulars.analytics import AnalysisArgumentError, period_kpis

Q1_START, Q1_END = date(2024, 1, 1), date(2024, 4, 1)


def test_product_example_600_250_80(make_orders, product_example_rows):  # type: ignore[no-untyped-def]
    kpis = period_kpis(make_orders(product_example_rows()), Q1_START, Q1_END)
    w = kpis.window
    assert (w.customers_start, w.customers_new, w.lost) == (600, 250, 80)
    assert w.customers_end == 770  # 600 − 80 + 250
    assert w.retained == 520
    assert w.reactivated == 0
    # CRR = (E − N) / S = (770 − 250) / 600 = 86.67 %; churn = 80 / 600 = 13.33 %
    assert w.crr == pytest.approx(86.6667, abs=1e-4)
    assert w.churn_rate == pytest.approx(13.3333, abs=1e-4)
    assert round(w.crr, 1) == 86.7


def test_reactivated_customers_are_not_retained(make_orders, product_example_rows):  # type: ignore[no-untyped-def]
    kpis = period_kpis(make_orders(product_example_rows(reactivated=10)), Q1_START, Q1_END)
    w = kpis.window
    assert (w.customers_start, w.customers_new, w.reactivated) == (600, 250, 10)
    assert w.customers_end == 780  # 520 retained + 250 new + 10 reactivated
    # CRR = (E − N − reactivated) / S = (780 − 250 − 10) / 600 = 520 / 600
    assert w.crr == pytest.approx(520 / 600 * 100)


def test_repeat_based_variant(make_orders, product_example_rows):  # type: ignore[no-untyped-def]
    kpis = period_kpis(
        make_orders(product_example_rows(reactivated=10)), Q1_START, Q1_END, definition="repeat"
    )
    r = kpis.repeat
    assert r.customers_start == 600
    assert r.retained == 300  # of S, only 300 bought again inside Q1
    assert r.lost == 300
    assert r.customers_end == 560  # 300 + 250 new + 10 reactivated
    assert r.crr == pytest.approx(50.0)
    assert kpis.crr == r.crr  # the chosen definition is the repeat one
    assert kpis.to_dict()["retained"] == 300
    assert kpis.to_dict()["activity_window"]["retained"] == 520


# A small month with every kind of customer; W = 365 days.
# Period [2024-01-01, 2024-02-01): at start the window is [2023-01-01, 2024-01-01),
# at end it is [2023-02-01, 2024-02-01).
SMALL = [
    ("a", "2023-12-10", "10"),  # a: in S; buys twice in January; active at end
    ("a", "2024-01-05", "20"),
    ("a", "2024-01-20", "30"),
    ("b", "2024-01-10", "40"),  # b: new
    ("c", "2023-05-01", "50"),  # c: in S, no January purchase, still active at end
    ("c", "2024-01-25", "-8"),  # c: standalone return document (revenue −8)
    ("d", "2022-12-01", "5"),  # d: lapsed at start (2022-12-01 < 2023-01-01) …
    ("d", "2024-01-15", "15", "5", "partially_refunded"),  # … reactivated, net 10
    ("e", "2021-01-01", "25"),  # e: lapsed long ago, lifespan 365 + 365 days
    ("e", "2022-01-01", "25"),
    ("f", "2023-01-15", "12"),  # f: in S but not active at end (before 2023-02-01): lost
    ("g", "2024-01-12", "99", "0", "cancelled"),  # g: cancelled, not a customer
]


def test_small_period_by_hand(make_orders):  # type: ignore[no-untyped-def]
    kpis = period_kpis(make_orders(SMALL), date(2024, 1, 1), date(2024, 2, 1))
    w = kpis.window
    # S = {a, c, f}; N = {b}; E = {a, b, c, d}; retained = {a, c}; lost = {f};
    # reactivated = {d}; E − N − reactivated = 4 − 1 − 1 = 2 = retained.
    assert (w.customers_start, w.customers_new, w.customers_end) == (3, 1, 4)
    assert (w.retained, w.lost, w.reactivated) == (2, 1, 1)
    assert w.crr == pytest.approx(200 / 3)  # 2 / 3 × 100
    assert w.churn_rate == pytest.approx(100 / 3)
    # Repeat-based: of S only a bought in January → retained 1, lost 2, E = 1 + 1 + 1.
    r = kpis.repeat
    assert (r.retained, r.lost, r.customers_end) == (1, 2, 3)
    # Purchases: a ×2, b, d → 4 orders by 3 customers, 1 of them (a) bought twice.
    assert (kpis.orders, kpis.unique_customers, kpis.repeat_buyers) == (4, 3, 1)
    assert kpis.repeat_purchase_rate == pytest.approx(100 / 3)
    assert kpis.revenue == Decimal("92.00")  # 20 + 30 + 40 + 10 − 8
    assert kpis.aov == pytest.approx(23.0)  # 92 / 4
    assert kpis.purchase_frequency == pytest.approx(4 / 3)


def test_to_dict_is_json_safe_and_nests_the_other_definition(make_orders):  # type: ignore[no-untyped-def]
    kpis = period_kpis(make_orders(SMALL), date(2024, 1, 1), date(2024, 2, 1))
    data = json.loads(json.dumps(kpis.to_dict()))
    for key in (
        "customers_start",
        "customers_new",
        "customers_end",
        "retained",
        "lost",
        "crr",
        "churn_rate",
        "repeat_purchase_rate",
        "aov",
        "purchase_frequency",
    ):
        assert key in data
    assert data["definition"] == "activity_window"
    assert data["retained"] == 2
    assert data["repeat"]["retained"] == 1
    assert data["revenue"] == "92.00"
    assert data["start"] == "2024-01-01"
    assert "historic_cltv" not in data  # a lifetime figure, not a period one


def test_empty_period_gives_none_rates(make_orders):  # type: ignore[no-untyped-def]
    kpis = period_kpis(make_orders(SMALL), date(2030, 1, 1), date(2030, 2, 1))
    assert kpis.window.customers_start == 0
    assert kpis.window.crr is None
    assert kpis.aov is None
    assert kpis.repeat_purchase_rate is None
    assert kpis.revenue == 0


def test_bad_arguments_are_rejected(make_orders):  # type: ignore[no-untyped-def]
    orders = make_orders(SMALL)
    with pytest.raises(AnalysisArgumentError):
        period_kpis(orders, date(2024, 2, 1), date(2024, 2, 1))
    with pytest.raises(AnalysisArgumentError):
        period_kpis(orders, date(2024, 1, 1), date(2024, 2, 1), definition="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="activity_window_days"):
        period_kpis(orders, date(2024, 1, 1), date(2024, 2, 1), activity_window_days=0)


def test_several_overlapping_periods_in_one_query_are_each_periods_kpis(make_orders):  # type: ignore[no-untyped-def]
    from regulars.analytics.kpis import period_kpis_many

    orders = make_orders(SMALL)
    end = date(2024, 2, 1)
    december = (date(2023, 12, 1), date(2024, 1, 1))
    bounds = [(date(2024, 1, 25), end), (date(2024, 1, 1), end), december]
    many = period_kpis_many(orders, bounds)
    assert many == [period_kpis(orders, start, stop) for start, stop in bounds]
    with pytest.raises(AnalysisArgumentError, match="own start"):
        period_kpis_many(orders, [(date(2024, 1, 1), end), (date(2024, 1, 1), date(2024, 3, 1))])
