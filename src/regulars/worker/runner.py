"""The worker: claim due jobs, run their handlers, record the outcome, keep schedules going.

One job at a time per worker (claims are of one job, so several workers on PostgreSQL
share the queue fairly). For each job:

1. :func:`~regulars.worker.queue.claim` it (``running``, ``attempts + 1``, leased to us);
2. run its handler with a :class:`~regulars.worker.registry.JobContext` while a
   heartbeat thread renews the lease every quarter of the lease timeout;
3. on success mark it ``done`` in the handler's own session (one commit for both) and,
   for a recurring kind, enqueue the next occurrence in that same transaction; on an
   exception record the failed attempt (retry with backoff, or ``failed``), and enqueue
   the next occurrence when it failed for good.

:meth:`Worker.run` loops until its stop event is set (the CLI sets it on SIGINT/SIGTERM):
the job in progress finishes first, nothing is cut off halfway.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.config import Settings
from regulars.store.session import session_factory
from regulars.store.shop_settings import effective_for
from regulars.worker.queue import (
    JobInfo,
    claim,
    describe_error,
    enqueue,
    fail_expired,
    mark_done,
    mark_failed,
    renew_lease,
)
from regulars.worker.registry import JobContext, Registration, Registry

log = logging.getLogger("regulars.worker")

DEFAULT_LEASE = timedelta(minutes=10)
DEFAULT_POLL_SECONDS = 5.0

Status = Literal["done", "retry", "failed", "lost"]
"""``retry``: the attempt failed, another follows; ``lost``: the lease was taken over."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed job."""

    job: JobInfo
    status: Status
    seconds: float
    result: dict[str, Any] | None = None
    error: str | None = None
    run_after: datetime | None = None


