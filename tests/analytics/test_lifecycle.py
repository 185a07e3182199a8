"""Lifecycle (new / returning / resurrected / dormant) by hand."""

from __future__ import annotations

from datetime import date

from regulars.analytics import lifecycle

ROWS = [
    ("a", "2024-01-03", "10"),  # a: new in Jan, returning in Feb and Mar, dormant in Apr
    ("a", "2024-02-02", "4"),
    ("a", "2024-03-01", "20"),
    ("b", "2024-01-20", "5"),  # b: new in Jan, returning in Feb, dormant in Mar
    ("b", "2024-02-15", "7"),
    ("c", "2024-02-01", "3"),  # c: new in Feb, dormant in Mar
    ("d", "2023-11-01", "1"),  # d: bought before the range; resurrected in Mar; dormant Apr
    ("d", "2024-03-05", "1"),
]


def test_monthly_lifecycle_by_hand(make_orders):  # type: ignore[no-untyped-def]
    table = lifecycle(
        make_orders(ROWS), period="month", start=date(2024, 1, 1), end=date(2024, 5, 1)
    )
    rows = [
        (r["period_start"], r["new"], r["returning"], r["resurrected"], r["dormant"], r["active"])
        for r in table.to_pyarrow().to_pylist()
    ]
    assert rows == [
        # Jan: a, b new; nobody bought in Dec, so nobody goes dormant.
        (date(2024, 1, 1), 2, 0, 0, 0, 2),
        # Feb: c new; a, b returning.
        (date(2024, 2, 1), 1, 2, 0, 0, 3),
        # Mar: a returning; d resurrected (last bought Nov); b, c dormant.
        # Check: active(Feb) = 3 = returning 1 + dormant 2.
        (date(2024, 3, 1), 0, 1, 1, 2, 2),
        # Apr: nobody buys; a and d (March buyers) dormant.
        (date(2024, 4, 1), 0, 0, 0, 2, 0),
    ]


def test_weekly_lifecycle_uses_iso_weeks(make_orders):  # type: ignore[no-untyped-def]
    rows = [("x", "2024-01-07", "1"), ("x", "2024-01-08", "1")]  # Sunday, then Monday
    table = lifecycle(
        make_orders(rows), period="week", start=date(2024, 1, 1), end=date(2024, 1, 15)
    )
    result = [(r["new"], r["returning"]) for r in table.to_pyarrow().to_pylist()]
    assert result == [(1, 0), (0, 1)]
