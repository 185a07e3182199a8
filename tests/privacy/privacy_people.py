"""The people of the privacy tests, and a builder that gives one data in every table."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine, insert

from regulars.api.keys import create_api_key
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

TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef"

ANNA = {
    "customer_id": "anna-4711",
    "email": "anna.schmidt@example.com",
    "phone": "+49 151 2345678",
    "name": "Anna Schmidt",
}
OLD_ID = "anna-old-0815"  # merged into anna-4711 before
BOB = {"customer_id": "bob-1", "email": "bob@example.org", "phone": "+1 555 0100", "name": "Bob"}
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def add_customer_with_everything(engine: Engine, who: dict[str, str], tag: str) -> None:
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


def add_anna_and_bob(engine: Engine) -> None:
    """Anna, with an old id merged into hers and a merge entry naming it, and Bob."""
    add_customer_with_everything(engine, ANNA, "1")
    add_customer_with_everything(engine, BOB, "2")
    with session_scope(engine) as session:
        session.add(CustomerAlias(alias_id=OLD_ID, customer_id=ANNA["customer_id"]))
        record(
            session,
            actor="apikey:abc",
            action="customer.merge",
            target_type="customer",
            target_id=ANNA["customer_id"],
            details={"merged": [OLD_ID], "survivor_name": ANNA["name"]},
        )
