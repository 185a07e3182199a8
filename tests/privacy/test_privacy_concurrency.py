"""Concurrent erasures of one customer and revocations of one key: exactly one wins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine, func, select

from regulars.api.keys import create_api_key, revoke_api_key
from regulars.privacy import Erasure, UnknownCustomerError, erase_customer
from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry
from regulars.wiring import customer_plan

THREADS = 4
T = TypeVar("T")


def _at_once(work: Callable[[], T]) -> list[T | Exception]:
    """Run ``work`` in THREADS threads released together; results or raised errors."""
    barrier = threading.Barrier(THREADS)

    def run() -> T | Exception:
        barrier.wait()
        try:
            return work()
        except Exception as exc:  # collected for the assertions
            return exc

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda _: run(), range(THREADS)))


def _entries(engine: Engine, action: str) -> int:
    with session_scope(engine) as session:
        query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        return int(session.scalar(query) or 0)


def test_one_of_concurrent_erasures_erases_the_others_find_nobody(
    store_engine: Engine, anna: dict[str, str], secret: bytes
) -> None:
    def erase() -> Erasure:
        with session_scope(store_engine) as session:
            return erase_customer(
                session, anna["customer_id"], actor="cli", secret=secret, plan=customer_plan()
            )

    results = _at_once(erase)
    done = [r for r in results if isinstance(r, Erasure)]
    assert len(done) == 1, results
    assert all(isinstance(r, UnknownCustomerError) for r in results if r not in done), results
    assert done[0].kept["order_lines"] == 2
    assert _entries(store_engine, "customer.erase") == 1


def test_one_of_concurrent_revocations_revokes_and_is_audited(store_engine: Engine) -> None:
    row, _key = create_api_key(store_engine, "pos", ["orders:write"])

    def revoke() -> bool:
        with session_scope(store_engine) as session:
            return revoke_api_key(session, row.prefix, actor="cli")[1]

    results = _at_once(revoke)
    assert sorted(results, key=str) == [False, False, False, True], results
    assert _entries(store_engine, "apikey.revoke") == 1
