"""The worker loop (:class:`regulars.worker.Worker`) with handlers of a private registry."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from regulars.config import Settings
from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry
from regulars.wiring import job_registry
from regulars.worker import Daily, JobContext, Registry, Worker
from regulars.worker.queue import claim, mark_done, mark_failed

from .conftest import T0, Clock, add_job, all_jobs, job


def _audit_count(engine: Engine, action: str) -> int:
    with engine.connect() as conn:
        count = conn.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )
    return int(count or 0)


def _record(ctx: JobContext, action: str) -> None:
    ctx.session.add(
        AuditEntry(actor="test", action=action, target_type="job", target_id=str(ctx.job.id))
    )


def test_a_handler_runs_and_its_result_is_kept(store_engine: Engine, clock: Clock) -> None:
    registry = Registry()
    seen: list[dict[str, Any]] = []

    @registry.handler("greet")
    def greet(ctx: JobContext) -> dict[str, Any]:
        seen.append(ctx.job.payload)
        _record(ctx, "greet")
        return {"greeted": ctx.job.payload["name"]}

    job_id = add_job(store_engine, "greet", T0, payload={"name": "Ann"})
    [outcome] = Worker(store_engine, registry, worker_id="w", clock=clock).run_due()
    assert outcome.status == "done"
    assert outcome.result == {"greeted": "Ann"}
    assert seen == [{"name": "Ann"}]
    done = job(store_engine, job_id)
    assert done.state == "done"
    assert done.payload == {"name": "Ann", "result": {"greeted": "Ann"}}
    assert _audit_count(store_engine, "greet") == 1


def test_a_failing_handler_rolls_back_and_retries_then_fails(
    store_engine: Engine, clock: Clock
) -> None:
    registry = Registry()

    @registry.handler("flaky", max_attempts=2)
    def flaky(ctx: JobContext) -> None:
        _record(ctx, "flaky")  # must not survive the failure
        raise ConnectionError("smtp.example.com refused the connection")

    job_id = add_job(store_engine, "flaky", T0, max_attempts=2)
    worker = Worker(store_engine, registry, worker_id="w", clock=clock)
    [first] = worker.run_due()
    assert first.status == "retry"
    assert first.error == "ConnectionError: smtp.example.com refused the connection"
    assert first.run_after is not None
    assert first.run_after > T0
    assert worker.run_due() == []  # not due yet
    clock.now = first.run_after
    [second] = worker.run_due()
    assert second.status == "failed"
    failed = job(store_engine, job_id)
    assert (failed.state, failed.attempts) == ("failed", 2)
    assert failed.last_error == "ConnectionError: smtp.example.com refused the connection"
    assert _audit_count(store_engine, "flaky") == 0


def test_jobs_of_unknown_kinds_stay_pending(store_engine: Engine, clock: Clock) -> None:
    add_job(store_engine, "not.registered", T0)
    assert Worker(store_engine, Registry(), clock=clock).run_due() == []
    assert [j.state for j in all_jobs(store_engine)] == ["pending"]


def test_recurring_jobs_schedule_their_next_occurrence(store_engine: Engine, clock: Clock) -> None:
    registry = Registry()
    runs: list[str] = []
    registry.register(
        "nightly",
        lambda ctx: runs.append(ctx.job.due_at.isoformat()) or None,
        schedule=lambda settings: Daily(hour=settings.refresh_hour, timezone=settings.timezone),
    )
    settings = Settings(timezone="Europe/Berlin", refresh_hour=3)
    worker = Worker(store_engine, registry, settings=settings, worker_id="w", clock=clock)
    clock.now = T0  # 1 March 2026, 12:00 UTC
    assert worker.schedule_recurring() == 1
    assert worker.schedule_recurring() == 0  # idempotent: the same due time exists
    [pending] = all_jobs(store_engine)
    assert pending.due_at == T0.replace(day=2, hour=2)  # 03:00 CET

    clock.now = T0.replace(day=2, hour=2, minute=0, second=5)
    [outcome] = worker.run_due()
    assert outcome.status == "done"
    jobs = all_jobs(store_engine)
    assert [(j.state, j.due_at) for j in jobs] == [
        ("done", T0.replace(day=2, hour=2)),
        ("pending", T0.replace(day=3, hour=2)),
    ]


def test_a_recurring_job_that_fails_for_good_still_schedules_the_next(
    store_engine: Engine, clock: Clock
) -> None:
    registry = Registry()

    def broken(ctx: JobContext) -> None:
        raise RuntimeError("no")

    registry.register("nightly", broken, schedule=lambda s: Daily(hour=3), max_attempts=1)
    add_job(store_engine, "nightly", T0, max_attempts=1)
    [outcome] = Worker(store_engine, registry, worker_id="w", clock=clock).run_due()
    assert outcome.status == "failed"
    assert [(j.state, j.due_at) for j in all_jobs(store_engine)] == [
        ("failed", T0),
        ("pending", T0.replace(day=2, hour=3)),
    ]


def test_the_worker_ends_abandoned_last_attempts(store_engine: Engine, clock: Clock) -> None:
    registry = Registry()
    registry.register("k", lambda ctx: None)
    job_id = add_job(store_engine, "k", T0, max_attempts=1)
    claim(store_engine, "dead", T0)
    worker = Worker(store_engine, registry, lease=timedelta(minutes=1), clock=clock)
    clock.advance(minutes=5)
    assert worker.run_due() == []
    assert job(store_engine, job_id).state == "failed"


def test_a_job_that_lost_its_lease_does_not_commit(store_engine: Engine, clock: Clock) -> None:
    registry = Registry()
    lease = timedelta(minutes=1)

    @registry.handler("slow")
    def slow(ctx: JobContext) -> None:
        _record(ctx, "slow")
        # Meanwhile the lease expired and another worker took the job.
        clock.advance(minutes=5)
        [stolen] = claim(ctx.engine, "thief", clock.now, lease=lease)
        assert stolen.id == ctx.job.id

    add_job(store_engine, "slow", T0)
    [outcome] = Worker(store_engine, registry, worker_id="w", lease=lease, clock=clock).run_due()
    assert outcome.status == "lost"
    assert _audit_count(store_engine, "slow") == 0
    assert all_jobs(store_engine)[0].locked_by == "thief"


def test_run_stops_when_asked(store_engine: Engine, clock: Clock) -> None:
    registry = Registry()
    stop = threading.Event()
    done: list[int] = []

    def work(ctx: JobContext) -> None:
        done.append(ctx.job.id)
        stop.set()  # like SIGTERM arriving during the job: it still finishes

    registry.register("k", work)
    for minute in range(3):
        add_job(store_engine, "k", T0 - timedelta(minutes=minute))
    worker = Worker(store_engine, registry, worker_id="w", clock=clock)
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"poll_seconds": 0.05})
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(done) == 1
    assert sorted(j.state for j in all_jobs(store_engine)) == ["done", "pending", "pending"]


def test_registry_rules() -> None:
    registry = Registry()
    registry.register("a", lambda ctx: None)
    with pytest.raises(ValueError, match="already has a handler"):
        registry.register("a", lambda ctx: None)
    with pytest.raises(ValueError, match="1 to 64"):
        registry.register("", lambda ctx: None)
    assert registry.kinds() == ["a"]
    assert registry.recurring() == []


def test_the_product_registry_has_the_nightly_refresh() -> None:
    registration = job_registry().get("scores.refresh")
    assert registration is not None
    assert registration.schedule is not None
    settings = Settings(timezone="Europe/Berlin", refresh_hour=4)
    assert registration.schedule(settings) == Daily(hour=4, timezone="Europe/Berlin")


def test_refresh_hour_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGULARS_REFRESH_HOUR", "5")
    monkeypatch.setenv("REGULARS_REFRESH_THREADS", "4")
    assert (Settings().refresh_hour, Settings().refresh_threads) == (5, 4)
    monkeypatch.setenv("REGULARS_REFRESH_HOUR", "25")
    with pytest.raises(ValueError, match="23"):
        Settings()


def _finish(engine: Engine, kind: str, at: Any) -> int:
    """A job of ``kind`` due and done at ``at``."""
    job_id = add_job(engine, kind, at)
    [claimed] = claim(engine, "w", at, kinds=[kind])
    with session_scope(engine) as session:
        assert mark_done(session, claimed, "w", at)
    return job_id


def test_nightly_prune_deletes_done_jobs_past_the_retention_only(
    store_engine: Engine, clock: Clock
) -> None:
    """T0 = 1 March 12:00 UTC. The prune runs at 2 March 05:00:01 UTC with a 30-day
    retention, so the cut-off is 31 January 05:00:01: a job done on 29 January 12:00 is
    deleted, one done on 31 January 12:00 is kept, and failed or pending jobs are kept
    whatever their age."""
    registry = job_registry()
    settings = Settings(job_retention_days=30)
    old = _finish(store_engine, "webhooks.old", T0 - timedelta(days=31))
    recent = _finish(store_engine, "webhooks.recent", T0 - timedelta(days=29))
    failed = add_job(store_engine, "gone", T0 - timedelta(days=90), max_attempts=1)
    [claimed] = claim(store_engine, "w", T0 - timedelta(days=90), kinds=["gone"])
    mark_failed(store_engine, claimed, "w", T0 - timedelta(days=90), RuntimeError("boom"))
    pending = add_job(store_engine, "later", T0 + timedelta(days=400))
    clock.now = T0
    worker = Worker(store_engine, registry, settings=settings, worker_id="w", clock=clock)
    worker.schedule_recurring()
    clock.now = T0.replace(hour=5, minute=0) + timedelta(days=1, seconds=1)
    [outcome] = [o for o in worker.run_due() if o.job.kind == "jobs.prune"]
    assert outcome.status == "done"
    assert outcome.result is not None
    assert outcome.result["deleted"] == 1
    ids = {j.id for j in all_jobs(store_engine)}
    assert old not in ids
    assert {recent, failed, pending} <= ids
    assert job(store_engine, failed).state == "failed"
