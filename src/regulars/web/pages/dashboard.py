"""The dashboard: KPIs for a chosen period, what the nightly scores say, who to call."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from regulars.api.deps import SessionDep
from regulars.store.tables import User
from regulars.web import kpis
from regulars.web.deps import require
from regulars.web.i18n import N_
from regulars.web.render import render
from regulars.web.roles import Permission

router = APIRouter()

PERIODS = {
    7: N_("Last 7 days"),
    30: N_("Last 30 days"),
    90: N_("Last 90 days"),
    365: N_("Last 12 months"),
}

TILES: tuple[tuple[str, str, str, str], ...] = (
    # (attribute, label, format, definition)
    (
        "revenue",
        N_("Net revenue"),
        "money",
        N_("Every order not cancelled, minus refunds; returns count against it."),
    ),
    (
        "orders",
        N_("Purchases"),
        "count",
        N_("Orders that count as purchases: not cancelled or refunded, net amount above zero."),
    ),
    ("customers", N_("Buyers"), "count", N_("Customers with at least one purchase in the period.")),
    (
        "new_customers",
        N_("New buyers"),
        "count",
        N_("Buyers whose first purchase ever is in the period."),
    ),
    (
        "returning_customers",
        N_("Returning buyers"),
        "count",
        N_("Buyers who had bought before the period."),
    ),
    ("average_check", N_("Average check"), "money", N_("Net revenue ÷ purchases.")),
)


def _tiles(current: kpis.Kpis, previous: kpis.Kpis) -> list[dict[str, Any]]:
    tiles = []
    for attribute, label, kind, definition in TILES:
        now, before = getattr(current, attribute), getattr(previous, attribute)
        change = None
        if now is not None and before:
            change = float((now - before) / before)
        tiles.append(
            {"label": label, "kind": kind, "value": now, "change": change, "definition": definition}
        )
    return tiles


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require(Permission.DASHBOARD))],
    days: Annotated[int, Query()] = 30,
) -> HTMLResponse:
    if days not in PERIODS:
        days = 30
    period = kpis.default_period(session, days)
    context: dict[str, Any] = {
        "periods": PERIODS,
        "days": days,
        "period": period,
        "tiles": [],
        "scores": kpis.score_summary(session),
        "at_risk": kpis.at_risk_customers(session),
    }
    if period is not None:
        context["tiles"] = _tiles(
            kpis.period_kpis(session, period), kpis.period_kpis(session, period.previous())
        )
    return render(request, "dashboard.html", context, user=user)
