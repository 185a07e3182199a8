"""The worker's own handlers: the nightly ``scores.refresh`` and ``jobs.prune``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from regulars.config import Settings
from regulars.scoring import refresh_scores
from regulars.worker.queue import prune_done
from regulars.worker.registry import JobContext, registry
from regulars.worker.schedule import Daily

log = logging.getLogger("regulars.worker")

SCORES_REFRESH = "scores.refresh"
JOBS_PRUNE = "jobs.prune"
PRUNE_HOUR = 5


def nightly(settings: Settings) -> Daily:
    """Every day at ``refresh_hour`` (default 3) in the shop's time zone."""
    return Daily(hour=settings.refresh_hour, timezone=settings.timezone)


@registry.handler(SCORES_REFRESH, schedule=nightly, max_attempts=3)
def refresh_scores_job(ctx: JobContext) -> dict[str, Any]:
    """Recompute and write back every customer's scores (:mod:`regulars.scoring`).

    The writes go in batches through ``ctx.engine`` (too many rows for one transaction);
    a rerun after a crash simply recomputes and upserts again.
    """
    result = refresh_scores(ctx.engine, settings=ctx.settings, now=ctx.now)
    for problem in result.problems:
        log.warning("scores.refresh: %s; its columns were written as NULL", problem)
    return result.to_dict()


def prune_schedule(settings: Settings) -> Daily:
    """Every day at 05:00 in the shop's time zone, after the night's other jobs."""
    return Daily(hour=PRUNE_HOUR, timezone=settings.timezone)


@registry.handler(JOBS_PRUNE, schedule=prune_schedule, max_attempts=3)
def prune_jobs_job(ctx: JobContext) -> dict[str, Any]:
    """Delete done jobs older than ``job_retention_days`` (:func:`~regulars.worker.queue.
    prune_done`); without it the 5-minute webhook job alone leaves 288 rows a day."""
    cutoff = ctx.now - timedelta(days=ctx.settings.job_retention_days)
    return {"deleted": prune_done(ctx.session, cutoff), "finished_before": cutoff.isoformat()}
