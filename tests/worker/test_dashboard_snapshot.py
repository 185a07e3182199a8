"""The dashboard snapshot (:mod:`regulars.scoring.dashboard`): computed by the scores
refresh with the report's analytics, so its numbers are the report's — checked by hand on
the five customers of ``test_scoring`` and against :func:`regulars.report.build.
compute_report` on the same store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, func, select

from regulars.report.build import compute_report
from regulars.scoring.at_risk import risk_summary
from regulars.scoring.dashboard import DASHBOARD_DAYS, KEEP_SNAPSHOTS, write_snapshot
from regulars.scoring.refresh import refresh_scores
from regulars.shop import Shop
from regulars.store.session import session_scope
from regulars.store.tables import DashboardSnapshot

from .test_scoring import AS_OF, BERLIN, NOW, ORDERS, _store


def _latest(engine: Engine) -> dict[str, Any]:
    with session_scope(engine) as session:
        row = session.scalars(
            select(DashboardSnapshot).order_by(DashboardSnapshot.computed_at.desc()).limit(1)
        ).one()
        assert (row.computed_at, row.as_of) == (NOW, AS_OF)
        return row.document


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    """Arrow rows as the snapshot writes them: dates and Decimals as text."""
    out = []
    for row in table.to_pylist():
        out.append(
            {
                k: v.isoformat() if isinstance(v, date) else str(v) if isinstance(v, Decimal) else v
                for k, v in row.items()
            }
        )
    return out


def test_the_snapshot_holds_the_hand_checked_numbers(store_engine: Engine) -> None:
    _store(store_engine, ORDERS)
    refresh_scores(store_engine, settings=BERLIN, now=NOW)
    doc = _latest(store_engine)
    # F's only order is on 1 January in Berlin: the periods end with 31 December.
    assert doc["end"] == "2026-01-01"
    assert sorted(doc["periods"]) == sorted(str(d) for d in DASHBOARD_DAYS)
    month = doc["periods"]["30"]
    current, previous = month["current"], month["previous"]
    assert (current["start"], previous["start"]) == ("2025-12-02", "2025-11-02")
    # 2 Dec – 31 Dec: B 15.00 (20 Dec) and C 50.00 (28 Dec; its cancelled order does not
    # count); A's 1 December order is the day before. C is the only new customer.
    assert (current["orders"], current["unique_customers"], current["revenue"]) == (2, 2, "65.00")
    assert current["customers_new"] == 1
    # 2 Nov – 1 Dec: A (1 Nov is before), B 20 Nov, D 25 Nov, A 1 Dec → 3 purchases, 60.00.
    assert (previous["orders"], previous["revenue"]) == (3, "60.00")
    assert month["goal"]["current_crr"] == current["crr"]
    assert doc["customers"] == 5
    assert doc["sizes"] == {
        "segment": {"Potential loyalist": 2, "Can't lose them": 1, "Lost": 1, "Loyal": 1},
        "kind": {"occasional": 2, "one-time": 2, "regular": 1},
        "stage": {"first purchase": 2, "attachment": 1, "loyalty": 1, "repeat purchases": 1},
    }
    grid = {(c["r_score"], c["f_score"]): c["customers"] for c in doc["rfm_grid"]}
    assert sum(grid.values()) == 5
    assert grid[(5, 1)] == 1  # C: the most recent, one purchase
    # Who is at risk, as the dashboard shows it, read off the scores the refresh wrote.
    with session_scope(store_engine) as session:
        assert doc["scores"] == risk_summary(session).to_json()
    assert (doc["scores"]["scored"], doc["scores"]["computed_at"]) == (5, NOW.isoformat())


def test_the_snapshot_is_the_reports_numbers(store_engine: Engine) -> None:
    _store(store_engine, ORDERS)
    refresh_scores(store_engine, settings=BERLIN, now=NOW)
    doc = _latest(store_engine)
    shop = Shop.from_store(store_engine, settings=BERLIN)
    report = compute_report(shop, as_of=AS_OF, period="month", models=False)
    end = date.fromisoformat(doc["end"])
    for days in DASHBOARD_DAYS:
        start = end - timedelta(days=days)
        kpis = shop.kpis(start, end)
        period = doc["periods"][str(days)]
        assert period["current"] == _json(kpis.to_dict())
        assert period["previous"] == _json(shop.kpis(start - (end - start), start).to_dict())
        if kpis.crr is not None:
            assert period["goal"]["target_crr"] == shop.goal(kpis).target_crr
    assert doc["rfm_grid"] == _rows(report.rfm_grid)
    # The report's series ends with its headline month (November): the same months agree.
    series = {r["period_start"]: r for r in _rows(report.series)}
    assert all(series[r["period_start"]] == r for r in doc["trend"] if r["period_start"] in series)
    assert len([r for r in doc["trend"] if r["period_start"] in series]) >= 5
    cohorts = [
        {k: r[k] for k in doc["cohorts"][0]}
        for r in _rows(report.cohorts)
        if r["cohort_start"] >= doc["cohorts"][0]["cohort_start"] and r["period_number"] < 12
    ]
    assert doc["cohorts"] == cohorts
    kinds = report.kinds.to_pydict()
    report_sizes = dict(zip(kinds["kind"], kinds["customers"], strict=True))
    assert doc["sizes"]["kind"] == report_sizes


def _json(values: dict[str, Any]) -> Any:
    import json

    return json.loads(json.dumps(values))


def test_only_the_newest_snapshots_are_kept(store_engine: Engine) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(KEEP_SNAPSHOTS + 3):
        when = start + timedelta(days=n)
        write_snapshot(store_engine, {"n": n}, computed_at=when, as_of=when.date())
    with session_scope(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(DashboardSnapshot)) == KEEP_SNAPSHOTS
        oldest = session.scalar(select(func.min(DashboardSnapshot.computed_at)))
    assert oldest == start + timedelta(days=3)


def test_no_customer_no_snapshot(store_engine: Engine) -> None:
    refresh_scores(store_engine, settings=BERLIN, now=NOW)
    with session_scope(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(DashboardSnapshot)) == 0
