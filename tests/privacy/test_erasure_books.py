"""Erasure of a customer in every state, through HTTP on SQLite and PostgreSQL: no personal
data left in any column of any table (nor in the SQLite file and its write-ahead log), and
no financial or audit total changed.

Erin (id ``erin-k7``) had a duplicate ``erin-old-k7`` merged into her after both earned the
same badge; she shares the household card of ``hh-9`` with Hal, and a points adjustment on
that card names her; she refers Fred (pending; Fred's profile says he was referred by her
e-mail address), earns and pays with a coalition partner, donates to a cause, pays a
membership and entered a prize draw that was drawn.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Text, cast, func, or_, select

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.program_store.tables import Donation, MembershipPayment, PartnerTransaction
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry
from regulars.privacy import pseudonym
from regulars.store.session import checkpoint
from regulars.store.tables import Base, Order

ERIN = {
    "customer_id": "erin-k7",
    "email": "erin.kowalski@example.net",
    "phone": "+48 601 234 567",
    "name": "Erin Kowalski",
}
OLD = {
    "customer_id": "erin-old-k7",
    "email": "e.kowalski.old@example.net",
    "phone": "+48 601 999 888",
    "name": "Erin Kowalski",
}
NOW = datetime.now(UTC).replace(microsecond=0)
IN_DRAW = NOW - timedelta(days=20)
POINTS = {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0}
PROGRAMS: list[dict[str, Any]] = [
    {"code": "stars", "name": "Stars", "type": "points", "config": POINTS},
    {"code": "family", "name": "Family", "type": "points", "config": POINTS},
    {
        "code": "explorer",
        "name": "Badges",
        "type": "badges",
        "config": {
            "badges": [
                {"code": "two_worlds", "name": "Two worlds", "metric": "categories", "target": 2}
            ]
        },
    },
    {
        "code": "city",
        "name": "City card",
        "type": "coalition",
        "config": {
            "partners": [
                {
                    "code": "cafe",
                    "name": "Café",
                    "earn_per_unit": "1",
                    "issue_value": "0.008",
                    "accepts_points": True,
                    "redeem_value": "0.01",
                }
            ]
        },
    },
    {
        "code": "give",
        "name": "Give",
        "type": "charity",
        "config": {
            "point_value": "0.01",
            "causes": [{"code": "trees", "name": "Trees", "match_ratio": "1"}],
        },
    },
    {
        "code": "xmas",
        "name": "Hamper draw",
        "type": "draw",
        "config": {
            "code": "xmas",
            "starts_at": (NOW - timedelta(days=31)).isoformat(),
            "ends_at": (NOW - timedelta(days=1)).isoformat(),
            "winners": 2,
            "prize": "hamper",
        },
    },
    {
        "code": "club",
        "name": "Club",
        "type": "membership",
        "config": {
            "code": "club",
            "plans": [{"code": "plus", "price": "9.99", "period": "month"}],
        },
    },
    {
        "code": "friends",
        "name": "Refer a friend",
        "type": "referral",
        "config": {"referrer_points": 500, "referee_points": 300, "return_window_days": 14},
    },
]


@pytest.fixture
def shop(store_engine: Engine) -> Iterator[TestClient]:
    _row, key = create_api_key(store_engine, "everything", ["admin"])
    with TestClient(create_app(store_engine)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def _ok(response: Any) -> Any:
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def _order(shop: TestClient, order_id: str, customer_id: str, amount: str) -> None:
    """An order of two lines in two categories (it earns the badge)."""
    half = f"{float(amount) / 2:.2f}"
    lines = [
        {"sku": f"{order_id}-a", "category": "tea", "quantity": 1, "unit_price": half,
         "line_amount": half},
        {"sku": f"{order_id}-b", "category": "mugs", "quantity": 1, "unit_price": half,
         "line_amount": half},
    ]  # fmt: skip
    body = {
        "order_id": order_id,
        "customer_id": customer_id,
        "ordered_at": IN_DRAW.isoformat(),
        "amount": amount,
        "lines": lines,
    }
    _ok(shop.post("/v1/orders", json=body))


def _build(shop: TestClient) -> None:
    for program in PROGRAMS:
        body = {**program, "starts_at": "2020-01-01T00:00:00Z"}
        if program["code"] == "family":
            body["shared_household"] = True
        _ok(shop.post("/v1/loyalty/programs", json=body))
    for who, extra in [
        (ERIN, {"household_id": "hh-9"}),
        (OLD, {}),
        ({"customer_id": "hal-3", "name": "Hal"}, {"household_id": "hh-9"}),
        ({"customer_id": "gus-5"}, {}),
        ({"customer_id": "fred-2"}, {"attributes": {"referred_by": ERIN["email"]}}),
    ]:
        _ok(shop.post("/v1/customers", json={**who, **extra}))
    _order(shop, "O-1", OLD["customer_id"], "40.00")
    _order(shop, "O-2", ERIN["customer_id"], "60.00")
    _order(shop, "O-3", "gus-5", "30.00")
    _order(shop, "O-4", "hal-3", "20.00")
    for cid in [ERIN["customer_id"], OLD["customer_id"], "gus-5"]:
        _ok(shop.post(f"/v1/loyalty/accounts/{cid}/enroll", json={"program": "xmas"}))
    # Both earned 'two_worlds' before they were known to be one person.
    _ok(
        shop.post(
            f"/v1/customers/{ERIN['customer_id']}/merge", json={"duplicate_id": OLD["customer_id"]}
        )
    )
    adjust = {"program": "family", "points": 5, "reason": f"goodwill for {ERIN['name']}"}
    _ok(
        shop.post(
            f"/v1/loyalty/accounts/{ERIN['customer_id']}/adjust",
            json=adjust,
            headers={"Idempotency-Key": f"adjust-{ERIN['customer_id']}"},
        )
    )
    city = "/v1/loyalty/programs/city/partners/cafe"
    sale = {"customer_id": ERIN["customer_id"], "transaction_id": "T1", "amount": "12.50"}
    _ok(shop.post(f"{city}/sales", json=sale))
    _ok(shop.post(f"{city}/sales", json={**sale, "customer_id": "gus-5", "transaction_id": "T2"}))
    paid = {"customer_id": ERIN["customer_id"], "transaction_id": "R1", "points": 5}
    _ok(shop.post(f"{city}/redemptions", json=paid))
    donation = {"customer_id": ERIN["customer_id"], "donation_id": "d1", "cause": "trees",
                "points": 20, "points_program": "stars"}  # fmt: skip
    _ok(shop.post("/v1/loyalty/programs/give/donations", json=donation))
    _ok(
        shop.post(
            "/v1/loyalty/programs/club/memberships",
            json={"customer_id": ERIN["customer_id"], "plan": "plus"},
        )
    )
    _ok(
        shop.post(
            "/v1/loyalty/programs/friends/referrals",
            json={"referrer_id": ERIN["customer_id"], "referee_id": "fred-2"},
        )
    )
    _ok(shop.post("/v1/loyalty/programs/xmas/draw", json={"seed": "s33d"}))


def _books(shop: TestClient, engine: Engine) -> dict[str, Any]:
    """Every financial and audit total erasure must leave alone."""
    month = NOW.replace(day=1, hour=0, minute=0, second=0)
    period = {"start": month.isoformat(), "end": (month + timedelta(days=32)).isoformat()}
    wide = {"start": "2020-01-01T00:00:00Z", "end": (NOW + timedelta(days=1)).isoformat()}
    draw = _ok(shop.get("/v1/loyalty/programs/xmas/draw"))
    referral = _ok(shop.get("/v1/loyalty/programs/friends/referrals/fred-2"))
    with engine.connect() as conn:
        by_kind = select(LoyaltyEntry.kind, func.sum(LoyaltyEntry.points)).group_by(
            LoyaltyEntry.kind
        )
        ledger = dict(conn.execute(by_kind).all())
        sums = {
            "ledger": ledger,
            "balances": conn.scalar(select(func.sum(LoyaltyAccount.balance))),
            "revenue": conn.scalar(select(func.sum(Order.amount))),
            "orders": conn.scalar(select(func.count()).select_from(Order)),
            "partner_points": conn.scalar(select(func.sum(PartnerTransaction.points))),
            "donated": conn.scalar(select(func.sum(Donation.points))),
            "membership": conn.scalar(select(func.sum(MembershipPayment.amount))),
        }
    return {
        **sums,
        "settlement": _ok(shop.get("/v1/loyalty/programs/city/settlement", params=period)),
        "causes": _ok(shop.get("/v1/loyalty/programs/give/causes-report", params=wide)),
        "draw": {k: draw[k] for k in ("seed", "eligible_count", "eligible_sha256")},
        "draw_winners": len(draw["winners"]),
        "draw_verifies": (draw["rerun"]["same_eligible"], draw["rerun"]["same_winners"]),
        "referral": {k: v for k, v in referral.items() if k != "referrer_id"},
        "household": _ok(shop.get("/v1/loyalty/accounts/hal-3", params={"program": "family"}))[
            "balance"
        ],
    }


def _needles() -> list[str]:
    return sorted({v for who in (ERIN, OLD) for v in who.values()})


def _column_hits(engine: Engine) -> dict[str, int]:
    """Rows per table where a column cast to text contains a needle, in any case."""
    hits = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            found = or_(
                *(
                    cast(column, Text).icontains(needle, autoescape=True)
                    for column in table.columns
                    for needle in _needles()
                )
            )
            count = conn.scalar(select(func.count()).select_from(table).where(found))
            if count:
                hits[table.name] = int(count)
    return hits


def _row_hits(engine: Engine) -> list[str]:
    """Rows whose values, JSON included, mention a needle once decoded."""
    lowered = [n.lower() for n in _needles()]
    found = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                text = json.dumps(dict(row), default=str, ensure_ascii=False).lower()
                found += [f"{table.name}: {text}" for n in lowered if n in text]
    return found


def _file_hits(engine: Engine) -> list[str]:
    """Needles in the bytes of the SQLite file and its write-ahead log."""
    database = Path(str(engine.url.database))
    found = []
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists():
            data = path.read_bytes().lower()
            found += [f"{path.name}: {n}" for n in _needles() if n.lower().encode() in data]
    return found


def test_erasure_in_every_state_keeps_the_books_and_leaves_no_personal_data(
    shop: TestClient, store_engine: Engine
) -> None:
    _build(shop)
    before = _books(shop, store_engine)
    assert before["draw_verifies"] == (True, True)
    assert before["draw"]["eligible_count"] == 2  # Erin (with her old id's order) and Gus
    assert set(_column_hits(store_engine)) >= {"customers", "loyalty_entries", "audit_log"}
    if store_engine.dialect.name == "sqlite":
        checkpoint(store_engine)  # a store that has run a while: her data is in the file
        note = {"attributes": {"note": f"call {ERIN['phone']}"}}  # and in the log
        _ok(shop.patch(f"/v1/customers/{ERIN['customer_id']}", json=note))
        hits = _file_hits(store_engine)
        assert {f"store.db: {ERIN['email']}", f"store.db-wal: {ERIN['phone']}"} <= set(hits)

    response = shop.delete(f"/v1/customers/{ERIN['customer_id']}")
    assert response.status_code == 204, response.text

    assert _books(shop, store_engine) == before
    assert _column_hits(store_engine) == {}
    assert _row_hits(store_engine) == []
    if store_engine.dialect.name == "sqlite":
        assert _file_hits(store_engine) == []
    name = pseudonym(_secret(store_engine), ERIN["customer_id"])
    referral = _ok(shop.get("/v1/loyalty/programs/friends/referrals/fred-2"))
    assert referral["referrer_id"] == name
    fred = _ok(shop.get("/v1/customers/fred-2"))
    assert fred["attributes"] == {"referred_by": name}
    assert shop.get(f"/v1/customers/{ERIN['customer_id']}").status_code == 404
    assert shop.delete(f"/v1/customers/{ERIN['customer_id']}").status_code == 404


def _secret(engine: Engine) -> bytes:
    from regulars.privacy import server_secret

    return server_secret(engine.url)


def test_the_same_id_erased_twice_keeps_both_records_apart(
    shop: TestClient, store_engine: Engine
) -> None:
    """The shop sends erin-k7 again after her erasure: a new customer with a new account
    in the same program; erasing her too keeps both records, under two keys."""
    _ok(
        shop.post("/v1/loyalty/programs", json={**PROGRAMS[0], "starts_at": "2020-01-01T00:00:00Z"})
    )
    for attempt in ("1", "2"):
        _ok(shop.post("/v1/customers", json=ERIN))
        _order(shop, f"again-{attempt}", ERIN["customer_id"], "10.00")
        assert shop.delete(f"/v1/customers/{ERIN['customer_id']}").status_code == 204
    name = pseudonym(_secret(store_engine), ERIN["customer_id"])
    with store_engine.connect() as conn:
        owners = conn.execute(select(Order.customer_id).order_by(Order.order_id)).scalars().all()
        balances = conn.execute(select(func.sum(LoyaltyAccount.balance))).scalar()
    assert owners == [name, f"{name}#2"]
    assert balances == 20
    assert _column_hits(store_engine) == {}
