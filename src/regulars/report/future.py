"""The report's "Future" section: who is leaving and what each customer is worth.

The transaction model is chosen on a holdout period (:mod:`regulars.models.selection`:
MBG/NBD or Pareto/NBD, whichever predicted best who came back); with Gamma-Gamma it
gives P(alive), expected purchases and 12-month CLV per customer
(:func:`regulars.models.service.score_customers`). The churn classifier gives churn risk
(:func:`regulars.models.churn.churn_risk`) and its honest time-split evaluation, whose
base rate sets who is at risk (:mod:`regulars.models.risk`). How far the forecasts can
be trusted is assessed from the number of customers, of repeat buyers and the holdout
error (:func:`regulars.models.selection.assess_reliability`); below the minimum they are
not shown. When the data cannot support a model, the section says why instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from regulars.errors import ModelFitError
from regulars.models.churn import ChurnEvaluation, churn_risk, evaluate_churn_model
from regulars.models.risk import at_risk, with_value_at_risk
from regulars.models.selection import ModelChoice, Reliability, assess_reliability, choose_model
from regulars.models.service import score_customers

#: Per-customer columns the section adds to customers.parquet.
SCORE_COLUMNS = ("p_alive", "expected_purchases_90d", "clv_12m", "churn_risk")
HORIZON_DAYS = 90
#: Shortest history that can spare a holdout period.
MIN_HOLDOUT_HISTORY_DAYS = 120


@dataclass
class Future:
    """Materialised predictions; a part is None when its model could not be fitted."""

    scores: pa.Table | None  # customer_id + SCORE_COLUMNS (+ expected_purchases_365d, …)
    choice: ModelChoice
    reliability: Reliability
    churn: ChurnEvaluation | None
    problems: list[str]

    def totals(self) -> dict[str, Any]:
        """Expected purchases and revenue in the next 90 / 365 days, total 12-month CLV,
        expected customers alive (Σ P(alive))."""
        if self.scores is None:
            return {}
        s = self.scores
        spend = s.column("expected_spend").to_numpy()
        out: dict[str, Any] = {}
        for days in (90, 365):
            purchases = s.column(f"expected_purchases_{days}d").to_numpy()
            out[f"expected_purchases_{days}d"] = float(purchases.sum())
            out[f"expected_revenue_{days}d"] = float((purchases * spend).sum())
        out["clv_12m_total"] = float(pc.sum(s.column("clv_12m")).as_py())
        out["expected_active_customers"] = float(s.column("p_alive").to_numpy().sum())
        return out

    @property
    def base_rate(self) -> float | None:
        """Share of customers who did not buy in the last 90 days (the churn base rate)."""
        return None if self.churn is None else self.churn.base_rate


def holdout_split(first: date, as_of: date) -> date | None:
    """Calibrate on the history before the last year (or its last third when shorter);
    None when there is too little history to spare a holdout."""
    span = (as_of - first).days
    if span < MIN_HOLDOUT_HISTORY_DAYS:
        return None
    return as_of - timedelta(days=min(365, span // 3))


def compute_future(
    orders: ibis.Table, *, first: date, as_of: date, customers: int, repeat_buyers: int
) -> Future:
    """Choose the model, fit and score everything the section shows; collect why a part
    is missing. ``customers`` and ``repeat_buyers`` (2+ purchases) size the evidence."""
    problems: list[str] = []
    choice = choose_model(
        orders, calibration_end=holdout_split(first, as_of), observation_end=as_of
    )
    problems += [f"holdout check of {name}: {why}" for name, why in choice.problems.items()]
    scores = _try(
        problems, "value model", lambda: score_customers(orders, as_of=as_of, model=choice.model)
    )
    risk = _try(
        problems, "churn model", lambda: churn_risk(orders, as_of=as_of, horizon_days=HORIZON_DAYS)
    )
    churn = _try(
        problems,
        "churn evaluation",
        lambda: evaluate_churn_model(
            orders, cutoff=as_of - timedelta(days=HORIZON_DAYS), horizon_days=HORIZON_DAYS
        ),
    )
    if scores is not None and risk is not None:
        scores = scores.join(
            risk.select(["customer_id", "churn_risk"]), "customer_id", join_type="left outer"
        )
    reliability = assess_reliability(customers, repeat_buyers, choice.holdout)
    return Future(scores, choice, reliability, churn, problems)


def _try(problems: list[str], what: str, run: Any) -> Any:
    try:
        return run()
    except ModelFitError as exc:
        problems.append(f"{what}: {exc}")
        return None


def with_scores(customers: pa.Table, future: Future) -> pa.Table:
    """customers.parquet rows with the score columns and ``value_at_risk`` (null where
    not computed)."""
    if future.scores is None:
        nulls = pa.nulls(customers.num_rows, pa.float64())
        for name in SCORE_COLUMNS:
            customers = customers.append_column(name, nulls)
        return with_value_at_risk(customers)
    wanted = ["customer_id", *[c for c in SCORE_COLUMNS if c in future.scores.column_names]]
    joined = customers.join(future.scores.select(wanted), "customer_id", join_type="left outer")
    for name in SCORE_COLUMNS:
        if name not in joined.column_names:
            joined = joined.append_column(name, pa.nulls(joined.num_rows, pa.float64()))
    return with_value_at_risk(joined.sort_by("customer_id"))


def customers_at_risk(customers: pa.Table, future: Future | None) -> pa.Table | None:
    """The at-risk list (:func:`regulars.models.risk.at_risk`) when forecasts are shown
    and the churn base rate is known; None otherwise."""
    if future is None or not future.reliability.shown or future.base_rate is None:
        return None
    if future.scores is None or "churn_risk" not in future.scores.column_names:
        return None
    return at_risk(customers, future.base_rate)


def p_alive_grid(customers: pa.Table) -> pa.Table:
    """Mean P(alive) by purchase count (1…10+) and recency band (months since last order)."""
    orders = np.minimum(customers.column("orders").to_numpy(), 10)
    months = np.minimum(customers.column("recency_days").to_numpy() // 30, 24)
    alive = customers.column("p_alive").to_numpy(zero_copy_only=False)
    keys = orders * 100 + months
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=np.nan_to_num(alive))
    counts = np.bincount(inverse)
    return pa.table(
        {
            "orders": unique // 100,
            "recency_months": unique % 100,
            "customers": counts,
            "p_alive": sums / counts,
        }
    )
