"""RFM scores and segments by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from regulars.analytics import SEGMENT_GRID, SEGMENTS, rfm_scores
from regulars.analytics.rfm import segment_of

AS_OF = date(2024, 7, 1)


def _purchases(customer: str, last_day: str, count: int, each: int) -> list[tuple[object, ...]]:
    """``count`` purchases of ``each``; the last on ``last_day``, the others in 2023."""
    earlier = [(customer, f"2023-0{i + 1}-01", str(each)) for i in range(count - 1)]
    return [*earlier, (customer, last_day, str(each))]


def test_five_distinct_customers_get_one_quintile_each(make_orders):  # type: ignore[no-untyped-def]
    rows = [
        *_purchases("v", "2024-06-30", 5, 100),  # recency 1,   5 orders, 500
        *_purchases("w", "2024-06-01", 4, 100),  # recency 30,  4 orders, 400
        *_purchases("x", "2024-05-01", 3, 100),  # recency 61,  3 orders, 300
        *_purchases("y", "2024-03-01", 2, 100),  # recency 122, 2 orders, 200
        *_purchases("z", "2024-01-01", 1, 100),  # recency 182, 1 order,  100
    ]
    result = {
        r["customer_id"]: r
        for r in rfm_scores(make_orders(rows), as_of=AS_OF).to_pyarrow().to_pylist()
    }
    assert result["v"]["recency_days"] == 1
    assert result["z"]["recency_days"] == 182
    assert [result[c]["frequency"] for c in "vwxyz"] == [5, 4, 3, 2, 1]
    assert [int(result[c]["monetary"]) for c in "vwxyz"] == [500, 400, 300, 200, 100]
    # 5 customers → one per quintile; recency reversed (most recent = 5).
    assert [result[c]["rfm_cell"] for c in "vwxyz"] == ["555", "444", "333", "222", "111"]
    # Segments from the R × FM grid: (5,5) Champions, (4,4) Loyal, (3,3) Need attention,
    # (2,2) Hibernating, (1,1) Lost.
    assert [result[c]["segment"] for c in "vwxyz"] == [
        "Champions",
        "Loyal",
        "Need attention",
        "Hibernating",
        "Lost",
    ]


def test_ties_share_the_lowest_score_of_their_group(make_orders):  # type: ignore[no-untyped-def]
    # Frequencies sorted: 1,1,1,1,1,1,2,2,3,4 → ntile(5) positions 1–2 → 1, 3–4 → 2, …
    # The frequency-1 group spans positions 1–6 → all get 1; frequency 2 sits at 7–8 → 4;
    # 3 (position 9) and 4 (position 10) → 5.
    frequencies = {"c0": 1, "c1": 1, "c2": 1, "c3": 1, "c4": 1, "c5": 1, "c6": 2, "c7": 2}
    frequencies |= {"c8": 3, "c9": 4}
    rows = [
        (customer, f"2024-0{i + 1}-10", "10")
        for customer, n in frequencies.items()
        for i in range(n)
    ]
    result = rfm_scores(make_orders(rows), as_of=AS_OF).to_pyarrow().to_pylist()
    f_scores = {r["customer_id"]: r["f_score"] for r in result}
    assert f_scores == {
        **{f"c{i}": 1 for i in range(6)},
        "c6": 4,
        "c7": 4,
        "c8": 5,
        "c9": 5,
    }
    # Customers with the same last purchase day share one recency score.
    by_recency: dict[int, set[int]] = {}
    for r in result:
        by_recency.setdefault(r["recency_days"], set()).add(r["r_score"])
    assert all(len(scores) == 1 for scores in by_recency.values())


def test_segment_catalogue_and_grid() -> None:
    assert list(SEGMENTS) == [
        "Champions",
        "Loyal",
        "Potential loyalist",
        "New",
        "Promising",
        "Need attention",
        "About to sleep",
        "At risk",
        "Can't lose them",
        "Hibernating",
        "Lost",
    ]
    assert all(info.description and info.action for info in SEGMENTS.values())
    used = {name for row in SEGMENT_GRID.values() for name in row}
    assert used == set(SEGMENTS)  # every cell is a known segment; every segment is used
    assert segment_of(5, 1) == "New"
    assert segment_of(4, 1) == "Promising"
    assert segment_of(1, 5) == "Can't lose them"
    assert segment_of(2, 3) == "At risk"


def test_documented_grid_matches_the_code() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8")
    documented = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in {"1", "2", "3", "4", "5"}:
            documented[int(cells[0])] = tuple(cells[1:])
    assert documented == dict(SEGMENT_GRID)
