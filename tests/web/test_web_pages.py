"""The pages on a small shop: the dashboard's numbers, the customer search, filters and
CSV export, the Customer 360 timeline, API keys; bad input shows field errors and keeps
what was typed."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from web_helpers import LATEST, csrf_of

from regulars.analytics.rfm import SEGMENTS
from regulars.scoring.dashboard import write_snapshot
from regulars.store.session import session_scope
from regulars.store.tables import (
    ApiKey,
    AuditEntry,
    Customer,
    CustomerScore,
    DashboardSnapshot,
    Job,
)
from regulars.web import kpis


def test_scores_and_who_to_call_by_hand(store_engine: Engine, shop: None) -> None:
    with session_scope(store_engine) as session:
        scores = kpis.score_summary(session)
        at_risk = kpis.at_risk_customers(session, scores.threshold)
    assert scores.scored == 3
    # base rate b = mean risk (0.05 + 0.8 + 0.68) / 3 = 0.51; twice its odds: 2b / (1 + b)
    assert scores.threshold == pytest.approx(1.02 / 1.51, abs=1e-9)
    assert scores.at_risk == 2
    assert scores.value_at_risk == Decimal("82.20")  # 0.8 × 90 + 0.68 × 15
    assert [r["customer_id"] for r in at_risk] == ["c2", "c4"]  # the most value at risk first


def test_lapsed_customers_are_not_on_the_call_list(store_engine: Engine, shop: None) -> None:
    """A customer past the activity window is a win-back, not a save (as in the report)."""
    with session_scope(store_engine) as session:
        session.execute(
            update(CustomerScore).where(CustomerScore.customer_id == "c2").values(active=False)
        )
    with session_scope(store_engine) as session:
        scores = kpis.score_summary(session)
        at_risk = kpis.at_risk_customers(session, scores.threshold)
    assert (scores.at_risk, scores.value_at_risk) == (1, Decimal("10.20"))
    assert [r["customer_id"] for r in at_risk] == ["c4"]


def test_the_dashboard_shows_tiles_with_definitions_and_who_to_call(
    login: Callable[[str], TestClient], snapshot: None
) -> None:
    page = login("viewer").get("/?days=30")
    assert page.status_code == 200
    assert "Net revenue" in page.text
    # 1–30 November: 30 + (20 − 5) + 10 − 4 (a return document); the cancelled order
    # counts for nothing
    assert "51.00" in page.text
    assert "minus refunds" not in page.text
    assert "net of refunds" in page.text
    assert 'href="/customers/c2"' in page.text
    assert "Boris Petrov" in page.text
    for section in ("Retention goal", "Trend by month", "Lifecycle", "Cohorts", "RFM grid"):
        assert section in page.text
    assert "Compute now" not in page.text
    assert "Refresh now" not in page.text
    assert login("viewer").get("/?days=99999").status_code == 200  # an unknown period: 30


def test_a_period_switch_shows_that_periods_numbers(
    login: Callable[[str], TestClient], snapshot: None
) -> None:
    client = login("marketer")
    # 24–30 November: c2 20 − 5 and c4 10 − 4; c1's order of the 20th is before it
    week = client.get("/?days=7").text
    assert "21.00" in _tiles(week)
    assert "51.00" not in _tiles(week)  # (November's 51.00 is in the monthly trend)
    assert '<option value="7" selected>' in week
    assert "51.00" in _tiles(client.get("/?days=30").text)


def _tiles(page: str) -> str:
    """The KPI tiles of a dashboard page."""
    return page.split('<ul class="tiles">', 1)[1].split("</ul>", 1)[0]


def test_an_empty_store_says_what_to_do(login: Callable[[str], TestClient]) -> None:
    page = login("owner").get("/")
    assert page.status_code == 200
    assert "Not computed yet" in page.text
    assert "regulars scores refresh" in page.text
    assert 'action="/dashboard/refresh"' in page.text  # the owner may queue it
    assert "No scores yet" in page.text
    assert 'action="/dashboard/refresh"' not in login("agent").get("/").text
    segments = login("viewer").get("/segments")
    assert segments.status_code == 200
    assert "Not computed yet" in segments.text


def test_the_refresh_button_queues_the_job_once_and_is_audited(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("marketer")
    token = csrf_of(client.get("/").text)
    answer = client.post("/dashboard/refresh", data={"csrf_token": token})
    assert (answer.status_code, answer.headers["location"]) == (303, "/?queued=yes")
    assert "Refresh queued" in client.get(answer.headers["location"]).text
    again = client.post("/dashboard/refresh", data={"csrf_token": token})
    assert again.headers["location"] == "/?queued=waiting"  # one is waiting already
    assert client.post("/dashboard/refresh").status_code == 403  # no CSRF token
    with session_scope(store_engine) as session:
        jobs = session.scalars(select(Job).where(Job.kind == "scores.refresh")).all()
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "scores.refresh.queue")
        ).all()
    assert [(j.state, j.key) for j in jobs] == [("pending", "manual")]
    assert [a.actor for a in audit] == ["user:marketer"]


def test_segments_show_sizes_changes_and_what_to_do(
    login: Callable[[str], TestClient], snapshot: None, store_engine: Engine
) -> None:
    client = login("agent")
    page = client.get("/segments").text
    assert "Changes appear after the next refresh" in page
    assert 'href="/customers?segment=' in page
    assert 'href="/customers?kind=one-time"' in page
    assert 'href="/customers?stage=first%20purchase"' in page
    assert "What to do:" in page
    with session_scope(store_engine) as session:
        latest = session.scalars(select(DashboardSnapshot)).one()
        document = dict(latest.document)
    assert document["sizes"]["segment"]
    for name in document["sizes"]["segment"]:  # each segment with the report's advice
        assert f'href="/customers?segment={quote(name)}"' in page
        assert html.escape(SEGMENTS[name].action) in page
    document["sizes"] = {**document["sizes"], "kind": {"one-time": 1}}
    later = LATEST + timedelta(days=1)
    write_snapshot(store_engine, document, computed_at=later, as_of=later.date())
    changed = client.get("/segments?sort=size").text
    assert "since the refresh before" in changed
    assert client.get("/segments?sort=bogus").status_code == 200


def test_search_by_name_email_phone_or_id(login: Callable[[str], TestClient], shop: None) -> None:
    client = login("agent")
    for query, found in (("anna", "c1"), ("BORIS@", "c2"), ("0004", "c4"), ("c3", "c3")):
        page = client.get("/customers", params={"q": query})
        assert page.status_code == 200
        assert f'href="/customers/{found}"' in page.text, query
        assert page.text.count('href="/customers/c') == 1, query
    nothing = client.get("/customers", params={"q": "nobody at all"})
    assert "No customer matches" in nothing.text


def test_filters_sorting_and_pages(login: Callable[[str], TestClient], shop: None) -> None:
    client = login("marketer")
    risky = client.get("/customers", params={"risk": "0.7"}).text
    assert 'href="/customers/c2"' in risky
    assert 'href="/customers/c4"' not in risky
    at_risk = client.get("/customers", params={"segment": "At Risk", "sort": "newest"}).text
    assert at_risk.index("/customers/c4") < at_risk.index("/customers/c2")
    partial = client.get("/customers", headers={"HX-Request": "true"}).text
    assert "<html" not in partial  # htmx gets the rows only
    assert "/customers/c1" in partial


def test_bad_filters_are_named_and_kept(login: Callable[[str], TestClient], shop: None) -> None:
    page = login("viewer").get("/customers", params={"q": "anna", "risk": "lots"})
    assert page.status_code == 422
    assert "Choose a churn risk from the list." in page.text
    assert 'value="anna"' in page.text
    assert 'aria-invalid="true" aria-describedby="e-risk"' in page.text
    foreign = login("viewer").get("/customers", params={"cursor": "not-a-cursor"})
    assert foreign.status_code == 422


def test_the_csv_export_is_spreadsheet_safe(login: Callable[[str], TestClient], shop: None) -> None:
    answer = login("marketer").get("/customers.csv", params={"segment": "At Risk"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [r["customer_id"] for r in rows] == ["c2", "c4"]
    assert rows[0]["churn_risk"] == "0.8"
    everyone = login("marketer").get("/customers.csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in everyone  # a formula is neutralised, not run


def test_customer_360_is_a_timeline(login: Callable[[str], TestClient], shop: None) -> None:
    page = login("agent").get("/customers/c4")
    assert page.status_code == 200
    assert "Dana Lee" in page.text
    assert "Order o4" in page.text
    assert page.text.index("Order o4") < page.text.index("Order o5")  # newest first
    assert "At Risk" in page.text
    missing = login("agent").get("/customers/nobody")
    assert missing.status_code == 404
    assert "No customer" in missing.text


def test_names_are_escaped(login: Callable[[str], TestClient], store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        session.add(Customer(customer_id="evil", name="<script>alert(1)</script>"))
    page = login("viewer").get("/customers/evil")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)" in page.text


def test_an_api_key_created_shows_its_secret_once_and_is_audited(
    login: Callable[[str], TestClient], store_engine: Engine
) -> None:
    client = login("owner")
    token = csrf_of(client.get("/settings/keys").text)
    created = client.post(
        "/settings/keys", data={"name": "till", "scopes": ["orders:write"], "csrf_token": token}
    )
    assert created.status_code == 200
    assert "shown only this once" in created.text
    secret = created.text.split('id="new-key">')[1].split("<")[0]
    assert secret.startswith("rg_")
    assert secret not in client.get("/settings/keys").text
    with session_scope(store_engine) as session:
        prefix = session.scalars(select(ApiKey.prefix).where(ApiKey.name == "till")).one()
    revoked = client.post(f"/settings/keys/{prefix}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert (
        client.get("/v1/customers", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )
    with session_scope(store_engine) as session:
        entries = session.execute(
            select(AuditEntry.actor, AuditEntry.action).where(AuditEntry.target_type == "api_key")
        ).all()
    assert entries == [("user:owner", "apikey.create"), ("user:owner", "apikey.revoke")]


def test_a_bad_key_form_names_the_fields_and_keeps_what_was_typed(
    login: Callable[[str], TestClient],
) -> None:
    client = login("owner")
    token = csrf_of(client.get("/settings/keys").text)
    answer = client.post("/settings/keys", data={"name": "  ", "csrf_token": token})
    assert answer.status_code == 422
    assert "Give the key a name" in answer.text
    assert "Choose at least one scope" in answer.text
    kept = client.post(
        "/settings/keys", data={"name": "crm", "scopes": ["everything"], "csrf_token": token}
    )
    assert kept.status_code == 422
    assert 'value="crm"' in kept.text
    assert "Choose scopes from the list" in kept.text


def _change(client: TestClient, code: str, **data: str) -> Any:
    token = csrf_of(client.get("/loyalty").text)
    return client.post(f"/loyalty/{code}/state", data={"csrf_token": token, **data})


def test_a_program_paused_resumed_and_ended_through_the_forms(
    login: Callable[[str], TestClient], program: str, store_engine: Engine
) -> None:
    client = login("marketer")
    assert "running" in client.get("/loyalty").text
    assert _change(client, program, action="pause").status_code == 303
    assert "paused" in client.get("/loyalty").text
    assert _change(client, program, action="pause").status_code == 303  # again: no change
    assert _change(client, program, action="resume").status_code == 303
    unconfirmed = _change(client, program, action="end")
    assert unconfirmed.status_code == 422
    assert "end it for good" in unconfirmed.text
    assert "running" in unconfirmed.text  # nothing changed
    assert _change(client, program, action="end", confirm="yes").status_code == 303
    ended = client.get("/loyalty").text
    assert "ended" in ended
    assert 'value="pause"' not in ended  # no more buttons
    again = _change(client, program, action="resume")
    assert again.status_code == 409
    assert "has ended" in again.text
    assert _change(client, "nope", action="pause").status_code == 404
    with session_scope(store_engine) as session:
        entries = session.execute(
            select(AuditEntry.actor, AuditEntry.action).where(
                AuditEntry.target_type == "loyalty_program"
            )
        ).all()
    assert entries == [
        ("user:marketer", "loyalty.program.pause"),
        ("user:marketer", "loyalty.program.resume"),
        ("user:marketer", "loyalty.program.end"),
    ]


def test_an_agent_sees_programs_but_cannot_change_them(
    login: Callable[[str], TestClient], program: str
) -> None:
    client = login("agent")
    page = client.get("/loyalty").text
    assert "Club" in page
    assert 'value="pause"' not in page
    assert _change(client, program, action="pause").status_code == 403
    assert "running" in client.get("/loyalty").text


def test_the_dashboards_link_lists_the_same_customers_at_risk(
    login: Callable[[str], TestClient], shop: None
) -> None:
    client = login("marketer")
    dashboard = client.get("/").text
    assert 'href="/customers?risk=at_risk"' in dashboard
    listed = client.get("/customers", params={"risk": "at_risk"}).text
    assert 'href="/customers/c2"' in listed
    assert 'href="/customers/c4"' in listed
    assert 'href="/customers/c1"' not in listed
