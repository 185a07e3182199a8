"""The dashboard's numbers, read from what the nightly scores refresh stored: the
dashboard snapshot (``dashboard_snapshots``: the report's KPIs, trend, goal, cohorts…,
computed by :mod:`regulars.scoring.dashboard`) and ``customer_scores`` (who is at risk).
No page reads the raw orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.scoring import at_risk as rule
from regulars.store.tables import Customer, CustomerScore, DashboardSnapshot

AT_RISK_ROWS = 10


@dataclass(frozen=True)
class Snapshot:
    """A dashboard snapshot as stored by the scores refresh
    (:mod:`regulars.scoring.dashboard`)."""

    computed_at: datetime
    as_of: date
    document: dict[str, Any]

    @property
    def end(self) -> date:
        """The day after the last day the snapshot's periods cover."""
        return date.fromisoformat(self.document["end"])

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)


def latest_snapshots(session: Session, count: int = 1) -> list[Snapshot]:
    """The ``count`` newest dashboard snapshots, newest first (one indexed read)."""
    rows = session.scalars(
        select(DashboardSnapshot)
        .order_by(DashboardSnapshot.computed_at.desc(), DashboardSnapshot.id.desc())
        .limit(count)
    ).all()
    return [Snapshot(row.computed_at, row.as_of, row.document) for row in rows]


def score_summary(session: Session, snapshot: Snapshot | None = None) -> rule.RiskSummary:
    """What the last scores refresh stored (how many were scored, the customers at risk):
    from ``snapshot``, where the refresh wrote it, else from ``customer_scores``."""
    stored = snapshot.document.get("scores") if snapshot is not None else None
    return rule.RiskSummary.from_json(stored) if stored else rule.risk_summary(session)


def at_risk_customers(
    session: Session, threshold: float | None, limit: int = AT_RISK_ROWS
) -> list[dict[str, Any]]:
    """Who to call first: active customers at risk at ``threshold`` (the score summary's),
    the largest value at risk (churn risk × 12-month CLV) first, as in the report
    (:mod:`regulars.models.risk`)."""
    if threshold is None:
        return []
    rows = session.execute(
        select(
            Customer.customer_id,
            Customer.name,
            CustomerScore.segment,
            CustomerScore.churn_risk,
            CustomerScore.clv_12m,
        )
        .join(CustomerScore, CustomerScore.customer_id == Customer.customer_id)
        # A customer without a CLV has no value at risk to rank by; the index
        # ix_customer_scores_value_at_risk serves exactly this order.
        .where(rule.at_risk(threshold), CustomerScore.clv_12m.is_not(None))
        .order_by(rule.value_at_risk().desc(), Customer.customer_id)
        .limit(limit)
    ).all()
    return [row._asdict() for row in rows]
