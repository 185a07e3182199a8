"""Customers: search and filters over the API's list service, the CSV export, and the
Customer 360 as a timeline (the API's ``customer_360``)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
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
from regulars.api.services.customers import list_customers, purchase_facts
from regulars.loyalty.program_store.tables import LoyaltyTierState
from regulars.store.tables import CustomerScore, User
from regulars.web import kpis
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
    "at_risk": N_("At risk: the customers to call"),
    "0.5": N_("at least 50%"),
    "0.7": N_("at least 70%"),
    "0.9": N_("at least 90%"),
}
AT_RISK = "at_risk"
"""The churn-risk choice that keeps the dashboard's customers at risk."""
SORTS = {
    "oldest": N_("Oldest first"),
    "newest": N_("Newest first"),
    "name": N_("Name, A to Z"),
    "-name": N_("Name, Z to A"),
    "-last_purchase": N_("Last purchase, latest first"),
    "last_purchase": N_("Last purchase, earliest first"),
    "-clv": N_("CLV, highest first"),
    "clv": N_("CLV, lowest first"),
    "-churn_risk": N_("Churn risk, highest first"),
    "churn_risk": N_("Churn risk, lowest first"),
    "-orders": N_("Orders, most first"),
    "orders": N_("Orders, fewest first"),
}
"""The list's orders: a column (``-``: descending), or when customers were created."""
Text = Annotated[str, Query(max_length=255)]
MAX_MONEY = Decimal(10) ** 12


@dataclass
class Filters:
    """The list's filters as typed, and the errors of those that are not valid."""

    q: str = ""
    segment: str = ""
    kind: str = ""
    stage: str = ""
    risk: str = ""
    tier: str = ""
    clv_min: str = ""
    clv_max: str = ""
    after: str = ""
    before: str = ""
    sort: str = "oldest"

    def errors(self) -> dict[str, str]:
        found = {}
        if self.risk and self.risk not in RISK_LEVELS:
            found["risk"] = N_("Choose a churn risk from the list.")
        for name in ("clv_min", "clv_max"):
            if getattr(self, name).strip() and _amount(getattr(self, name)) is None:
                found[name] = N_("Type an amount, e.g. 100 or 99.50.")
        low, high = _amount(self.clv_min), _amount(self.clv_max)
        if low is not None and high is not None and low > high:
            found["clv_max"] = N_("The maximum is below the minimum.")
        for name in ("after", "before"):
            if getattr(self, name).strip() and _day(getattr(self, name)) is None:
                found[name] = N_("Type a date as YYYY-MM-DD.")
        first, last = _day(self.after), _day(self.before)
        if first is not None and last is not None and first >= last:
            found["before"] = N_("This date must come after the other one.")
        if self.sort not in SORTS:
            found["sort"] = N_("Choose an order from the list.")
        return found

    def column_sort(self, column: str) -> tuple[str, str | None]:
        """The sort a click on ``column``'s heading asks for, and the heading's
        ``aria-sort`` now (None: the list is not in this column's order)."""
        if self.sort == column:
            return f"-{column}", "ascending"
        if self.sort == f"-{column}":
            return column, "descending"
        return (column if column == "name" else f"-{column}"), None

    def query(self, **extra: str) -> str:
        values = {**self.__dict__, **extra}
        return urlencode({k: v for k, v in values.items() if v})

    def service_args(self) -> dict[str, Any]:
        column = self.sort.lstrip("-")
        after, before = _day(self.after), _day(self.before)
        return {
            "q": self.q.strip() or None,
            "segment": self.segment or None,
            "kind": self.kind or None,
            "stage": self.stage or None,
            "min_churn_risk": (
                float(self.risk) if self.risk in RISK_LEVELS and self.risk != AT_RISK else None
            ),
            "at_risk": self.risk == AT_RISK,
            "tier": self.tier or None,
            "min_clv": _amount(self.clv_min),
            "max_clv": _amount(self.clv_max),
            # Whole days in the shop's calendar, as UTC midnights: after is inclusive,
            # before exclusive (the day typed is not included).
            "last_purchase_after": _midnight(after),
            "last_purchase_before": _midnight(before),
            "sort": "created" if column in ("oldest", "newest") else column,
            "newest_first": self.sort == "newest" or self.sort.startswith("-"),
        }


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() and 0 <= value < MAX_MONEY else None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=UTC)


def _filters(
    q: Text = "",
    segment: Text = "",
    kind: Text = "",
    stage: Text = "",
    risk: Text = "",
    tier: Text = "",
    clv_min: Text = "",
    clv_max: Text = "",
    after: Text = "",
    before: Text = "",
    sort: Text = "oldest",
) -> Filters:
    return Filters(q, segment, kind, stage, risk, tier, clv_min, clv_max, after, before, sort)


FiltersDep = Annotated[Filters, Depends(_filters)]


def _choices(session: Session) -> dict[str, list[tuple[str, str]]]:
    """The segments, kinds and stages the last scores refresh wrote, for the filters: the
    dashboard snapshot's sizes (one row read), or the scores themselves when no snapshot
    was stored yet."""
    snapshots = kpis.latest_snapshots(session)
    sizes: dict[str, Any] = snapshots[0].document.get("sizes", {}) if snapshots else {}
    choices = {}
    for name, column in (
        ("segment", CustomerScore.segment),
        ("kind", CustomerScore.kind),
        ("stage", CustomerScore.stage),
    ):
        values = (
            list(sizes[name])
            if name in sizes
            else session.scalars(select(column).where(column.is_not(None)).distinct())
        )
        choices[name] = [(v, v) for v in sorted(v for v in values if v)]
    tiers = session.scalars(
        select(LoyaltyTierState.tier).where(LoyaltyTierState.tier.is_not(None)).distinct()
    )
    choices["tier"] = [(v, v) for v in sorted(v for v in tiers if v)]
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
        "facts": {},
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
            ids = [c.customer_id for c in page.items]
            context.update(
                items=page.items,
                scores=_scores(session, page.items),
                facts=purchase_facts(session, ids),
                next_cursor=page.next_cursor,
            )
    partial = request.headers.get("HX-Request") and not errors
    template = "customers_rows.html" if partial else "customers.html"
    response = render(request, template, context, user=user, status_code=status)
    if request.headers.get("HX-Request") and errors:
        # The fields in error are in the form: the whole page's main replaces the old one.
        response.headers.update(
            {"HX-Retarget": "main", "HX-Reswap": "outerHTML", "HX-Reselect": "main"}
        )
    return response


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
        return Response("invalid filters: " + "; ".join(filters.errors()), 422)
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
