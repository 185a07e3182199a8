"""The dashboard snapshot: what the web app's dashboard and segments page show, computed by
the nightly scores refresh with the report's analytics, so a page reads one small JSON
document instead of the raw orders.

Everything comes from :class:`regulars.shop.Shop` — the functions the offline report
(:mod:`regulars.report.build`) runs — on the orders dated before ``end``, the day after
the shop's latest order (or the refresh's ``as_of`` when that is earlier):

* ``periods``: for each of :data:`DASHBOARD_DAYS`, the KPIs of ``[end − days, end)``
  (:meth:`Shop.kpis`, :class:`~regulars.analytics.kpis.PeriodKPIs` as its ``to_dict``),
  the same KPIs of the ``days`` before it (for the change), and the retention goal of the
  period (:meth:`Shop.goal`: CRR against the settings' target, else the suggested one);
* ``trend`` and ``lifecycle``: the last :data:`TREND_MONTHS` calendar months
  (:meth:`Shop.kpi_series`, :meth:`Shop.lifecycle`; the last month may be partial);
* ``cohorts``: the monthly acquisition cohorts of the last :data:`COHORT_MONTHS` months
  (:meth:`Shop.cohorts`, exact mode), up to that many months after acquisition;
* ``rfm_grid``: customers per recency × frequency cell
  (:func:`regulars.analytics.rfm.rfm_grid`);
* ``sizes``: customers per RFM segment, kind and stage — the scores this refresh writes to
  ``customer_scores``.

Only aggregates: the document holds no customer's data.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, Table, delete, insert, select

from regulars.analytics.periods import period_floor, shift_periods
from regulars.analytics.rfm import rfm_grid
from regulars.engine import table_from_arrow
from regulars.shop import Shop
from regulars.store.tables import DashboardSnapshot

SNAPSHOTS: Table = DashboardSnapshot.__table__  # type: ignore[assignment]

DASHBOARD_DAYS = (7, 30, 90, 365)
"""The period choices of the dashboard, in days ending with the shop's latest day."""
TREND_MONTHS = 12
COHORT_MONTHS = 12
KEEP_SNAPSHOTS = 60
"""Snapshots kept (one per refresh): two months of nightly refreshes."""
SIZE_FIELDS = ("segment", "kind", "stage")
DOCUMENT_VERSION = 1


def _json_value(value: Any) -> Any:
    """A cell as JSON: dates as ISO text, Decimals as text (exact), NaN as null."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]


def _periods(shop: Shop, end: date) -> dict[str, dict[str, Any]]:
    """For each of :data:`DASHBOARD_DAYS`: the KPIs of the days ending with ``end``, of as
    many days before them, and the period's goal (two queries for all of them)."""
    current = shop.kpis_many([(end - timedelta(days=d), end) for d in DASHBOARD_DAYS])
    previous = shop.kpis_many(
        [(end - timedelta(days=2 * d), end - timedelta(days=d)) for d in DASHBOARD_DAYS]
    )
    periods = {}
    for days, now, before in zip(DASHBOARD_DAYS, current, previous, strict=True):
        goal = shop.goal(now) if now.crr is not None else None
        periods[str(days)] = {
            "current": _clean(now.to_dict()),
            "previous": _clean(before.to_dict()),
            "goal": None if goal is None else _clean(dataclasses.asdict(goal)),
        }
    return periods


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """A nested dict as JSON accepts it (PostgreSQL's JSONB refuses NaN)."""
    return {k: _clean(v) if isinstance(v, dict) else _json_value(v) for k, v in values.items()}


def _sizes(labels: pa.Table) -> dict[str, dict[str, int]]:
    """Customers per value of each of :data:`SIZE_FIELDS`, largest first."""
    sizes: dict[str, dict[str, int]] = {}
    for name in SIZE_FIELDS:
        counted = labels.group_by(name).aggregate([(name, "count")]).to_pylist()
        pairs = [(row[name], int(row[f"{name}_count"])) for row in counted if row[name]]
        sizes[name] = dict(sorted(pairs, key=lambda p: (-p[1], p[0])))
    return sizes


def dashboard_end(shop: Shop, as_of: date) -> date:
    """The day after the shop's latest order, or ``as_of`` when that is earlier."""
    return min(as_of, shop.default_as_of())


def compute_dashboard(shop: Shop, *, as_of: date, labels: pa.Table) -> dict[str, Any]:
    """The snapshot document (module docstring) of ``shop`` as of ``as_of``.

    ``labels`` is the refresh's customer table: ``customer_id``, ``segment``, ``kind``,
    ``stage``, ``r_score``, ``f_score`` and ``revenue`` of every customer scored.
    """
    end = dashboard_end(shop, as_of)
    dated = shop.orders.ordered_at.date()
    known = dataclasses.replace(shop, orders=shop.orders.filter(dated < end))
    first = known.date_range()[0]
    last_month = period_floor(end - timedelta(days=1), "month")
    trend_start = max(shift_periods(last_month, "month", 1 - TREND_MONTHS), first)
    cohort_start = shift_periods(last_month, "month", 1 - COHORT_MONTHS)
    cohorts = known.cohorts("month", "exact", end)
    cohorts = cohorts.filter(
        (cohorts.cohort_start >= cohort_start) & (cohorts.period_number < COHORT_MONTHS)
    ).select("cohort_start", "period_number", "cohort_size", "customers", "customer_share")
    grid = rfm_grid(table_from_arrow(shop.con, labels.select(["r_score", "f_score", "revenue"])))
    return {
        "version": DOCUMENT_VERSION,
        "as_of": as_of.isoformat(),
        "end": end.isoformat(),
        "first_order": first.isoformat(),
        "customers": labels.num_rows,
        "periods": _periods(known, end),
        "trend": _rows(known.kpi_series(trend_start, end, "month").to_pyarrow()),
        "lifecycle": _rows(known.lifecycle(trend_start, end, "month").to_pyarrow()),
        "cohorts": _rows(cohorts.order_by(["cohort_start", "period_number"]).to_pyarrow()),
        "rfm_grid": _rows(grid.to_pyarrow()),
        "sizes": _sizes(labels),
    }


def write_snapshot(
    engine: Engine, document: dict[str, Any], *, computed_at: datetime, as_of: date
) -> None:
    """Store ``document`` as the newest snapshot and keep only the :data:`KEEP_SNAPSHOTS`
    newest (the segments page compares the newest with the one before)."""
    with engine.begin() as conn:
        row = {"computed_at": computed_at, "as_of": as_of, "document": document}
        conn.execute(insert(SNAPSHOTS).values(row))
        kept = (
            select(DashboardSnapshot.id)
            .order_by(DashboardSnapshot.computed_at.desc(), DashboardSnapshot.id.desc())
            .limit(KEEP_SNAPSHOTS)
        )
        conn.execute(delete(SNAPSHOTS).where(DashboardSnapshot.id.not_in(kept.scalar_subquery())))
