"""The job queue (:mod:`regulars.worker.queue`) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from regulars.errors import RegularsError
from regulars.store.session import session_scope
from regulars.store.tables import Job
from regulars.worker.queue import (
    BACKOFF_CAP,
    backoff,
    claim,
    describe_error,
    enqueue,
    fail_expired,
    list_jobs,
    mark_done,
    mark_failed,
    renew_lease,
    retry,
)

from .conftest import T0, add_job, all_jobs, job

LEASE = timedelta(minutes=10)


def test_enqueue_is_idempotent_per_kind_key_and_due_time(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        assert enqueue(session, "scores.refresh", T0, payload={"a": 1})
        assert not enqueue(session, "scores.refresh", T0, payload={"a": 2})
        assert enqueue(session, "scores.refresh", T0 + timedelta(days=1))
        assert enqueue(session, "scores.refresh", T0, key="shop-2")
        assert enqueue(session, "loyalty.expire", T0)
    with session_scope(store_engine) as session:  # a later transaction: still once
        assert not enqueue(session, "scores.refresh", T0)
        count = session.scalar(select(func.count()).select_from(Job))
    assert count == 4
    first = all_jobs(store_engine)[0]
    assert (first.state, first.attempts, first.run_after, first.payload) == (
        "pending",
        0,
        T0,
        {"a": 1},
    )


def test_a_done_job_is_not_enqueued_again_for_the_same_due_time(store_engine: Engine) -> None:
    job_id = add_job(store_engine, "k", T0)
    [claimed] = claim(store_engine, "w1", T0)
    with session_scope(store_engine) as session:
        assert mark_done(session, claimed, "w1", T0)
    with session_scope(store_engine) as session:
        assert not enqueue(session, "k", T0)
    assert job(store_engine, job_id).state == "done"
    assert claim(store_engine, "w1", T0 + timedelta(days=1)) == []


def test_claim_takes_due_jobs_oldest_first_and_only_once(store_engine: Engine) -> None:
    late = add_job(store_engine, "k", T0 + timedelta(minutes=5))
    early = add_job(store_engine, "k", T0 - timedelta(minutes=5))
    future = add_job(store_engine, "k", T0 + timedelta(hours=1))
    claimed = claim(store_engine, "w1", T0 + timedelta(minutes=10), limit=10)
    assert [j.id for j in claimed] == [early, late]
    assert all(j.state == "running" and j.locked_by == "w1" and j.attempts == 1 for j in claimed)
    assert claim(store_engine, "w2", T0 + timedelta(minutes=10), limit=10) == []
    assert job(store_engine, future).state == "pending"


def test_claim_only_takes_the_kinds_asked_for(store_engine: Engine) -> None:
    add_job(store_engine, "unknown.kind", T0)
    known = add_job(store_engine, "scores.refresh", T0)
    assert [j.id for j in claim(store_engine, "w", T0, limit=5, kinds=["scores.refresh"])] == [
        known
    ]
    assert claim(store_engine, "w", T0, kinds=[]) == []
    assert [j.state for j in all_jobs(store_engine)] == ["pending", "running"]


def test_done_keeps_the_result_and_clears_the_lock(store_engine: Engine) -> None:
    job_id = add_job(store_engine, "k", T0, payload={"shop": "a"})
    [claimed] = claim(store_engine, "w1", T0)
    with session_scope(store_engine) as session:
        assert mark_done(session, claimed, "w1", T0 + timedelta(seconds=3), {"rows": 7})
    done = job(store_engine, job_id)
    assert done.state == "done"
    assert done.payload == {"shop": "a", "result": {"rows": 7}}
    assert done.finished_at == T0 + timedelta(seconds=3)
    assert (done.locked_by, done.locked_at) == (None, None)


def test_backoff_worked_example_and_bounds() -> None:
    # Attempt 3 of job 7: 30 s · 2² = 120 s before jitter; u = SHA-256("7:3")[:8] / 2⁶⁴.
    import hashlib

    u = int.from_bytes(hashlib.sha256(b"7:3").digest()[:8], "big") / 2**64
    assert round(u, 4) == 0.0668
    assert backoff(3, 7) == timedelta(seconds=120 * (1 - 0.5 * u))
    assert backoff(3, 7) == backoff(3, 7)  # deterministic
    for attempt in range(1, 20):
        plain = min(30 * 2 ** (attempt - 1), BACKOFF_CAP.total_seconds())
        assert plain / 2 < backoff(attempt, 11).total_seconds() <= plain
    assert backoff(19, 11) <= BACKOFF_CAP
    with pytest.raises(ValueError, match="start at 1"):
        backoff(0, 1)


def test_failures_back_off_then_fail_for_good_with_the_last_error(store_engine: Engine) -> None:
    job_id = add_job(store_engine, "k", T0, max_attempts=3)
    now = T0
    for attempt in (1, 2):
        [claimed] = claim(store_engine, "w1", now)
        assert claimed.attempts == attempt
        updated = mark_failed(store_engine, claimed, "w1", now, ValueError(f"bad row {attempt}"))
        assert updated is not None
        assert updated.state == "pending"
        assert updated.run_after == now + backoff(attempt, job_id)
        assert updated.last_error == f"ValueError: bad row {attempt}"
        assert claim(store_engine, "w1", updated.run_after - timedelta(seconds=1)) == []
        now = updated.run_after
    [claimed] = claim(store_engine, "w1", now)
    final = mark_failed(store_engine, claimed, "w1", now, KeyError("customer_id"))
    assert final is not None
    assert (final.state, final.attempts, final.finished_at) == ("failed", 3, now)
    assert final.last_error == "KeyError: 'customer_id'"
    assert claim(store_engine, "w1", now + timedelta(days=30)) == []
    assert [j.id for j in list_jobs(store_engine, state="failed")] == [job_id]


def test_long_error_messages_are_cut() -> None:
    text = describe_error(RuntimeError("x" * 5000))
    assert len(text) == 2000
    assert text.startswith("RuntimeError: xxx")
    assert text.endswith("…")


def test_a_job_whose_worker_died_is_reclaimed_after_the_lease(store_engine: Engine) -> None:
    job_id = add_job(store_engine, "k", T0)
    [first] = claim(store_engine, "dead-worker", T0, lease=LEASE)
    assert claim(store_engine, "w2", T0 + LEASE, lease=LEASE) == []  # lease not yet expired
    [again] = claim(store_engine, "w2", T0 + LEASE + timedelta(seconds=1), lease=LEASE)
    assert again.id == first.id == job_id
    assert (again.locked_by, again.attempts) == ("w2", 2)
    assert again.last_error == "LeaseExpired: worker dead-worker stopped renewing"
    # The dead worker's late completion is refused: the job is no longer its own.
    with session_scope(store_engine) as session:
        assert not mark_done(session, first, "dead-worker", T0 + LEASE)
    assert mark_failed(store_engine, first, "dead-worker", T0, RuntimeError()) is None
    assert job(store_engine, job_id).locked_by == "w2"


def test_renewing_the_lease_keeps_the_job(store_engine: Engine) -> None:
    add_job(store_engine, "k", T0)
    [claimed] = claim(store_engine, "w1", T0, lease=LEASE)
    assert renew_lease(store_engine, claimed.id, "w1", T0 + timedelta(minutes=9))
    assert claim(store_engine, "w2", T0 + timedelta(minutes=15), lease=LEASE) == []
    assert not renew_lease(store_engine, claimed.id, "someone-else", T0)


def test_an_abandoned_last_attempt_fails_instead_of_looping(store_engine: Engine) -> None:
    job_id = add_job(store_engine, "k", T0, max_attempts=1)
    claim(store_engine, "dead-worker", T0, lease=LEASE)
    later = T0 + LEASE + timedelta(minutes=1)
    assert claim(store_engine, "w2", later, lease=LEASE) == []
    [failed] = fail_expired(store_engine, later, lease=LEASE)
    assert failed.id == job_id
    assert failed.state == "failed"
    assert failed.last_error == "LeaseExpired: worker dead-worker stopped renewing"
    assert fail_expired(store_engine, later, lease=LEASE) == []


def test_retry_puts_a_failed_job_back(store_engine: Engine) -> None:
    job_id = add_job(store_engine, "k", T0, max_attempts=1)
    [claimed] = claim(store_engine, "w", T0)
    mark_failed(store_engine, claimed, "w", T0, RuntimeError("smtp down"))
    later = T0 + timedelta(hours=2)
    with session_scope(store_engine) as session:
        again = retry(session, job_id, later)
    assert (again.state, again.attempts, again.run_after) == ("pending", 0, later)
    assert again.last_error == "RuntimeError: smtp down"
    assert [j.id for j in claim(store_engine, "w", later)] == [job_id]
    with session_scope(store_engine) as session, pytest.raises(RegularsError, match="running"):
        retry(session, job_id, later)
    with session_scope(store_engine) as session, pytest.raises(RegularsError, match="not exist"):
        retry(session, 999_999, later)


def test_list_jobs_filters_by_state_and_kind(store_engine: Engine) -> None:
    a = add_job(store_engine, "a", T0)
    b = add_job(store_engine, "b", T0 + timedelta(hours=1))
    claim(store_engine, "w", T0, kinds=["a"])
    assert [j.id for j in list_jobs(store_engine)] == [b, a]  # newest due first
    assert [j.id for j in list_jobs(store_engine, state="running")] == [a]
    assert [j.id for j in list_jobs(store_engine, kind="b")] == [b]
    assert [j.id for j in list_jobs(store_engine, limit=1)] == [b]
