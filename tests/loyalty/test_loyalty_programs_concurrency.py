"""Partner redemptions and charity donations racing on one account (SQLite file and
PostgreSQL), real threads, one session (one transaction) each."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from threading import Event
from typing import Any

from loyalty_helpers import T0, add_customer, add_order, check_ledger, make_program
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.loyalty.accounting.enrolment import find_account
from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.loyalty.errors import InsufficientPointsError
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.program_store import charity, partners
from regulars.loyalty.program_store.tables import Donation, PartnerTransaction
from regulars.loyalty.tables import LoyaltyProgram
from regulars.store.session import session_scope

CAFE: dict[str, Any] = {
    "code": "cafe",
    "name": "Café",
    "earn_per_unit": "1",
    "issue_value": "0.008",
    "accepts_points": True,
    "redeem_value": "0.01",
}


DAY = timedelta(days=1)


def _workers(engine: Engine) -> int:
    """SQLite has one writer and a 5 s busy timeout (see test_loyalty_concurrency)."""
    return 8 if engine.dialect.name == "sqlite" else 32


def _coalition(engine: Engine) -> LoyaltyProgram:
    """ann holds 100 points from a 100.00 sale at the café."""
    with Session(engine, expire_on_commit=False) as session:
        program = create_program(
            session, ProgramSpec("city", "City", "coalition", {"partners": [CAFE]})
        )
        add_customer(session, "ann")
        partners.record_sale(session, program, "ann", "cafe", "S1", Decimal("100"), actor="t")
        session.commit()
    return program


def _pay(engine: Engine, program: LoyaltyProgram, tx: str) -> bool:
    try:
        with session_scope(engine) as session:
            partners.record_redemption(session, program, "ann", "cafe", tx, 7, actor="t")
    except InsufficientPointsError:
        return False
    return True


def test_50_concurrent_partner_redemptions_never_overdraw(store_engine: Engine) -> None:
    """100 points, 50 payments of 7 asked for (350): floor(100 / 7) = 14 go through, 2 left."""
    program = _coalition(store_engine)
    with ThreadPoolExecutor(_workers(store_engine)) as pool:
        results = list(pool.map(lambda i: _pay(store_engine, program, f"R{i}"), range(50)))
    assert sum(results) == 14
    with Session(store_engine) as session:
        account = find_account(session, program, "ann")
        assert account is not None
        assert account.balance == 2
        redeemed = session.scalar(
            select(func.sum(PartnerTransaction.points)).where(PartnerTransaction.kind == "redeem")
        )
        assert redeemed == 98
        check_ledger(session)


def test_concurrent_donations_share_the_cap_once(store_engine: Engine) -> None:
    """Cap 100 a month at 1:1: 30 donations of 10 from three customers each holding 100
    points; whatever the order, the matches add up to exactly 100."""
    with Session(store_engine, expire_on_commit=False) as session:
        stars = make_program(session, config={"pending_days": 0})
        give = create_program(
            session,
            ProgramSpec(
                "give",
                "Give",
                "charity",
                {
                    "point_value": "0.01",
                    "causes": [{"code": "trees", "name": "Trees", "cap_points_per_period": 100}],
                },
            ),
        )
        now = datetime.now(UTC)
        for cid in ["a", "b", "c"]:
            on_order_recorded(session, add_order(session, f"O-{cid}", cid, "100.00", at=now))
        session.commit()

    def give_ten(i: int) -> None:
        with session_scope(store_engine) as session:
            charity.donate(session, give, stars, "abc"[i % 3], "trees", 10, f"d{i}", actor="t")

    with ThreadPoolExecutor(_workers(store_engine)) as pool:
        list(pool.map(give_ten, range(30)))
    with Session(store_engine) as session:
        assert session.scalar(select(func.sum(Donation.matched_points))) == 100
        assert session.scalar(select(func.sum(Donation.points))) == 300
        check_ledger(session)


def test_an_order_reads_its_tier_after_the_customers_order_in_flight(store_engine: Engine) -> None:
    """Gold ×2 from 500.00 in a tier club. Transaction A records E1 (300.00) and stays open
    for half a second; B records E2 (300.00, an hour later) meanwhile. B reads the tier
    under the customer's lock, so it waits for A's commit and sees E1: 600 ≥ 500, gold, and
    E2 earns 300 × 2 = 600. Reading the tier without the lock, B would see E2 alone (300 <
    500) and earn 300. (SQLite's single writer makes B wait at its insert already.)"""
    gold = {"code": "vip", "tiers": [{"name": "gold", "threshold": "500", "earn_multiplier": "2"}]}
    with Session(store_engine, expire_on_commit=False) as session:
        make_program(session, config={"pending_days": 0})
        create_program(session, ProgramSpec("vip", "VIP", "tiers", gold, starts_at=T0 - DAY))
        add_customer(session, "eve")
        session.commit()
    recorded = Event()

    def first() -> int:
        with Session(store_engine, expire_on_commit=False) as session:
            [posted] = on_order_recorded(session, add_order(session, "E1", "eve", "300.00"))
            recorded.set()
            time.sleep(0.5)  # B is waiting on the customer's lock meanwhile
            session.commit()
            return posted.points

    def second() -> int:
        assert recorded.wait(10)
        with Session(store_engine, expire_on_commit=False) as session:
            order = add_order(session, "E2", "eve", "300.00", at=T0 + timedelta(hours=1))
            [posted] = on_order_recorded(session, order)
            session.commit()
            return posted.points

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(first), pool.submit(second)
        assert (a.result(), b.result()) == (300, 600)
    with Session(store_engine) as session:
        check_ledger(session)
