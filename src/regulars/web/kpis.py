"""The dashboard's numbers, read from what the nightly scores refresh stored: the
dashboard snapshot (``dashboard_snapshots``: the report's KPIs, trend, goal, cohorts…,
computed by :mod:`regulars.scoring.dashboard`) and ``customer_scores`` (who is at risk).
No page reads the raw orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from regulars.scoring import at_risk as rule
from regulars.store.tables import Customer, CustomerScore, DashboardSnapshot
from regulars.store.types import MONEY

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


@dataclass(frozen=True)
class ScoreSummary:
    scored: int
    computed_at: datetime | None
    threshold: float | None
    """Churn risk (0–1) from which an active customer is at risk; None before any score."""
    at_risk: int
    value_at_risk: Decimal
    """Σ churn risk × 12-month CLV over the customers at risk."""


def score_summary(session: Session) -> ScoreSummary:
    """What the last scores refresh stored: how many were scored, and the customers at
    risk (the segments' sizes are in the dashboard snapshot)."""
    scored, computed_at = session.execute(
        select(func.count(), func.max(CustomerScore.computed_at))
    ).one()
    threshold = rule.at_risk_threshold(session)
    at_risk, value = 0, Decimal(0)
    if threshold is not None:
        at_risk, value = session.execute(
            select(func.count(), type_coerce(func.sum(rule.value_at_risk()), MONEY)).where(
                rule.at_risk(threshold)
            )
        ).one()
    return ScoreSummary(
        scored,
        computed_at,
        threshold,
        at_risk,
        value or Decimal("0.00"),
    )


def at_risk_customers(session: Session, limit: int = AT_RISK_ROWS) -> list[dict[str, Any]]:
    """Who to call first: active customers at risk, the largest value at risk (churn
    risk × 12-month CLV) first, as in the report (:mod:`regulars.models.risk`)."""
    threshold = rule.at_risk_threshold(session)
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
        .where(rule.at_risk(threshold))
        .order_by(rule.value_at_risk().desc().nulls_last(), Customer.customer_id)
        .limit(limit)
    ).all()
    return [row._asdict() for row in rows]