def default_worker_id() -> str:
    """``host:pid``: unique among the workers running at one time."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Worker:
    """Runs the jobs of the kinds in ``registry`` on the store at ``engine``."""

    engine: Engine
    registry: Registry
    settings: Settings = field(default_factory=Settings)
    worker_id: str = field(default_factory=default_worker_id)
    lease: timedelta = DEFAULT_LEASE
    clock: Callable[[], datetime] = utcnow

    # -- schedules ------------------------------------------------------------------------

    def schedule_recurring(self) -> int:
        """Enqueue the next occurrence of every recurring kind (no-op where it exists).
        Returns how many were new."""
        now = self.clock()
        new = 0
        with session_factory(self.engine).begin() as session:
            for registration in self.registry.recurring():
                new += self._enqueue_next(session, registration, now)
        return new

    def _enqueue_next(self, session: Session, registration: Registration, after: datetime) -> int:
        assert registration.schedule is not None
        due = registration.schedule(self.settings).next_after(after)
        created = enqueue(session, registration.kind, due, max_attempts=registration.max_attempts)
        if created is None:
            return 0
        log.info("scheduled %s (job %s) at %s", registration.kind, created, due.isoformat())
        return 1

    # -- running --------------------------------------------------------------------------

    def run_one(self) -> Outcome | None:
        """Claim one due job and run it; None when nothing is due."""
        jobs = claim(
            self.engine,
            self.worker_id,
            self.clock(),
            limit=1,
            kinds=self.registry.kinds(),
            lease=self.lease,
        )
        return self._run(jobs[0]) if jobs else None

    def run_due(self, stop: threading.Event | None = None) -> list[Outcome]:
        """Run jobs until none is due (or ``stop`` is set); the outcomes in order."""
        self._end_abandoned()
        outcomes: list[Outcome] = []
        while stop is None or not stop.is_set():
            outcome = self.run_one()
            if outcome is None:
                break
            outcomes.append(outcome)
        return outcomes

    def run(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        """Run due jobs, then wait ``poll_seconds``, until ``stop`` is set.

        A database that cannot be reached is logged and tried again at the next poll, so
        a restart of PostgreSQL does not end the worker.
        """
        report = on_outcome or (lambda _outcome: None)
        self.schedule_recurring()
        while not stop.is_set():
            try:
                self._end_abandoned()
                while not stop.is_set() and (outcome := self.run_one()) is not None:
                    report(outcome)
            except Exception:
                log.exception("worker %s: cannot poll the queue; trying again", self.worker_id)
            stop.wait(poll_seconds)

    def _end_abandoned(self) -> None:
        """Fail the jobs whose worker died on their last attempt; keep their schedules."""
        for job in fail_expired(self.engine, self.clock(), lease=self.lease):
            log.warning("job %s (%s) abandoned on its last attempt: failed", job.id, job.kind)
            self._after_final_failure(job)

    def _run(self, job: JobInfo) -> Outcome:
        registration = self.registry.get(job.kind)
        assert registration is not None  # claim() only takes registered kinds
        started = time.perf_counter()
        log.info("job %s (%s) attempt %s/%s", job.id, job.kind, job.attempts, job.max_attempts)
        session = session_factory(self.engine)()
        try:
            with _Heartbeat(self, job):
                # The shop settings the owner saved in the app win over the environment's.
                settings, _name = effective_for(self.engine, self.settings)
                context = JobContext(
                    job, session, self.engine, settings, self.worker_id, self.clock()
                )
                result = registration.handler(context)
                kept = None if result is None else dict(result)
                if not self._finish(session, registration, job, kept):
                    session.rollback()
                    return Outcome(job, "lost", time.perf_counter() - started, kept)
                session.commit()
        except Exception as error:
            session.rollback()
            return self._failed(job, error, time.perf_counter() - started)
        finally:
            session.close()
        log.info("job %s (%s) done", job.id, job.kind)
        return Outcome(job, "done", time.perf_counter() - started, kept)

    def _finish(
        self,
        session: Session,
        registration: Registration,
        job: JobInfo,
        result: dict[str, Any] | None,
    ) -> bool:
        now = self.clock()
        if not mark_done(session, job, self.worker_id, now, result):
            log.warning("job %s (%s): lease lost to another worker", job.id, job.kind)
            return False
        if registration.schedule is not None:
            self._enqueue_next(session, registration, max(job.due_at, now))
        return True

    def _failed(self, job: JobInfo, error: Exception, seconds: float) -> Outcome:
        log.warning("job %s (%s) failed: %s", job.id, job.kind, describe_error(error))
        updated = mark_failed(self.engine, job, self.worker_id, self.clock(), error)
        if updated is None:
            return Outcome(job, "lost", seconds, error=describe_error(error))
        if updated.state == "failed":
            self._after_final_failure(updated)
            return Outcome(updated, "failed", seconds, error=describe_error(error))
        return Outcome(
            updated, "retry", seconds, error=describe_error(error), run_after=updated.run_after
        )

    def _after_final_failure(self, job: JobInfo) -> None:
        """A recurring kind goes on after an occurrence failed for good."""
        registration = self.registry.get(job.kind)
        if registration is None or registration.schedule is None:
            return
        with session_factory(self.engine).begin() as session:
            self._enqueue_next(session, registration, max(job.due_at, self.clock()))


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by the first SIGINT or SIGTERM, for :meth:`Worker.run`.

    The first signal asks for a clean stop (the current job finishes); the handlers are
    then restored, so a second Ctrl-C interrupts at once. Main thread only.
    """
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.getsignal(number) or signal.SIG_DFL for number in signals}

    def request_stop(number: int, _frame: object) -> None:
        log.info("received %s: stopping after the current job", signal.Signals(number).name)
        stop.set()
        for other, handler in previous.items():
            signal.signal(other, handler)

    for number in signals:
        signal.signal(number, request_stop)
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class _Heartbeat:
    """Renews a running job's lease every quarter of the lease timeout, in a thread."""

    def __init__(self, worker: Worker, job: JobInfo) -> None:
        self._worker = worker
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job.id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        interval = self._worker.lease.total_seconds() / 4
        while not self._stop.wait(interval):
            try:
                renew_lease(
                    self._worker.engine, self._job.id, self._worker.worker_id, self._worker.clock()
                )
            except Exception:  # a missed beat is retried; the lease has 3 more in reserve
                log.warning("job %s: could not renew the lease", self._job.id, exc_info=True)
