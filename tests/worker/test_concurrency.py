"""Several workers on one queue, in threads against the real database: every job runs
exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import Engine, select

from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry
from regulars.worker import JobContext, Registry, Worker
from regulars.worker.queue import enqueue

from .conftest import T0, all_jobs

N_JOBS = 200


def _count_run(ctx: JobContext) -> None:
    # Counted in a table, in the job's own transaction: committed exactly when "done" is.
    ctx.session.add(
        AuditEntry(
            actor=ctx.worker_id, action="test.run", target_type="job", target_id=str(ctx.job.id)
        )
    )


def _run_workers(engine: Engine, n_workers: int) -> dict[str, int]:
    registry = Registry()
    registry.register("count", _count_run)
    with session_scope(engine) as session:
        for i in range(N_JOBS):
            enqueue(session, "count", T0 - timedelta(seconds=i), key=f"job-{i}")
    barrier = threading.Barrier(n_workers)
    per_worker: dict[str, int] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            worker = Worker(engine, registry, worker_id=name, clock=lambda: T0)
            barrier.wait()
            per_worker[name] = len(worker.run_due())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(n_workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return per_worker


def _check_exactly_once(engine: Engine, per_worker: dict[str, int]) -> None:
    jobs = all_jobs(engine)
    assert len(jobs) == N_JOBS
    assert {j.state for j in jobs} == {"done"}
    assert {j.attempts for j in jobs} == {1}
    with engine.connect() as conn:
        runs = Counter(
            conn.scalars(select(AuditEntry.target_id).where(AuditEntry.action == "test.run"))
        )
    assert len(runs) == N_JOBS
    assert set(runs.values()) == {1}
    assert sum(per_worker.values()) == N_JOBS


def test_concurrent_workers_run_every_job_exactly_once(store_engine: Engine) -> None:
    on_postgres = store_engine.dialect.name == "postgresql"
    # PostgreSQL: four workers side by side (SKIP LOCKED). SQLite supports one worker per
    # file; two only take turns for the write lock, but the claim must stay atomic.
    per_worker = _run_workers(store_engine, 4 if on_postgres else 2)
    _check_exactly_once(store_engine, per_worker)
    if on_postgres:  # they really worked at the same time, not one after the other
        assert sum(1 for n in per_worker.values() if n > 0) >= 2
