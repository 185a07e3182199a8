"""Customers: search and filters over the API's list service, the CSV export, and the
Customer 360 as a timeline (the API's ``customer_360``)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.api.deps import SessionDep
from regulars.api.problems import ApiProblemError
from regulars.api.schemas.customers import CustomerOut, CustomerSummary
from regulars.api.services.customer360 import customer_360
from regulars.api.services.customers import list_customers
from regulars.store.tables import CustomerScore, User
from regulars.web.deps import require
from regulars.web.i18n import N_
from regulars.web.render import render
from regulars.web.roles import Permission

router = APIRouter()

PAGE_SIZE = 25
EXPORT_PAGE = 1_000
EXPORT_LIMIT = 100_000
"""Most rows one CSV export holds (filter further for more)."""
RISK_LEVELS = {
    "at_risk": "At risk: the customers to call",
    "0.5": "50% or more",
    "0.7": "70% or more",
    "0.9": "90% or more",
}
AT_RISK = "at_risk"
"""The churn-risk choice that keeps the dashboard's customers at risk."""
SORTS = {"oldest": "Oldest first", "newest": "Newest first"}
Text = Annotated[str, Query(max_length=255)]


@dataclass
class Filters:
    """The list's filters as typed, and the errors of those that are not valid."""

    q: str = ""
    segment: str = ""
    kind: str = ""
    stage: str = ""
    risk: str = ""
    sort: str = "oldest"

    def errors(self) -> dict[str, str]:
        found = {}
        if self.risk and self.risk not in RISK_LEVELS:
            found["risk"] = "Choose a churn risk from the list."
        if self.sort not in SORTS:
            found["sort"] = "Choose an order from the list."
        return found

    def query(self, **extra: str) -> str:
        values = {**self.__dict__, **extra}
        return urlencode({k: v for k, v in values.items() if v})

    def service_args(self) -> dict[str, Any]:
        return {
            "q": self.q.strip() or None,
            "segment": self.segment or None,
            "kind": self.kind or None,
            "stage": self.stage or None,
            "min_churn_risk": (
                float(self.risk) if self.risk in RISK_LEVELS and self.risk != AT_RISK else None
            ),
            "at_risk": self.risk == AT_RISK,
            "newest_first": self.sort == "newest",
        }


def _filters(
    q: Text = "",
    segment: Text = "",
    kind: Text = "",
    stage: Text = "",
    risk: Text = "",
    sort: Text = "oldest",
) -> Filters:
    return Filters(q, segment, kind, stage, risk, sort)


FiltersDep = Annotated[Filters, Depends(_filters)]


def _choices(session: Session) -> dict[str, list[tuple[str, str]]]:
    """The segments, kinds and stages the last scores refresh wrote, for the filters."""
    choices = {}
    for name, column in (
        ("segment", CustomerScore.segment),
        ("kind", CustomerScore.kind),
        ("stage", CustomerScore.stage),
    ):
        values = session.scalars(select(column).where(column.is_not(None)).distinct())
        choices[name] = [(v, v) for v in sorted(v for v in values if v)]
    return choices


def _scores(session: Session, items: list[CustomerSummary]) -> dict[str, CustomerScore]:
    ids = [c.customer_id for c in items]
    rows = session.scalars(select(CustomerScore).where(CustomerScore.customer_id.in_(ids)))
    return {row.customer_id: row for row in rows}


@router.get("/customers", response_class=HTMLResponse)
def customers_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require(Permission.CUSTOMERS))],
    filters: FiltersDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    errors = filters.errors()
    context: dict[str, Any] = {
        "filters": filters,
        "errors": errors,
        "choices": _choices(session),
        "risk_levels": RISK_LEVELS,
        "sorts": SORTS,
        "items": [],
        "scores": {},
        "next_cursor": None,
        "cursor": cursor,
    }
    status = 200
    if errors:
        status = 422
    else:
        try:
            page = list_customers(session, limit=PAGE_SIZE, cursor=cursor, **filters.service_args())
        except ApiProblemError as exc:  # a cursor from elsewhere
            context["errors"] = {"cursor": str(exc.detail)}
            status = 422
        else:
            context.update(
                items=page.items, scores=_scores(session, page.items), next_cursor=page.next_cursor
            )
    template = "customers_rows.html" if request.headers.get("HX-Request") else "customers.html"
    return render(request, template, context, user=user, status_code=status)


