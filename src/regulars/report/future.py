"""The report's "Future" section: who is leaving and what each customer is worth.

BG/NBD + Gamma-Gamma give P(alive), expected purchases and 12-month CLV per customer
(:func:`regulars.models.service.score_customers`); the churn classifier gives churn risk
(:func:`regulars.models.churn.churn_risk`) and its honest time-split evaluation; a BG/NBD fit
on an earlier calibration period is checked against what customers then bought (holdout
tracking). When the data cannot support a model, the section says why instead.
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
from regulars.models.service import ModelReport, fit_model, score_customers

#: Per-customer columns the section adds to customers.parquet.
SCORE_COLUMNS = ("p_alive", "expected_purchases_90d", "clv_12m", "churn_risk")
AT_RISK_ROWS = 20
HORIZON_DAYS = 90


@dataclass
class Future:
    """Materialised predictions; every part is None when its model could not be fitted."""

    scores: pa.Table | None  # customer_id + SCORE_COLUMNS (+ expected_purchases_365d, …)
    holdout: ModelReport | None
    churn: ChurnEvaluation | None
    problems: list[str]

    def totals(self) -> dict[str, Any]:
        """Expected purchases and revenue in the next 90 / 365 days, total 12-month CLV."""
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
        alive = s.column("p_alive").to_numpy()
        out["expected_active_customers"] = float(alive.sum())
        return out


def _holdout_split(first: date, as_of: date) -> date | None:
    """Calibrate on the history before the last year (or its last third when shorter);
    None when there is too little history to spare a holdout."""
    span = (as_of - first).days
    if span < 120:
        return None
    return as_of - timedelta(days=min(365, span // 3))


def compute_future(orders: ibis.Table, *, first: date, as_of: date) -> Future:
    """Fit and score everything the section shows; collect why a part is missing."""
    problems: list[str] = []
    scores = _try(problems, "value model", lambda: score_customers(orders, as_of=as_of))
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
    split = _holdout_split(first, as_of)
    holdout = None
    if split is not None:
        holdout = _try(
            problems,
            "holdout check",
            lambda: fit_model(orders, model="bgnbd", calibration_end=split, observation_end=as_of),
        )
    if scores is not None and risk is not None:
        scores = scores.join(
            risk.select(["customer_id", "churn_risk"]), "customer_id", join_type="left outer"
        )
    return Future(scores=scores, holdout=holdout, churn=churn, problems=problems)


def _try(problems: list[str], what: str, run: Any) -> Any:
    try:
        return run()
    except ModelFitError as exc:
        problems.append(f"{what}: {exc}")
        return None


def with_scores(customers: pa.Table, future: Future) -> pa.Table:
    """customers.parquet rows with the score columns (null where not computed)."""
    if future.scores is None:
        nulls = pa.nulls(customers.num_rows, pa.float64())
        for name in SCORE_COLUMNS:
            customers = customers.append_column(name, nulls)
        return customers
    wanted = ["customer_id", *[c for c in SCORE_COLUMNS if c in future.scores.column_names]]
    joined = customers.join(future.scores.select(wanted), "customer_id", join_type="left outer")
    for name in SCORE_COLUMNS:
        if name not in joined.column_names:
            joined = joined.append_column(name, pa.nulls(joined.num_rows, pa.float64()))
    return joined.sort_by("customer_id")


def at_risk(customers: pa.Table, rows: int = AT_RISK_ROWS) -> pa.Table:
    """The most valuable customers who are likely to leave: churn risk ≥ 50, by CLV."""
    risky = customers.filter(pc.greater_equal(customers.column("churn_risk"), 50.0))
    order = np.argsort(-np.nan_to_num(risky.column("clv_12m").to_numpy(zero_copy_only=False)))
    columns = [
        "customer_id",
        "segment",
        "orders",
        "revenue",
        "recency_days",
        "p_alive",
        "churn_risk",
        "clv_12m",
    ]
    return risky.take(order[:rows]).select(columns)


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
