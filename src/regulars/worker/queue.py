"""The job queue on the ``jobs`` table: enqueue, claim, complete, fail, retry.

States: ``pending`` → (claimed) ``running`` → ``done``, or back to ``pending`` with a later
``run_after`` after a failed attempt, or ``failed`` once ``max_attempts`` attempts failed.

* **Once per due time.** ``(kind, key, due_at)`` is unique and :func:`enqueue` inserts with
  ``ON CONFLICT DO NOTHING``, so enqueueing the same job for the same due time again is a
  no-op, whoever does it and however often.
* **Claimed by one worker.** :func:`claim` moves due jobs to ``running`` in one
  ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`` statement. On PostgreSQL the inner
  ``SELECT`` takes ``FOR UPDATE SKIP LOCKED``, so several workers claim at the same time
  without waiting for each other and never get the same job. SQLite runs one writer at a
  time, so the statement is atomic there too; run one worker per SQLite file (a second
  one would only queue behind the first for the write lock).
* **Attempts count started runs.** Claiming increments ``attempts``; a failed attempt
  sets ``run_after = now + backoff(attempts)`` or, when ``attempts = max_attempts``, the
  state ``failed``. Either way ``last_error`` keeps the exception's type and message.
* **Leases.** A running job carries ``locked_by`` and ``locked_at``; the worker renews
  ``locked_at`` while the handler runs (:func:`renew_lease`). A job whose lease is older
  than the lease timeout belongs to a worker that died: :func:`claim` takes it again (the
  attempt it was on counts as failed), and :func:`fail_expired` ends it as ``failed``
  when no attempt is left — a job that kills its worker cannot loop forever.

Handlers therefore run at least once per job and, unless a worker dies mid-run, exactly
once; writes a handler makes through the job's session commit together with ``done``
(see :mod:`regulars.worker.runner`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, and_, case, delete, literal, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from regulars.errors import RegularsError
from regulars.store.tables import Job
from regulars.store.upsert import dialect_insert

JOBS: Table = Job.__table__  # type: ignore[assignment]

DEFAULT_MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
BACKOFF_JITTER = 0.5
"""The share of the delay that jitter may take away (see :func:`backoff`)."""
ERROR_LIMIT = 2_000
"""Characters of an error message kept in ``last_error``."""


@dataclass(frozen=True)
class JobInfo:
    """A job as a handler and the CLI see it."""

    id: int
    kind: str
    key: str
    due_at: datetime
    run_after: datetime
    state: str
    attempts: int
    max_attempts: int
    payload: dict[str, Any]
    last_error: str | None
    locked_by: str | None
    locked_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Row[Any] | Job) -> JobInfo:
        return cls(
            id=row.id,
            kind=row.kind,
            key=row.key,
            due_at=row.due_at,
            run_after=row.run_after,
            state=row.state,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            payload=dict(row.payload or {}),
            last_error=row.last_error,
            locked_by=row.locked_by,
            locked_at=row.locked_at,
            finished_at=row.finished_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (timestamps as ISO 8601 UTC)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


def enqueue(
    session: Session,
    kind: str,
    due_at: datetime,
    *,
    key: str = "",
    payload: Mapping[str, Any] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int | None:
    """Add a job due at ``due_at`` (aware) in ``session``'s transaction.

    Returns the new job's id, or None when the same ``(kind, key, due_at)`` already
    existed (in any state): that job is left exactly as it was.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    statement = (
        dialect_insert(session, JOBS)
        .values(
            kind=kind,
            key=key,
            due_at=due_at,
            run_after=due_at,
            state="pending",
            attempts=0,
            max_attempts=max_attempts,
            payload=dict(payload or {}),
        )
        .on_conflict_do_nothing(index_elements=["kind", "key", "due_at"])
        .returning(JOBS.c.id)
    )
    new_id: int | None = session.connection().execute(statement).scalar_one_or_none()
    return new_id