EXPORT_COLUMNS = (
    "customer_id",
    "name",
    "email",
    "phone",
    "segment",
    "kind",
    "stage",
    "churn_risk",
    "clv_12m",
    "created_at",
)


@router.get("/customers.csv")
def customers_csv(
    session: SessionDep,
    user: Annotated[User, Depends(require(Permission.CUSTOMERS_EXPORT))],
    filters: FiltersDep,
) -> Response:
    """The filtered list as a CSV a spreadsheet opens safely (formulas neutralised)."""
    import pyarrow as pa

    from regulars.data.spreadsheet import write_spreadsheet_csv

    if filters.errors():
        return Response("invalid filters: " + "; ".join(filters.errors().values()), 422)
    rows: list[dict[str, Any]] = []
    cursor = None
    while len(rows) < EXPORT_LIMIT:
        page = list_customers(session, limit=EXPORT_PAGE, cursor=cursor, **filters.service_args())
        scores = _scores(session, page.items)
        rows.extend(_export_row(c, scores.get(c.customer_id)) for c in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    table = pa.Table.from_pylist(rows[:EXPORT_LIMIT], schema=_export_schema(pa))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "customers.csv"
        write_spreadsheet_csv(table, path)
        content = path.read_bytes()
    stamp = datetime.now().strftime("%Y%m%d")
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="customers-{stamp}.csv"'},
    )


def _export_schema(pa: Any) -> Any:
    text = {"customer_id", "name", "email", "phone", "segment", "kind", "stage"}
    return pa.schema(
        [
            (
                c,
                pa.string()
                if c in text
                else pa.float64()
                if c == "churn_risk"
                else pa.decimal128(18, 2)
                if c == "clv_12m"
                else pa.timestamp("us", tz="UTC"),
            )
            for c in EXPORT_COLUMNS
        ]
    )


def _export_row(c: CustomerSummary, score: CustomerScore | None) -> dict[str, Any]:
    return {
        "customer_id": c.customer_id,
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "segment": score.segment if score else None,
        "kind": score.kind if score else None,
        "stage": score.stage if score else None,
        "churn_risk": score.churn_risk if score else None,
        "clv_12m": score.clv_12m if score else None,
        "created_at": c.created_at,
    }


@dataclass(frozen=True)
class Moment:
    """One line of the Customer 360 timeline."""

    at: datetime
    kind: str
    title: str
    detail: str = ""
    amount: Decimal | None = None
    currency: str | None = None


def timeline(customer: CustomerOut) -> list[Moment]:
    """Orders, returns, events and consent changes, newest first."""
    moments = [
        Moment(
            o.ordered_at,
            "order",
            f"Order {o.order_id}",
            o.status + (f", refunded {o.refunded_amount}" if o.refunded_amount else ""),
            o.amount,
            o.currency,
        )
        for o in customer.recent_orders
    ]
    moments += [
        Moment(
            r.returned_at,
            "return",
            f"Return {r.return_id} of order {r.order_id}",
            r.reason or "",
            r.amount,
        )
        for r in customer.returns
    ]
    moments += [
        Moment(e.occurred_at, "event", e.kind.replace("_", " ").capitalize(), e.sku or "")
        for e in customer.recent_events
    ]
    moments += [
        Moment(
            c.updated_at,
            "consent",
            f"{'Granted' if c.granted else 'Withdrew'} {c.channel} · {c.topic}",
            c.source or "",
        )
        for c in customer.consents
    ]
    return sorted(moments, key=lambda m: m.at, reverse=True)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(require(Permission.CUSTOMERS))],
    customer_id: str,
) -> HTMLResponse:
    try:
        customer = customer_360(session, customer_id)
    except ApiProblemError as exc:
        if exc.status != 404:
            raise
        context = {"title": N_("No such customer"), "message": f"No customer '{customer_id}'."}
        return render(request, "error.html", context, user=user, status_code=404)
    return render(
        request, "customer.html", {"customer": customer, "timeline": timeline(customer)}, user=user
    )
