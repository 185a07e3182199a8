"""Redemptions, their cancellations and returns racing against one account, on a SQLite
file and on PostgreSQL, with real threads and one session (one transaction) each."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from loyalty_helpers import T0, add_order, add_return, check_ledger, make_program
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.loyalty.accounting.ledger import OrderRef
from regulars.loyalty.errors import InsufficientPointsError
from regulars.loyalty.points.cancellation import cancel_redemption
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.redemption import redeem
from regulars.loyalty.points.returns import on_return_recorded
from regulars.loyalty.points.views import account_view
from regulars.loyalty.tables import LoyaltyEntry, LoyaltyProgram
from regulars.store.session import session_scope
from regulars.store.tables import Order

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


# -- cancelling redemptions -----------------------------------------------------------------


def _paid(engine: Engine, points: int, spent: int, order: OrderRef | None = None) -> LoyaltyProgram:
    """ann earned ``points`` on A1 and redeemed ``spent`` of them under key 'pay'."""
    program = _funded(engine, points)
    with session_scope(engine) as session:
        redeem(session, program, "ann", spent, key="pay", actor="test", order=order, now=NOW)
    return program


def _cancel(engine: Engine, program: LoyaltyProgram) -> int:
    with session_scope(engine) as session:
        return cancel_redemption(
            session, program, "ann", "pay", actor="test", now=NOW
        ).posted.points


def test_concurrent_cancellations_of_one_redemption_credit_once(store_engine: Engine) -> None:
    """100 earned, 60 redeemed: 40. 64 concurrent cancellations: every one answers the
    60 given back, one entry is written, the balance is 100."""
    program = _paid(store_engine, 100, 60)
    with ThreadPoolExecutor(_workers(store_engine)) as pool:
        answers = list(pool.map(lambda _: _cancel(store_engine, program), range(64)))
    assert answers == [60] * 64
    with Session(store_engine) as session:
        cancels = session.scalar(select(func.count()).where(LoyaltyEntry.kind == "cancel_spend"))
        assert cancels == 1
        assert account_view(session, program, "ann", now=NOW).balance == 100
        check_ledger(session)


def test_a_cancel_racing_redemptions_never_overdraws(store_engine: Engine) -> None:
    """100 earned, 60 redeemed: 40. A cancellation (+60) races 20 redemptions of 10:
    at least the 4 that fit before it and at most the 10 that fit after it succeed, and
    the balance is exactly 100 − 10 × successes, never below 0."""
    program = _paid(store_engine, 100, 60)
    jobs = [f"k{i}" for i in range(20)]
    jobs.insert(7, "cancel")

    def run(job: str) -> bool:
        if job == "cancel":
            _cancel(store_engine, program)
            return False
        return _try_redeem(store_engine, program, 10, job)

    with ThreadPoolExecutor(_workers(store_engine)) as pool:
        succeeded = sum(pool.map(run, jobs))
    assert 4 <= succeeded <= 10
    with Session(store_engine) as session:
        view = account_view(session, program, "ann", now=NOW)
        assert view.balance == 100 - 10 * succeeded >= 0
        check_ledger(session)


def test_a_cancel_racing_a_return_gives_the_spend_back_once(store_engine: Engine) -> None:
    """30 redeemed for order B1 (50.00, earned 50); a full return of B1 races 8
    cancellations: whichever comes first gives back all 30, the rest nothing."""
    program = _paid(store_engine, 100, 30, OrderRef("default", "B1"))
    with session_scope(store_engine) as session:
        on_order_recorded(session, add_order(session, "B1", "ann", "50.00", at=T0))

    def give_back(job: str) -> None:
        if job != "return":
            _cancel(store_engine, program)
            return
        with session_scope(store_engine) as session:
            order = session.scalars(select(Order).where(Order.order_id == "B1")).one()
            on_return_recorded(session, add_return(session, "R1", order, "50.00"), now=NOW)

    jobs = ["cancel"] * 8
    jobs.insert(3, "return")
    with ThreadPoolExecutor(_workers(store_engine)) as pool:
        list(pool.map(give_back, jobs))
    with Session(store_engine) as session:
        back = session.scalar(
            select(func.sum(LoyaltyEntry.points)).where(
                LoyaltyEntry.order_id == "B1", LoyaltyEntry.kind.in_(["cancel_spend", "recredit"])
            )
        )
        assert back == 30
        # 100 + 50 − 30 + 30 − 50 (the return reverses B1's earning)
        assert account_view(session, program, "ann", now=NOW).balance == 100
        check_ledger(session)