def _due(now: datetime, lease: timedelta) -> Any:
    """Jobs a worker may take: due pending ones and running ones whose lease expired with
    an attempt left."""
    expired = and_(
        JOBS.c.state == "running",
        JOBS.c.locked_at < now - lease,
        JOBS.c.attempts < JOBS.c.max_attempts,
    )
    return or_(and_(JOBS.c.state == "pending", JOBS.c.run_after <= now), expired)


def claim(
    engine: Engine,
    worker_id: str,
    now: datetime,
    *,
    limit: int = 1,
    kinds: Sequence[str] | None = None,
    lease: timedelta = timedelta(minutes=10),
) -> list[JobInfo]:
    """Claim up to ``limit`` due jobs (oldest ``run_after`` first) for ``worker_id``.

    ``kinds`` restricts the claim to the kinds this worker has handlers for, so a job of
    a kind no running worker knows stays pending (and visible) instead of failing.
    Committed before returning: the jobs are ``running``, locked by ``worker_id``.
    """
    condition = _due(now, lease)
    if kinds is not None:
        if not kinds:
            return []
        condition = and_(condition, JOBS.c.kind.in_(list(kinds)))
    chosen = (
        select(JOBS.c.id)
        .where(condition)
        .order_by(JOBS.c.run_after, JOBS.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite ignores it (one writer)
    )
    statement = (
        update(JOBS)
        .where(JOBS.c.id.in_(chosen.scalar_subquery()))
        .values(
            state="running",
            attempts=JOBS.c.attempts + 1,
            # A running job taken again was abandoned: say so until this attempt ends.
            last_error=case((JOBS.c.state == "running", _lease_error()), else_=JOBS.c.last_error),
            locked_by=worker_id,
            locked_at=now,
            updated_at=now,
        )
        .returning(*JOBS.c)
    )
    with engine.begin() as conn:
        rows = conn.execute(statement).all()
    return sorted((JobInfo.from_row(r) for r in rows), key=lambda j: (j.run_after, j.id))


def fail_expired(engine: Engine, now: datetime, *, lease: timedelta) -> list[JobInfo]:
    """End as ``failed`` the running jobs whose lease expired with no attempt left."""
    statement = (
        update(JOBS)
        .where(
            JOBS.c.state == "running",
            JOBS.c.locked_at < now - lease,
            JOBS.c.attempts >= JOBS.c.max_attempts,
        )
        .values(
            state="failed",
            last_error=_lease_error(),
            finished_at=now,
            updated_at=now,
            locked_by=None,
            locked_at=None,
        )
        .returning(*JOBS.c)
    )
    with engine.begin() as conn:
        return [JobInfo.from_row(r) for r in conn.execute(statement).all()]


def _lease_error() -> Any:
    """``last_error`` for a job whose worker stopped renewing its lease (SQL expression)."""
    return literal("LeaseExpired: worker ") + JOBS.c.locked_by + literal(" stopped renewing")


def renew_lease(engine: Engine, job_id: int, worker_id: str, now: datetime) -> bool:
    """Move the lease of a running job forward; False when the job is no longer ours."""
    with engine.begin() as conn:
        result = conn.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.state == "running", JOBS.c.locked_by == worker_id)
            .values(locked_at=now)
        )
    return bool(result.rowcount)


def mark_done(
    session: Session,
    job: JobInfo,
    worker_id: str,
    now: datetime,
    result: Mapping[str, Any] | None = None,
) -> bool:
    """Mark ``job`` done in ``session``'s transaction (the handler's writes commit with it).

    ``result`` (a JSON object) is kept as ``payload["result"]``. False when the job is no
    longer ours (its lease expired and another worker took it).
    """
    payload = dict(job.payload)
    if result is not None:
        payload["result"] = dict(result)
    outcome = session.connection().execute(
        update(JOBS)
        .where(JOBS.c.id == job.id, JOBS.c.state == "running", JOBS.c.locked_by == worker_id)
        .values(
            state="done",
            payload=payload,
            finished_at=now,
            updated_at=now,
            locked_by=None,
            locked_at=None,
        )
    )
    return bool(outcome.rowcount)


