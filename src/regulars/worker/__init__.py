"""Background jobs: a queue on the store's ``jobs`` table, handlers by kind, a worker loop.

See ``docs/worker.md``. A domain declares its jobs as :class:`Registration` values in its
contribution (:mod:`regulars.domain`); queueing a one-off job::

    from regulars.worker import enqueue
    with session_scope(engine) as session:
        enqueue(session, "campaign.send", due_at, key="campaign-42")
"""

from regulars.worker.queue import JobInfo, backoff, claim, enqueue, list_jobs, retry
from regulars.worker.registry import JobContext, Registration, Registry
from regulars.worker.runner import Outcome, Worker
from regulars.worker.schedule import Daily, Every, Recurrence

__all__ = [
    "Daily",
    "Every",
    "JobContext",
    "JobInfo",
    "Outcome",
    "Recurrence",
    "Registration",
    "Registry",
    "Worker",
    "backoff",
    "claim",
    "enqueue",
    "list_jobs",
    "retry",
]
