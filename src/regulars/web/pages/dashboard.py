"""The dashboard: the retention report for a chosen period, read from the snapshot the
nightly scores refresh computed (:mod:`regulars.scoring.dashboard`), and who to call.

The numbers are the report's (:class:`regulars.analytics.kpis.PeriodKPIs`, the retention
goal, KPI series, lifecycle, cohorts, RFM grid): this module only picks the period and
lays them out; it computes no KPI itself.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from regulars.analytics.rfm import SEGMENT_GRID
from regulars.api.deps import SessionDep
from regulars.clock import utcnow
from regulars.scoring.contribution import queue_refresh
from regulars.store.tables import User
from regulars.web import kpis
from regulars.web.deps import CsrfDep, require
from regulars.web.i18n import N_
from regulars.web.render import render
from regulars.web.roles import Permission

router = APIRouter()

DEFAULT_DAYS = 30
PERIODS = {
    7: N_("Last 7 days"),
    30: N_("Last 30 days"),
    90: N_("Last 90 days"),
    365: N_("Last 12 months"),
}

# (key in PeriodKPIs.to_dict(), label, format, definition); "pct" values are percent.
TILES: tuple[tuple[str, str, str, str], ...] = (
    (
        "revenue",
        N_("Net revenue"),
        "money",
        N_("Every purchase net of refunds, plus return documents (negative)."),
    ),
    (
        "orders",
        N_("Purchases"),
        "count",
        N_("Orders that count as purchases: not cancelled or refunded, net amount above zero."),
    ),
    (
        "unique_customers",
        N_("Buyers"),
        "count",
        N_("Customers with at least one purchase in the period."),
    ),
    (
        "customers_new",
        N_("New customers"),
        "count",
        N_("Customers whose first purchase ever is in the period."),
    ),
    (
        "crr",
        N_("Retention rate (CRR)"),
        "pct",
        N_("Share of the customers active at the start who are still active at the end."),
    ),
    (
        "churn_rate",
        N_("Churn rate"),
        "pct",
        N_("100 % − CRR: the customers active at the start who lapsed."),
    ),
    ("aov", N_("Average order value"), "money", N_("Net revenue of purchases ÷ purchases.")),
    (
        "repeat_purchase_rate",
        N_("Repeat purchase rate"),
        "pct",
        N_("Share of the period's buyers who bought more than once in it."),
    ),
)
LOWER_IS_BETTER = frozenset({"churn_rate"})


def _change(now: Any, before: Any, kind: str) -> float | None:
    """Relative change for amounts and counts, points for percentages; None without a base."""
    if now is None or before is None:
        return None
    if kind == "pct":
        return float(now) - float(before)
    before_value = float(before)
    return (float(now) - before_value) / before_value if before_value else None


def _tiles(period: dict[str, Any]) -> list[dict[str, Any]]:
    current, previous = period["current"], period["previous"]
    tiles = []
    for key, label, kind, definition in TILES:
        change = _change(current[key], previous[key], kind)
        good = None if not change else (change > 0) != (key in LOWER_IS_BETTER)
        tiles.append(
            {
                "key": key,
                "label": label,
                "kind": kind,
                "value": current[key],
                "change": change,
                "good": good,
                "definition": definition,
            }
        )
    return tiles


def _cohort_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The long cohort rows as a matrix: one row per cohort, one cell per month after."""
    cohorts: dict[str, dict[str, Any]] = {}
    width = 0
    for row in rows:
        cohort = cohorts.setdefault(
            row["cohort_start"], {"start": row["cohort_start"], "size": row["cohort_size"]}
        )
        cohort.setdefault("cells", []).append(row["customer_share"])
        width = max(width, row["period_number"] + 1)
    return {"rows": list(cohorts.values()), "width": width}


def _rfm_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Recency (rows, 5 → 1) × frequency (columns, 1 → 5) counts, with the largest."""
    counts = {(row["r_score"], row["f_score"]): row["customers"] for row in rows}
    grid = [
        {"r": r, "cells": [counts.get((r, f), 0) for f in range(1, 6)]}
        for r in sorted(SEGMENT_GRID, reverse=True)
    ]
    return {"rows": grid, "largest": max(counts.values(), default=0)}


def _context(snapshot: kpis.Snapshot | None, days: int) -> dict[str, Any]:
    if snapshot is None:
        return {"snapshot": None}
    document = snapshot.document
    period = document["periods"][str(days)]
    trend = document["trend"]
    return {
        "snapshot": snapshot,
        "period": period,
        "start": date.fromisoformat(period["current"]["start"]),
        "tiles": _tiles(period),
        "goal": period["goal"],
        "trend": trend,
        "trend_largest": max((float(r["revenue"]) for r in trend), default=0.0),
        "lifecycle": document["lifecycle"],
        "cohorts": _cohort_table(document["cohorts"]),
        "rfm": _rfm_table(document["rfm_grid"]),
        "segments": list(document["sizes"]["segment"].items()),
    }


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require(Permission.DASHBOARD))],
    days: Annotated[int, Query()] = DEFAULT_DAYS,
    queued: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    if days not in PERIODS:
        days = DEFAULT_DAYS
    snapshots = kpis.latest_snapshots(session)
    snapshot = snapshots[0] if snapshots else None
    scores = kpis.score_summary(session, snapshot)
    context: dict[str, Any] = {
        "periods": PERIODS,
        "days": days,
        "queued": queued,
        "scores": scores,
        "at_risk": kpis.at_risk_customers(session, scores.threshold),
        **_context(snapshot, days),
    }
    return render(request, "dashboard.html", context, user=user)


@router.post("/dashboard/refresh", dependencies=[CsrfDep])
def queue_dashboard_refresh(
    session: SessionDep,
    user: Annotated[User, Depends(require(Permission.DASHBOARD_REFRESH))],
) -> RedirectResponse:
    """Queue the scores refresh (which computes the dashboard) for the worker; audited."""
    queued = queue_refresh(session, actor=f"user:{user.username}", now=utcnow())
    return RedirectResponse(f"/?queued={'yes' if queued else 'waiting'}", status_code=303)
