"""Privacy fixtures: an app on the store engine of tests/conftest.py (SQLite file and, when
REGULARS_TEST_POSTGRES_URL is set, PostgreSQL), API keys, the server secret, and one customer
with data in every customer table next to a bystander whose data must survive an erasure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from privacy_people import ANNA, AT, BOB, OLD_ID, TEST_SECRET
from sqlalchemy import Engine, insert

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.privacy import server_secret
from regulars.store.audit import record
from regulars.store.models import (
    Consent,
    Customer,
    CustomerAlias,
    CustomerScore,
    Event,
    IdempotencyKey,
    Job,
    Order,
    OrderLine,
    OrderReturn,
)
from regulars.store.session import session_scope

Headers = dict[str, str]


@pytest.fixture(autouse=True)
def _secret_for_postgres(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL needs REGULARS_SECRET_KEY; SQLite tests use the file next to the database."""
    if "store_engine" not in request.fixturenames:
        return
    engine: Engine = request.getfixturevalue("store_engine")
    if engine.dialect.name == "postgresql":
        monkeypatch.setenv("REGULARS_SECRET_KEY", TEST_SECRET)
    else:
        monkeypatch.delenv("REGULARS_SECRET_KEY", raising=False)


@pytest.fixture
def secret(store_engine: Engine) -> bytes:
    return server_secret(store_engine.url)


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(store_engine)) as test_client:
        yield test_client


@pytest.fixture
def auth(store_engine: Engine) -> Callable[..., Headers]:
    """``auth("admin")``: headers carrying a fresh key with those scopes."""

    def make(*scopes: str) -> Headers:
        _row, key = create_api_key(store_engine, "test", scopes)
        return {"Authorization": f"Bearer {key}"}

    return make


def _customer_with_everything(engine: Engine, who: dict[str, str], tag: str) -> None:
    """A customer with a row in every customer table and mentions in the audit log and jobs."""
    cid = who["customer_id"]
    with session_scope(engine) as session:
        session.add(
            Customer(
                **who,
                birthday=date(1990, 5, 17),
                attributes={"newsletter_source": f"fair-{tag}"},
            )
        )
        session.flush()
        session.add_all(
            [
                Consent(customer_id=cid, channel="email", topic="marketing", granted=True),
                Order(
                    shop_id="berlin",
                    order_id=f"A-{tag}",
                    customer_id=cid,
                    ordered_at=AT,
                    amount=Decimal("59.80"),
                    refunded_amount=Decimal("19.90"),
                    status="partially_refunded",
                    currency="EUR",
                ),
                Event(customer_id=cid, kind="wished", sku="TEA-1", occurred_at=AT, payload={}),
                CustomerScore(
                    customer_id=cid, segment="Champions", clv_12m=Decimal("120.50"), computed_at=AT
                ),
            ]
        )
        session.flush()
        session.add_all(
            [
                OrderLine(
                    shop_id="berlin",
                    order_id=f"A-{tag}",
                    sku="TEA-1",
                    quantity=2,
                    unit_price=Decimal("19.90"),
                    line_amount=Decimal("39.80"),
                ),
                OrderLine(
                    shop_id="berlin",
                    order_id=f"A-{tag}",
                    sku="MUG-2",
                    quantity=1,
                    unit_price=Decimal("20.00"),
                    line_amount=Decimal("20.00"),
                ),
                OrderReturn(
                    shop_id="berlin",
                    return_id=f"R-{tag}",
                    order_id=f"A-{tag}",
                    customer_id=cid,
                    returned_at=AT,
                    amount=Decimal("19.90"),
                    reason="too small",
                    lines=[{"sku": "TEA-1", "quantity": 1, "line_amount": "19.90"}],
                ),
            ]
        )
        record(
            session,
            actor="cli",
            action="customer.update",
            target_type="customer",
            target_id=cid,
            details={"email": {"old": who["email"].upper(), "new": who["email"]}},
        )
        session.add(
            Job(
                kind="send_email",
                key=f"welcome:{cid}",
                due_at=AT,
                run_after=AT,
                payload={"customer_id": cid, "to": who["email"]},
            )
        )
    _row, _key = create_api_key(engine, f"shop-{tag}", ["orders:write"])
    with engine.begin() as conn:
        conn.execute(
            insert(IdempotencyKey),
            {
                "api_key_id": _row.id,
                "key": f"idem-{tag}",
                "request_hash": "0" * 64,
                "shop_id": "berlin",
                "order_id": f"A-{tag}",
                "created_at": AT,
            },
        )


@pytest.fixture
def anna(store_engine: Engine) -> dict[str, str]:
    """Anna (with an old merged id) and Bob, each with data everywhere; returns Anna."""
    _customer_with_everything(store_engine, ANNA, "1")
    _customer_with_everything(store_engine, BOB, "2")
    with session_scope(store_engine) as session:
        session.add(CustomerAlias(alias_id=OLD_ID, customer_id=ANNA["customer_id"]))
        record(
            session,
            actor="apikey:abc",
            action="customer.merge",
            target_type="customer",
            target_id=ANNA["customer_id"],
            details={"merged": [OLD_ID], "survivor_name": ANNA["name"]},
        )
    return ANNA
