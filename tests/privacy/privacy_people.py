"""The people of the privacy tests, and a builder that gives one data in every table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert, select, update

from regulars.api.keys import create_api_key
from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.redemption import redeem
from regulars.store.audit import record
from regulars.store.session import session_scope
from regulars.store.tables import (
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


def add_loyalty(engine: Engine) -> None:
    """Programs 'stars' (personal accounts), 'family' (a shared household card) and the
    tier club 'vip' (gold from 10.00). Anna is in household 'hh-7' and spends 10 of her
    stars; her order puts her in tier 'gold': a tier state row of hers and a tier_changed
    event naming her (on no account: scrubbed as a mention)."""
    with session_scope(engine) as session:
        session.execute(
            update(Customer)
            .where(Customer.customer_id == ANNA["customer_id"])
            .values(household_id="hh-7")
        )
        config = {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0}
        start = datetime(2020, 1, 1, tzinfo=UTC)
        stars = create_program(
            session, ProgramSpec("stars", "Stars", "points", config, starts_at=start)
        )
        create_program(
            session,
            ProgramSpec(
                "family", "Family", "points", config, starts_at=start, shared_household=True
            ),
        )
        club = {"code": "vip", "tiers": [{"name": "gold", "threshold": "10.00"}]}
        create_program(session, ProgramSpec("vip", "VIP", "tiers", club, starts_at=start))
        for order in session.scalars(select(Order).order_by(Order.id)):
            on_order_recorded(session, order)
        redeem(
            session,
            stars,
            ANNA["customer_id"],
            10,
            key="anna-1",
            actor="cli",
            now=AT + timedelta(days=1),
        )


def add_anna_and_bob(engine: Engine) -> None:
    """Anna, with an old id merged into hers and a merge entry naming it, and Bob; both
    with loyalty accounts (:func:`add_loyalty`)."""
    add_customer_with_everything(engine, ANNA, "1")
    add_customer_with_everything(engine, BOB, "2")
    add_loyalty(engine)
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
