"""The transaction's programs (:func:`regulars.loyalty.program_cache.loaded_programs`): read
once per transaction, forgotten whenever a program is added, written by a statement or
rolled back; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session

from regulars.loyalty.catalogue import ProgramSpec, create_program, lock_program
from regulars.loyalty.contribution import a_program_runs as _a_program_runs
from regulars.loyalty.program_cache import running_points_programs, running_programs
from regulars.loyalty.program_store.membership import earn_multiplier
from regulars.loyalty.tables import LoyaltyProgram

START = datetime(2020, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
POINTS = {"earn_per_unit": "1", "point_value": "0.01"}


def _points(code: str) -> ProgramSpec:
    return ProgramSpec(code, code.upper(), "points", dict(POINTS), starts_at=START)


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` sends inside the block."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _program_reads(sent: list[str]) -> int:
    return sum(
        1 for s in sent if s.lstrip().upper().startswith("SELECT") and "loyalty_programs" in s
    )


def _codes(session: Session) -> list[str]:
    return [p.code for p in running_points_programs(session, NOW)]


def test_one_read_per_transaction(store_engine: Engine) -> None:
    """Every running-programs question of a transaction is answered from one SELECT; the
    next transaction reads again."""
    with Session(store_engine) as session:
        create_program(session, _points("a"))
        session.commit()
        with _statements(store_engine) as sent:
            assert _codes(session) == ["a"]
            assert _a_program_runs(session, NOW)
            assert not _a_program_runs(session, START - timedelta(days=1))
            assert running_programs(session, ("tiers",), NOW) == []
            assert _codes(session) == ["a"]
        assert _program_reads(sent) == 1
        session.commit()
        with _statements(store_engine) as sent:
            assert _codes(session) == ["a"]
        assert _program_reads(sent) == 1


def test_create_program_in_the_transaction_is_seen(store_engine: Engine) -> None:
    """A program created after the programs were read (same transaction) runs at once."""
    with Session(store_engine) as session:
        create_program(session, _points("a"))
        assert _codes(session) == ["a"]
        create_program(session, _points("b"))
        assert _codes(session) == ["a", "b"]


def test_changes_to_a_program_are_seen(store_engine: Engine) -> None:
    """An attribute change (not yet flushed) shows at once; an ``UPDATE`` statement on the
    programs table (a bulk change, :func:`lock_program`) makes the next call read again."""
    with Session(store_engine) as session:
        a = create_program(session, _points("a"))
        create_program(session, _points("b"))
        session.commit()
        assert _codes(session) == ["a", "b"]
        a.active = False
        assert _codes(session) == ["b"]
        session.execute(
            update(LoyaltyProgram).where(LoyaltyProgram.code == "b").values(ends_at=START)
        )
        assert _codes(session) == []
        with _statements(store_engine) as sent:
            lock_program(session, a)
            assert _codes(session) == []
        assert _program_reads(sent) == 1


def test_a_rolled_back_program_is_forgotten(store_engine: Engine) -> None:
    """A program created in a savepoint that rolls back does not run."""
    with Session(store_engine) as session:
        create_program(session, _points("a"))
        savepoint = session.begin_nested()
        create_program(session, _points("b"))
        assert _codes(session) == ["a", "b"]
        savepoint.rollback()
        assert _codes(session) == ["a"]


def test_no_membership_query_without_a_membership_program(store_engine: Engine) -> None:
    """No membership program: the multiplier is 1 and no membership row is read."""
    with Session(store_engine) as session:
        create_program(session, _points("a"))
        with _statements(store_engine) as sent:
            assert earn_multiplier(session, "c1", NOW) == Decimal(1)
        assert not any("loyalty_memberships" in s for s in sent)
