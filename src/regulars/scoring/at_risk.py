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

from decimal import Decimal

from sqlalchemy import ColumnElement, and_, func, select, type_coerce
from sqlalchemy.orm import Session

from regulars.store.tables import CustomerScore
from regulars.store.types import MONEY

__all__ = ["at_risk", "at_risk_threshold", "value_at_risk"]


def at_risk_threshold(session: Session) -> float | None:
    """The churn risk (0–1) from which an active customer is at risk, for the stored
    scores; None when no customer has a churn risk yet."""
    # Imported here: the models package loads Ibis and NumPy, which the API and the web
    # app must not pay for at start.
    from regulars.models.risk import risk_threshold

    base_rate = session.scalar(select(func.avg(CustomerScore.churn_risk)))
    return None if base_rate is None else risk_threshold(float(base_rate))


def at_risk(threshold: float) -> ColumnElement[bool]:
    """The condition on ``customer_scores`` for a customer at risk at ``threshold``."""
    return and_(CustomerScore.active.is_(True), CustomerScore.churn_risk >= threshold)


def value_at_risk() -> ColumnElement[Decimal]:
    """Churn risk × 12-month CLV, read back as money (cents on SQLite)."""
    return type_coerce(CustomerScore.churn_risk * CustomerScore.clv_12m, MONEY)
