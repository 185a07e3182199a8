"""The worker's own job: ``jobs.prune``, the nightly clean-up of the queue itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from regulars.config import Settings
from regulars.worker.queue import prune_done
from regulars.worker.registry import JobContext, Registration
from regulars.worker.schedule import Daily

JOBS_PRUNE = "jobs.prune"
PRUNE_HOUR = 5


def prune_schedule(settings: Settings) -> Daily:
    """Every day at 05:00 in the shop's time zone, after the night's other jobs."""
    return Daily(hour=PRUNE_HOUR, timezone=settings.timezone)


def prune_jobs_job(ctx: JobContext) -> dict[str, Any]:
    """Delete done jobs older than ``job_retention_days`` (:func:`~regulars.worker.queue.
    prune_done`); without it the 5-minute webhook job alone leaves 288 rows a day."""
    cutoff = ctx.now - timedelta(days=ctx.settings.job_retention_days)
    return {"deleted": prune_done(ctx.session, cutoff), "finished_before": cutoff.isoformat()}


PRUNE_JOBS = Registration(JOBS_PRUNE, prune_jobs_job, schedule=prune_schedule, max_attempts=3)
"""Registered by the composition root (:mod:`regulars.wiring`) beside the domains' jobs."""
