"""Redemptions racing against one account, on a SQLite file and on PostgreSQL, with real
threads and one session (one transaction) each."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from loyalty_helpers import T0, add_order, check_ledger, make_program
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.loyalty.ledger import InsufficientPointsError
from regulars.loyalty.models import LoyaltyEntry, LoyaltyProgram
from regulars.loyalty.service import account_view, on_order_recorded, redeem
from regulars.store.session import session_scope

NOW = T0 + timedelta(days=30)


def _workers(engine: Engine) -> int:
    """Threads at once. SQLite has one writer and a 5 s busy timeout: with 32 writers queued
    on a loaded 2-core machine some waited longer than that ('database is locked')."""
    return 8 if engine.dialect.name == "sqlite" else 32


def _funded(engine: Engine, points: int) -> LoyaltyProgram:
    with Session(engine, expire_on_commit=False) as session:
        program = make_program(session, config={"pending_days": 0})
        on_order_recorded(session, add_order(session, "A1", "ann", f"{points}.00"))
        session.commit()
    return program


def _try_redeem(engine: Engine, program: LoyaltyProgram, points: int, key: str) -> bool:
    try:
        with session_scope(engine) as session:
            redeem(session, program, "ann", points, key=key, actor="test", now=NOW)
    except InsufficientPointsError:
        return False
    return True


def test_200_concurrent_redemptions_never_overdraw(store_engine: Engine) -> None:
    program = _funded(store_engine, 1_000)  # 1,000 points; 200 × 7 = 1,400 asked for
    with ThreadPoolExecutor(_workers(store_engine)) as pool:
        results = list(
            pool.map(lambda i: _try_redeem(store_engine, program, 7, f"k{i}"), range(200))
        )
    succeeded = sum(results)
    assert succeeded == 1_000 // 7  # 142: every redemption that fits went through
    with Session(store_engine) as session:
        view = account_view(session, program, "ann", now=NOW)
        assert view.balance == 1_000 - succeeded * 7 == 6
        check_ledger(session)


def test_concurrent_duplicates_under_one_key_spend_once(store_engine: Engine) -> None:
    program = _funded(store_engine, 100)
    with ThreadPoolExecutor(_workers(store_engine)) as pool:
        results = list(
            pool.map(lambda _: _try_redeem(store_engine, program, 10, "same"), range(64))
        )
    assert all(results)  # every retry is answered with the first result
    with Session(store_engine) as session:
        spends = session.scalar(select(func.count()).where(LoyaltyEntry.kind == "spend"))
        assert spends == 1
        assert account_view(session, program, "ann", now=NOW).balance == 90
