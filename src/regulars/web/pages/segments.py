"""The segments page: the RFM segments, customer kinds and loyalty stages of the last
scores refresh, with their sizes, shares, change since the refresh before, and what to do
about each (the texts of :mod:`regulars.analytics.advice`, shared with the report).

The sizes are those the refresh stored in the dashboard snapshot
(:mod:`regulars.scoring.dashboard`: counted from the scores it wrote to
``customer_scores``), so the page reads two small documents, not every customer's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from regulars.analytics.advice import KIND_ADVICE, SEGMENT_ADVICE, STAGE_ADVICE
from regulars.analytics.rfm import SegmentInfo
from regulars.api.deps import SessionDep
from regulars.store.tables import User
from regulars.web import kpis
from regulars.web.deps import require
from regulars.web.i18n import N_
from regulars.web.render import render
from regulars.web.roles import Permission

router = APIRouter()

# (size key in the snapshot, customers filter, title, explanation, advice)
GROUPS: tuple[tuple[str, str, str, str, Mapping[str, SegmentInfo]], ...] = (
    (
        "segment",
        "segment",
        N_("RFM segments"),
        N_("By how recently, how often and how much each customer bought (quintile scores)."),
        SEGMENT_ADVICE,
    ),
    (
        "kind",
        "kind",
        N_("Customer kinds"),
        N_("One-time, occasional or regular: how steadily each customer buys."),
        KIND_ADVICE,
    ),
    (
        "stage",
        "stage",
        N_("Loyalty stages"),
        N_("How far each customer has come, from the first purchase to loyalty."),
        STAGE_ADVICE,
    ),
)
SORTS = {"order": N_("Best customers first"), "size": N_("Largest first")}


def _rows(
    sizes: dict[str, int],
    before: dict[str, int] | None,
    advice: Mapping[str, SegmentInfo],
    sort: str,
) -> list[dict[str, Any]]:
    """One row per group of the snapshot, in the advice's order (or by size)."""
    total = sum(sizes.values())
    rank = {name: i for i, name in enumerate(advice)}
    names = sorted(sizes, key=lambda n: (rank.get(n, len(rank)), n))
    if sort == "size":
        names.sort(key=lambda n: -sizes[n])
    return [
        {
            "name": name,
            "size": sizes[name],
            "share": sizes[name] / total if total else None,
            "change": None if before is None else sizes[name] - before.get(name, 0),
            "info": advice.get(name),
        }
        for name in names
    ]


def _groups(snapshots: list[kpis.Snapshot], sort: str) -> list[dict[str, Any]]:
    latest = snapshots[0].document["sizes"]
    previous = snapshots[1].document["sizes"] if len(snapshots) > 1 else None
    return [
        {
            "key": key,
            "filter": filter_name,
            "title": title,
            "explanation": explanation,
            "rows": _rows(
                latest.get(key, {}),
                None if previous is None else previous.get(key, {}),
                advice,
                sort,
            ),
        }
        for key, filter_name, title, explanation, advice in GROUPS
    ]


@router.get("/segments", response_class=HTMLResponse)
def segments(
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require(Permission.DASHBOARD))],
    sort: Annotated[str, Query(max_length=16)] = "order",
) -> HTMLResponse:
    if sort not in SORTS:
        sort = "order"
    snapshots = kpis.latest_snapshots(session, count=2)
    context: dict[str, Any] = {
        "sorts": SORTS,
        "sort": sort,
        "snapshot": snapshots[0] if snapshots else None,
        "previous": snapshots[1] if len(snapshots) > 1 else None,
        "groups": _groups(snapshots, sort) if snapshots else [],
    }
    return render(request, "segments.html", context, user=user)
