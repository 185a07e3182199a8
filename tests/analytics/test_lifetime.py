"""Historic CLTV against the worked examples of docs/metrics.md."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from regulars.analytics import AnalysisArgumentError, lifetime_value

# docs/metrics.md, "Historic CLTV": as of 2024-02-01 with W = 365 days.
CUSTOMERS = [
    ("a", "2023-12-10", "10"),  # a: active (bought within the window)
    ("a", "2024-01-05", "20"),
    ("b", "2024-01-10", "40"),  # b: active
    ("d", "2022-12-01", "5"),  # d: lapsed once, came back: active again
    ("d", "2024-01-15", "15", "5", "partially_refunded"),
    ("e", "2021-01-01", "25"),  # e: lapsed; life 2021-01-01 → 2022-01-01 + 365 = 730 days
    ("e", "2022-01-01", "25"),
    ("e", "2021-06-01", "40", "40", "refunded"),  # not a purchase
    ("f", "2023-01-15", "12"),  # f: lapsed (before 2023-02-01); one-time buyer: 365 days
    ("g", "2022-03-01", "99", "0", "cancelled"),  # g: never a customer
]
AS_OF = date(2024, 2, 1)


def test_worked_example_by_hand(make_orders):  # type: ignore[no-untyped-def]
    value = lifetime_value(
        make_orders(CUSTOMERS),
        as_of=AS_OF,
        margin=Decimal("0.5"),
        acquisition_cost=Decimal("10"),
    )
    # Lapsed by 2024-02-01: e and f. Orders 2 + 1 = 3, revenue 50 + 12 = 62.00,
    # lifespans 730 + 365 = 1,095 days.
    assert (value.lapsed_customers, value.lapsed_orders) == (2, 3)
    assert value.lapsed_revenue == Decimal("62.00")
    assert value.lifespan_days_total == 1095
    assert value.average_lifespan_days == pytest.approx(547.5)
    assert value.aov == pytest.approx(62 / 3)  # 20.67 per order
    assert value.purchase_frequency == pytest.approx(3 / (1095 / 365.25))  # 1.0007 a year
    # AOV × frequency × lifespan in years = 62 / 2 = 31.00; × 50 % margin = 15.50.
    years = 547.5 / 365.25
    assert value.aov * value.purchase_frequency * years == pytest.approx(31.0)  # type: ignore[operator]
    assert value.historic_cltv == Decimal("15.50")
    assert value.ltv_cac == pytest.approx(1.55)


def test_the_classic_sixty_to_one(make_orders):  # type: ignore[no-untyped-def]
    # A customer acquired for 1,000 buys 20,000 a year for 3 years, then lapses.
    rows = [
        ("old", "2018-01-01", "20000"),
        ("old", "2019-01-01", "20000"),
        ("old", "2020-01-01", "20000"),
        ("now", "2023-03-01", "20000"),  # still active on 2024-01-01: not measured
    ]
    value = lifetime_value(
        make_orders(rows), as_of=date(2024, 1, 1), acquisition_cost=Decimal(1000)
    )
    assert value.lapsed_customers == 1
    assert value.average_lifespan_days == 1095  # 730 + 365 = 3 years
    assert value.historic_cltv == Decimal("60000.00")
    assert value.ltv_cac == pytest.approx(60.0)


def test_none_until_someone_lapses(make_orders):  # type: ignore[no-untyped-def]
    value = lifetime_value(make_orders(CUSTOMERS), as_of=date(2022, 6, 1))
    assert value.lapsed_customers == 0
    assert value.historic_cltv is None
    assert value.average_lifespan_days is None
    assert value.aov is None
    assert value.to_dict()["historic_cltv"] is None


def test_the_window_sets_who_has_lapsed(make_orders):  # type: ignore[no-untyped-def]
    # W = 30 days: lapsed = no purchase in [2024-01-02, 2024-02-01): e and f again (a, b
    # and d bought in January), but their lives end 30 days after the last purchase.
    value = lifetime_value(make_orders(CUSTOMERS), as_of=AS_OF, activity_window_days=30)
    assert value.lapsed_customers == 2
    assert value.lifespan_days_total == (365 + 30) + (0 + 30)


def test_to_dict_is_json_safe(make_orders):  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(lifetime_value(make_orders(CUSTOMERS), as_of=AS_OF).to_dict()))
    assert data["historic_cltv"] == "31.00"
    assert data["lapsed_revenue"] == "62.00"
    assert data["as_of"] == "2024-02-01"
    assert data["ltv_cac"] is None


def test_bad_window_is_refused(make_orders):  # type: ignore[no-untyped-def]
    with pytest.raises(AnalysisArgumentError):
        lifetime_value(make_orders(CUSTOMERS), as_of=AS_OF, activity_window_days=0)
