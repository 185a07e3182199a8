"""Customer kinds and the regularity scale by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from regulars.analytics import AnalysisArgumentError, KindConfig, customer_kinds

AS_OF = date(2025, 1, 1)


def _every(customer: str, first: date, gap_days: int, count: int) -> list[tuple[object, ...]]:
    return [(customer, first + timedelta(days=gap_days * i), "10") for i in range(count)]


def _kinds(make_orders, rows, config=None):  # type: ignore[no-untyped-def]
    table = customer_kinds(make_orders(rows), as_of=AS_OF, config=config)
    return {r["customer_id"]: (r["kind"], r["regularity"]) for r in table.to_pyarrow().to_pylist()}


def test_kinds_by_hand(make_orders):  # type: ignore[no-untyped-def]
    rows = [
        ("once", "2024-05-01", "10"),
        ("sameday", "2024-05-01", "10"),  # two orders, one visit day: no gap at all
        ("sameday", "2024-05-01", "10"),
        ("uneven", "2024-01-01", "10"),  # gaps 10 and 30 days
        ("uneven", "2024-01-11", "10"),
        ("uneven", "2024-02-10", "10"),
        *_every("weekly", date(2024, 1, 1), 7, 40),  # 39 equal gaps over 273 days
    ]
    kinds = _kinds(make_orders, rows)
    assert kinds["once"] == ("one-time", 0.0)
    assert kinds["sameday"] == ("occasional", 0.0)
    # uneven: k = 2 gaps, span 40, Σgap² = 100 + 900 = 1000
    #   CV = sqrt(2·1000 − 40²) / 40 = sqrt(400) / 40 = 0.5 → evenness 0.5
    #   evidence = 2 / 4 = 0.5; duration = 40 / 180
    #   regularity = 100 × 0.5 × 0.5 × 40/180 = 5.555…
    assert kinds["uneven"][0] == "occasional"
    assert kinds["uneven"][1] == pytest.approx(100 * 0.5 * 0.5 * 40 / 180)
    # weekly: CV 0, 39 gaps ≥ 4, span 273 ≥ 180 → 100
    assert kinds["weekly"] == ("regular", 100.0)


def test_config_moves_the_threshold(make_orders):  # type: ignore[no-untyped-def]
    # 5 monthly-ish visits: gaps 30, 30, 30, 30 over 120 days → evenness 1, evidence 1,
    # duration 120 / 180 → regularity 66.7: regular by default, occasional at 80.
    rows = _every("m", date(2024, 1, 1), 30, 5)
    assert _kinds(make_orders, rows)["m"] == ("regular", pytest.approx(200 / 3))
    strict = KindConfig(regular_threshold=80)
    assert _kinds(make_orders, rows, strict)["m"][0] == "occasional"
    quick = KindConfig(long_tenure_days=120)
    assert _kinds(make_orders, rows, quick)["m"] == ("regular", 100.0)


def test_only_purchases_before_as_of_count(make_orders):  # type: ignore[no-untyped-def]
    rows = [("late", "2024-12-01", "10"), ("late", "2025-01-01", "10")]  # 2nd on as_of
    assert _kinds(make_orders, rows)["late"] == ("one-time", 0.0)


def test_invalid_config() -> None:
    with pytest.raises(AnalysisArgumentError):
        KindConfig(max_cv=0)
    with pytest.raises(AnalysisArgumentError):
        KindConfig(regular_threshold=120)
