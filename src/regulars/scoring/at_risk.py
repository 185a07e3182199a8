"""Who to call, from the stored scores: the report's rule (:mod:`regulars.models.risk`)
as SQL over ``customer_scores``, for the web app's dashboard and customer list and the
API's customer search alike.

A customer is **at risk** when still active (last counted purchase within the activity
window, ``customer_scores.active``) and their churn risk is at least
:func:`regulars.models.risk.risk_threshold` of the shop's base rate: twice the odds of
the typical customer. The **base rate** is the mean stored churn risk: the classifier's
probabilities are calibrated, so their mean is the share of customers expected to go 90
days without a purchase — the quantity the report takes from its training labels. The
**value at risk** is churn risk × 12-month CLV; the list is ranked by it, largest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, type_coerce
from sqlalchemy.orm import Session

from regulars.store.tables import CustomerScore, DashboardSnapshot
from regulars.store.types import MONEY

__all__ = [
    "RiskSummary",
    "at_risk",
    "at_risk_threshold",
    "current_threshold",
    "risk_summary",
    "value_at_risk",
]


def at_risk_threshold(session: Session) -> float | None:
    """The churn risk (0–1) from which an active customer is at risk, for the stored
    scores; None when no customer has a churn risk yet."""
    # Imported here: the models package loads Ibis and NumPy, which the API and the web
    # app must not pay for at start.
    from regulars.models.risk import risk_threshold

    base_rate = session.scalar(select(func.avg(CustomerScore.churn_risk)))
    return None if base_rate is None else risk_threshold(float(base_rate))


def current_threshold(session: Session) -> float | None:
    """The threshold the last scores refresh stored with its dashboard snapshot (so every
    page and the API use the dashboard's, without scanning the scores), or, before any
    snapshot, :func:`at_risk_threshold` of the stored scores."""
    document = session.scalar(
        select(DashboardSnapshot.document)
        .order_by(DashboardSnapshot.computed_at.desc(), DashboardSnapshot.id.desc())
        .limit(1)
    )
    stored = document.get("scores") if document else None
    if stored:
        threshold: float | None = stored["threshold"]
        return threshold
    return at_risk_threshold(session)


def at_risk(threshold: float) -> ColumnElement[bool]:
    """The condition on ``customer_scores`` for a customer at risk at ``threshold``."""
    return and_(CustomerScore.active.is_(True), CustomerScore.churn_risk >= threshold)


def value_at_risk() -> ColumnElement[Decimal]:
    """Churn risk × 12-month CLV, read back as money (cents on SQLite)."""
    return type_coerce(CustomerScore.churn_risk * CustomerScore.clv_12m, MONEY)


@dataclass(frozen=True)
class RiskSummary:
    """The stored scores at a glance: how many customers were scored and when, the
    threshold, how many are at risk and their value at risk. The scores refresh stores it
    in the dashboard snapshot, so the dashboard does not scan ``customer_scores``."""

    scored: int
    computed_at: datetime | None
    threshold: float | None
    """Churn risk (0–1) from which an active customer is at risk; None before any score."""
    at_risk: int
    value_at_risk: Decimal
    """Σ churn risk × 12-month CLV over the customers at risk."""

    def to_json(self) -> dict[str, Any]:
        return {
            "scored": self.scored,
            "computed_at": None if self.computed_at is None else self.computed_at.isoformat(),
            "threshold": self.threshold,
            "at_risk": self.at_risk,
            "value_at_risk": str(self.value_at_risk),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RiskSummary:
        at = data["computed_at"]
        return cls(
            scored=int(data["scored"]),
            computed_at=None if at is None else datetime.fromisoformat(at),
            threshold=data["threshold"],
            at_risk=int(data["at_risk"]),
            value_at_risk=Decimal(data["value_at_risk"]),
        )


def risk_summary(session: Session) -> RiskSummary:
    """The :class:`RiskSummary` of the stored scores (three aggregates over the table)."""
    scored, computed_at = session.execute(
        select(func.count(), func.max(CustomerScore.computed_at))
    ).one()
    threshold = at_risk_threshold(session)
    count, value = 0, Decimal(0)
    if threshold is not None:
        count, value = session.execute(
            select(func.count(), type_coerce(func.sum(value_at_risk()), MONEY)).where(
                at_risk(threshold)
            )
        ).one()
    return RiskSummary(scored, computed_at, threshold, count, value or Decimal("0.00"))
