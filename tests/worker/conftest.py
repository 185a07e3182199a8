"""Fixtures for the worker tests: a settable clock and a private handler registry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from regulars.store.session import session_scope
from regulars.store.tables import Job
from regulars.worker.queue import JobInfo, enqueue

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def add_job(engine: Engine, kind: str, due_at: datetime, **options: object) -> int:
    """Enqueue one job and return its id."""
    with session_scope(engine) as session:
        job_id = enqueue(session, kind, due_at, **options)  # type: ignore[arg-type]
    assert job_id is not None
    return job_id


def job(engine: Engine, job_id: int) -> JobInfo:
    with session_scope(engine) as session:
        row = session.get(Job, job_id)
        assert row is not None
        return JobInfo.from_row(row)


def all_jobs(engine: Engine) -> list[JobInfo]:
    with session_scope(engine) as session:
        return [JobInfo.from_row(r) for r in session.scalars(select(Job).order_by(Job.id))]
