"""Background jobs: a queue on the store's ``jobs`` table, handlers by kind, a worker loop.

See ``docs/worker.md``. Registering a handler (other packages do this)::

    from regulars.worker import JobContext, registry

    @registry.handler("loyalty.expire", schedule=lambda s: Daily(hour=2, timezone=s.timezone))
    def expire(ctx: JobContext) -> dict[str, int] | None: ...

and queueing a one-off job::

    from regulars.worker import enqueue
    with session_scope(engine) as session:
        enqueue(session, "campaign.send", due_at, key="campaign-42")
"""

from regulars.worker.queue import JobInfo, backoff, claim, enqueue, list_jobs, retry
from regulars.worker.registry import HANDLER_MODULES, JobContext, Registry, load_handlers, registry
from regulars.worker.runner import Outcome, Worker
from regulars.worker.schedule import Daily, Every, Recurrence

__all__ = [
    "HANDLER_MODULES",
    "Daily",
    "Every",
    "JobContext",
    "JobInfo",
    "Outcome",
    "Recurrence",
    "Registry",
    "Worker",
    "backoff",
    "claim",
    "enqueue",
    "list_jobs",
    "load_handlers",
    "registry",
    "retry",
]
