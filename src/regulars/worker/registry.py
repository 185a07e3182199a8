"""Which function runs a job of each kind: the handler registry.

A domain declares its background work as :class:`Registration` values in its
contribution (:class:`regulars.domain.Contribution`); the composition root
(:func:`regulars.wiring.job_registry`) puts every one into the :class:`Registry` that
``regulars worker`` runs. A handler takes the :class:`JobContext` and returns ``None`` or
a small JSON object (kept with the done job)::

    from regulars.worker.registry import JobContext, Registration
    from regulars.worker.schedule import Daily

    def expire_points(ctx: JobContext) -> dict[str, int]:
        expired = ...  # write through ctx.session: it commits together with "done"
        return {"lots_expired": expired}

    EXPIRE = Registration(
        "loyalty.expire",
        expire_points,
        schedule=lambda settings: Daily(hour=2, timezone=settings.timezone),
    )

One-off jobs are queued with :func:`regulars.worker.queue.enqueue` (for example a
campaign send due at a given time, keyed by the campaign id).

Rules for handlers:

* **Idempotent.** A job runs once per ``(kind, key, due_at)``, but a worker that dies
  mid-run means the job runs again after its lease expires. Writes made through
  ``ctx.session`` are atomic with marking the job done; anything else (an email, an
  external call) must carry its own idempotency key (the outbox's unique key).
* **Raise to fail.** Any exception is a failed attempt: it is retried with backoff until
  ``max_attempts`` is used up (see :mod:`regulars.worker.queue`). Its type and message are
  shown by ``regulars jobs``, so make the message say what to fix.
* **Recurring** kinds give ``schedule``: a function of the settings returning a
  :class:`~regulars.worker.schedule.Recurrence`. The worker enqueues the next occurrence
  when it starts and whenever an occurrence ends (done or failed for good).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from regulars.config import Settings
from regulars.worker.queue import DEFAULT_MAX_ATTEMPTS, JobInfo
from regulars.worker.schedule import Recurrence


@dataclass(frozen=True)
class JobContext:
    """What a handler gets: the job, the store and the moment it runs.

    ``session`` is one transaction that commits together with marking the job done and
    rolls back when the handler raises. ``engine`` is there for work too large for one
    transaction (batches that commit on their own; they must be idempotent).
    """

    job: JobInfo
    session: Session
    engine: Engine
    settings: Settings
    worker_id: str
    now: datetime


Handler = Callable[[JobContext], Mapping[str, Any] | None]
ScheduleFactory = Callable[[Settings], Recurrence]


@dataclass(frozen=True)
class Registration:
    """One kind: its handler, its schedule when recurring, and the attempts it gets."""

    kind: str
    handler: Handler
    schedule: ScheduleFactory | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


class Registry:
    """Handlers by job kind. The product's is :func:`regulars.wiring.job_registry`; tests
    make their own."""

    def __init__(self) -> None:
        self._registrations: dict[str, Registration] = {}

    def register(
        self,
        kind: str,
        handler: Handler,
        *,
        schedule: ScheduleFactory | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        """Run ``handler`` for jobs of ``kind``. A kind has one handler: registering a
        second one for the same kind is an error (two modules would fight over it)."""
        self.add(Registration(kind, handler, schedule, max_attempts))

    def add(self, registration: Registration) -> None:
        """:meth:`register` for a declared :class:`Registration`."""
        kind = registration.kind
        if not kind or len(kind) > 64:
            raise ValueError("a job kind is 1 to 64 characters, e.g. 'loyalty.expire'")
        if registration.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        existing = self._registrations.get(kind)
        if existing is not None and existing.handler is not registration.handler:
            raise ValueError(f"job kind {kind!r} already has a handler")
        self._registrations[kind] = registration

    def handler(
        self,
        kind: str,
        *,
        schedule: ScheduleFactory | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`; returns the function unchanged."""

        def decorate(function: Handler) -> Handler:
            self.register(kind, function, schedule=schedule, max_attempts=max_attempts)
            return function

        return decorate

    def get(self, kind: str) -> Registration | None:
        return self._registrations.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._registrations)

    def recurring(self) -> list[Registration]:
        return [r for _, r in sorted(self._registrations.items()) if r.schedule is not None]
