"""Who to call: the customers at risk, ranked by the value at risk.

* **Value at risk** = P(churn) × 12-month CLV: the part of what a customer is expected to
  bring in the next year that the churn classifier says is in danger (P(churn) is the
  probability of no purchase in the next 90 days, :mod:`regulars.models.churn`; CLV the
  transaction model's discounted value, :mod:`regulars.models.clv`).
* **At risk** = a customer still active under the activity window (customers who have
  already lapsed are a win-back list, not a save list) whose odds of churning are at
  least :data:`ODDS_RATIO` (2) times the shop's: ``P/(1 − P) ≥ 2 · b/(1 − b)``, with the
  **base rate** b the share of the shop's customers who did not buy in the last 90 days.
  A fixed threshold such as 50 % means nothing in a shop where 82 % of customers go a
  quarter without buying (it flags almost everyone) or in a café where 10 % do (it flags
  almost no one); the threshold follows the base rate — b = 82 % gives 90 %, b = 50 %
  gives 67 %, b = 10 % gives 18 % (:func:`risk_threshold`) — and "twice the odds"
  leaves out the customers who are merely as likely as anyone to skip a quarter.

The list is sorted by value at risk, largest first, so the first rows are the calls that
save the most money.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["ODDS_RATIO", "at_risk", "risk_threshold", "with_value_at_risk"]

#: How much likelier than the shop's typical customer, in odds, a customer at risk is.
ODDS_RATIO = 2.0


def risk_threshold(base_rate: float) -> float:
    """The churn probability (0–1) from which a customer is at risk, for a base rate."""
    odds = ODDS_RATIO * base_rate / max(1.0 - base_rate, 1e-12)
    return odds / (1.0 + odds)


def with_value_at_risk(customers: pa.Table) -> pa.Table:
    """``customers`` with ``value_at_risk`` = churn_risk / 100 × clv_12m (null where
    either is unknown)."""
    value = pc.multiply(
        pc.divide(customers.column("churn_risk"), 100.0), customers.column("clv_12m")
    )
    return customers.append_column("value_at_risk", pc.cast(value, pa.float64()))


def at_risk(customers: pa.Table, base_rate: float) -> pa.Table:
    """The customers at risk (module docstring), largest value at risk first.

    ``customers`` has ``active``, ``churn_risk`` (0–100), ``clv_12m`` and
    ``value_at_risk``; ``base_rate`` is a share (0–1).
    """
    threshold = 100.0 * risk_threshold(base_rate)
    risky = pc.and_(
        pc.fill_null(customers.column("active"), False),
        pc.fill_null(pc.greater_equal(customers.column("churn_risk"), threshold), False),
    )
    chosen = customers.filter(risky)
    return chosen.sort_by([("value_at_risk", "descending"), ("customer_id", "ascending")])
