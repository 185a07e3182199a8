"""Web app fixtures: the app (API + pages) on the test store, a user per role, logging in,
and a small shop (customers, orders, scores) to show."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from web_helpers import LATEST, PASSWORD, SECRET, log_in

from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.store.session import session_scope
from regulars.store.tables import USER_ROLES, Customer, CustomerScore, Order
from regulars.web.app import create_app
from regulars.web.users import create_user


@pytest.fixture
def users(store_engine: Engine) -> dict[str, str]:
    """One user per role, named after it, all with :data:`PASSWORD`."""
    with session_scope(store_engine) as session:
        for role in USER_ROLES:
            create_user(session, role, PASSWORD, role, actor="test")
    return {role: role for role in USER_ROLES}


@pytest.fixture
def web(store_engine: Engine, users: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(store_engine, secret=SECRET), follow_redirects=False) as client:
        yield client


@pytest.fixture
def login(web: TestClient) -> Callable[[str], TestClient]:
    def as_role(role: str) -> TestClient:
        web.cookies.clear()
        log_in(web, role)
        return web

    return as_role


@pytest.fixture
def program(store_engine: Engine) -> str:
    """A running points program, ``club``."""
    with session_scope(store_engine) as session:
        create_program(
            session,
            ProgramSpec(
                code="club",
                name="Club",
                type="points",
                config={"earn_per_unit": "1", "point_value": "0.01"},
                starts_at=LATEST - timedelta(days=365),
            ),
        )
    return "club"


@pytest.fixture
def shop(store_engine: Engine) -> None:
    """Four customers with orders in the last 30 days and before, three of them scored."""
    people = [
        ("c1", "Anna Ivanova", "anna@example.com", "+37360000001"),
        ("c2", "Boris Petrov", "boris@example.com", None),
        ("c3", '=HYPERLINK("http://x")', "c3@example.com", None),
        ("c4", "Dana Lee", None, "+37360000004"),
    ]
    orders = [  # (customer, days before LATEST, amount, refunded, status)
        ("c1", 100, "50.00", "0", "completed"),
        ("c1", 10, "30.00", "0", "completed"),
        ("c2", 5, "20.00", "5.00", "partially_refunded"),
        ("c3", 3, "40.00", "0", "cancelled"),
        ("c4", 0, "10.00", "0", "completed"),
        ("c4", 1, "-4.00", "0", "completed"),  # a return document
    ]
    scores = [
        ("c1", "Champions", 0.05, "120.00"),
        ("c2", "At Risk", 0.8, "90.00"),
        ("c4", "At Risk", 0.68, "15.00"),
    ]
    with session_scope(store_engine) as session:
        for cid, name, email, phone in people:
            session.add(Customer(customer_id=cid, name=name, email=email, phone=phone))
        session.flush()
        for n, (cid, days, amount, refunded, status) in enumerate(orders):
            session.add(
                Order(
                    order_id=f"o{n}",
                    customer_id=cid,
                    ordered_at=LATEST - timedelta(days=days),
                    amount=Decimal(amount),
                    refunded_amount=Decimal(refunded),
                    status=status,
                    currency="EUR",
                )
            )
        for cid, segment, risk, clv in scores:
            session.add(
                CustomerScore(
                    customer_id=cid,
                    segment=segment,
                    kind="regular",
                    stage="active",
                    active=True,
                    p_alive=1 - risk,
                    churn_risk=risk,
                    clv_12m=Decimal(clv),
                )
            )


@pytest.fixture
def snapshot(store_engine: Engine, shop: None) -> None:
    """The dashboard snapshot of :func:`shop`, as the scores refresh computes it (without
    rewriting the fixture's hand-made scores)."""
    from regulars.scoring.dashboard import compute_dashboard, write_snapshot
    from regulars.scoring.refresh import compute_scores
    from regulars.shop import Shop

    as_of = LATEST.date() + timedelta(days=1)
    analysed = Shop.from_store(store_engine)
    labels = compute_scores(analysed.orders, as_of=as_of, activity_window_days=365).labels
    assert labels is not None
    document = compute_dashboard(analysed, as_of=as_of, labels=labels)
    write_snapshot(store_engine, document, computed_at=LATEST, as_of=as_of)
