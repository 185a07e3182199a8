"""What scoring adds to the others: its nightly job, its merge rule, its 360 section."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.orm import Session

from regulars.config import Settings
from regulars.domain import Contribution, MergeRule
from regulars.store.audit import record
from regulars.store.tables import Customer, CustomerScore, Job
from regulars.worker.queue import enqueue
from regulars.worker.registry import JobContext, Registration
from regulars.worker.schedule import Daily

log = logging.getLogger("regulars.worker")

SCORES: Table = CustomerScore.__table__  # type: ignore[assignment]
SCORES_REFRESH = "scores.refresh"
REFRESH_ATTEMPTS = 3
SCORE_COLUMNS = (
    "segment",
    "kind",
    "stage",
    "p_alive",
    "clv_12m",
    "churn_risk",
    "computed_at",
    "stale_reason",
)


def nightly(settings: Settings) -> Daily:
    """Every day at ``refresh_hour`` (default 3) in the shop's time zone."""
    return Daily(hour=settings.refresh_hour, timezone=settings.timezone)


def refresh_scores_job(ctx: JobContext) -> dict[str, Any]:
    """Recompute and write back every customer's scores (:mod:`regulars.scoring.refresh`).

    The writes go in batches through ``ctx.engine`` (too many rows for one transaction);
    a rerun after a crash simply recomputes and upserts again.
    """
    # Imported when the job runs: the refresh loads Ibis and NumPy, which the API (it
    # imports this module through the composition root) must not load at start.
    from regulars.scoring.refresh import refresh_scores

    result = refresh_scores(ctx.engine, settings=ctx.settings, now=ctx.now)
    for problem in result.problems:
        log.warning("scores.refresh: %s; its columns were written as NULL", problem)
    return result.to_dict()


def queue_refresh(session: Session, *, actor: str, now: datetime) -> bool:
    """Queue a scores refresh (scores and dashboard snapshot) to run now, unless one is
    already waiting or running; audited as ``scores.refresh.queue``. Returns whether a job
    was queued. The worker (``regulars worker``) runs it."""
    waiting = session.scalar(
        select(Job.id)
        .where(Job.kind == SCORES_REFRESH, Job.state.in_(("pending", "running")))
        .where(Job.run_after <= now)
        .limit(1)
    )
    if waiting is not None:
        return False
    job_id = enqueue(session, SCORES_REFRESH, now, key="manual", max_attempts=REFRESH_ATTEMPTS)
    record(
        session,
        actor=actor,
        action="scores.refresh.queue",
        target_type="job",
        target_id=None if job_id is None else str(job_id),
        details={"due_at": now.isoformat()},
    )
    return job_id is not None


def drop_scores(conn: Connection, _survivor_id: str, duplicate_id: str) -> int:
    """The duplicate's scores go; the next analytics refresh scores the merged history."""
    return conn.execute(delete(SCORES).where(SCORES.c.customer_id == duplicate_id)).rowcount


def scores_section(session: Session, customer: Customer) -> dict[str, Any] | None:
    """What the analytics last wrote back (``customer_scores``), or ``None``."""
    row = session.execute(
        select(*(SCORES.c[name] for name in SCORE_COLUMNS)).where(
            SCORES.c.customer_id == customer.customer_id
        )
    ).one_or_none()
    return None if row is None else dict(row._mapping)


CONTRIBUTION = Contribution(
    "scoring",
    merge_rules=(MergeRule("scores_dropped", ("customer_scores",), drop_scores),),
    sections={"scores": scores_section},
    jobs=(
        Registration(
            SCORES_REFRESH, refresh_scores_job, schedule=nightly, max_attempts=REFRESH_ATTEMPTS
        ),
    ),
)