def prune_done(session: Session, finished_before: datetime) -> int:
    """Delete the ``done`` jobs that finished before ``finished_before``; how many.

    Only ``done`` rows go: ``pending``/``running`` jobs are work, ``failed`` ones wait for
    an operator. Deleting a done row frees its ``(kind, key, due_at)``; the schedules only
    ever enqueue due times after *now*, so no recurring job runs again, but a one-off job
    enqueued again under the same key and due time after its row was pruned would run
    again: the retention is also how long such a key stays deduplicated.
    """
    result = session.connection().execute(
        delete(JOBS).where(JOBS.c.state == "done", JOBS.c.finished_at < finished_before)
    )
    return int(result.rowcount)


def describe_error(error: BaseException) -> str:
    """``Type: message``, cut to :data:`ERROR_LIMIT` characters."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def backoff(attempt: int, job_id: int) -> timedelta:
    """Delay before the next try after failed attempt number ``attempt`` (1, 2, …).

    ``delay = min(cap, base · 2^(attempt−1)) · (1 − jitter · u)`` with base 30 s, cap 1 h,
    jitter 0.5 and ``u ∈ [0, 1)`` taken from SHA-256 of ``(job_id, attempt)``. The jitter
    spreads retries of jobs that failed together (a database outage) over half the delay,
    yet is a pure function of the job, so tests and reruns see the same schedule.
    Example: attempt 3 of job 7 waits between 60 s and 120 s; its u is 0.0668, so
    120 s × (1 − 0.5 × 0.0668) = 116.0 s.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    plain = min(BACKOFF_CAP.total_seconds(), BACKOFF_BASE.total_seconds() * 2 ** (attempt - 1))
    digest = hashlib.sha256(f"{job_id}:{attempt}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return timedelta(seconds=plain * (1.0 - BACKOFF_JITTER * u))


def mark_failed(
    engine: Engine, job: JobInfo, worker_id: str, now: datetime, error: BaseException
) -> JobInfo | None:
    """Record a failed attempt: retry after :func:`backoff`, or ``failed`` when no attempt
    is left. Returns the updated job, None when it is no longer ours."""
    exhausted = job.attempts >= job.max_attempts
    values: dict[str, Any] = {
        "last_error": describe_error(error),
        "updated_at": now,
        "locked_by": None,
        "locked_at": None,
    }
    if exhausted:
        values.update(state="failed", finished_at=now)
    else:
        values.update(state="pending", run_after=now + backoff(job.attempts, job.id))
    statement = (
        update(JOBS)
        .where(JOBS.c.id == job.id, JOBS.c.state == "running", JOBS.c.locked_by == worker_id)
        .values(**values)
        .returning(*JOBS.c)
    )
    with engine.begin() as conn:
        row = conn.execute(statement).one_or_none()
    return None if row is None else JobInfo.from_row(row)


def retry(session: Session, job_id: int, now: datetime) -> JobInfo:
    """Put a failed job back to ``pending``, due now, with its attempts reset.

    ``last_error`` stays until the next attempt, so the reason it failed remains visible.
    Raises :class:`RegularsError` for an unknown job or one that is not ``failed``.
    """
    job = session.get(Job, job_id, with_for_update=True)
    if job is None:
        raise RegularsError(f"job {job_id} does not exist")
    if job.state != "failed":
        raise RegularsError(f"job {job_id} is {job.state}, not failed; only failed jobs retry")
    job.state = "pending"
    job.attempts = 0
    job.run_after = now
    job.finished_at = None
    session.flush()
    return JobInfo.from_row(job)


def list_jobs(
    engine: Engine,
    *,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 50,
) -> list[JobInfo]:
    """Jobs, newest due time first, optionally of one state and/or kind."""
    query = select(JOBS).order_by(JOBS.c.due_at.desc(), JOBS.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(JOBS.c.state == state)
    if kind is not None:
        query = query.where(JOBS.c.kind == kind)
    with engine.connect() as conn:
        return [JobInfo.from_row(r) for r in conn.execute(query).all()]
