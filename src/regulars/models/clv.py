r"""Discounted customer lifetime value over a horizon.

The standard discrete approximation (Fader, Hardie & Lee 2005, "RFM and CLV: Using
Iso-Value Curves for Customer Base Analysis", *JMR* 42(4): the value of a customer is
expected purchases × expected spend × margin, discounted; as in the ``lifetimes``
package's ``customer_lifetime_value``) splits the horizon into months::

    CLV = Σ_{m=1..H} margin · E[Z | x, z̄] · (E[Y(m) | x, t_x, T] − E[Y(m−1) | x, t_x, T])
                     / (1 + d)^m

* ``E[Y(m) | ·]`` — the transaction model's conditional expectation of purchases in the
  next ``m`` months (converted to the summary's time unit: one month = 30.4375 days, i.e.
  4.348 weeks or 1 month);
* ``E[Z | ·]`` — the Gamma-Gamma conditional expected spend per purchase;
* ``d`` — the monthly discount rate (0.01 ≈ 12.7 % a year); ``margin`` the gross margin
  (1.0 = revenue). Purchases of month m are discounted as if at the end of month m.

The spend and purchase expectations multiply because the Gamma-Gamma model assumes spend
independent of the purchase process (check ``frequency_spend_correlation``).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from regulars.models.base import DAYS_PER_UNIT, TimeUnit, TransactionModel, days_per_unit
from regulars.models.gamma_gamma import GammaGammaModel
from regulars.models.inputs import FloatArray, as_float_array, unique_rows

__all__ = ["customer_lifetime_value", "discounted_expected_purchases", "months_to_units"]

DAYS_PER_MONTH = DAYS_PER_UNIT["month"]


def months_to_units(months: npt.ArrayLike, unit: TimeUnit | str) -> FloatArray:
    """Months expressed in the summary's time unit (a month is 365.25/12 days)."""
    return np.asarray(months, dtype=np.float64) * DAYS_PER_MONTH / days_per_unit(unit)


def _check_horizon(horizon_months: int, monthly_discount_rate: float) -> None:
    if int(horizon_months) != horizon_months or horizon_months < 1:
        raise ValueError(f"horizon_months must be a positive integer, got {horizon_months}")
    if not math.isfinite(monthly_discount_rate) or monthly_discount_rate <= -1.0:
        raise ValueError(f"monthly_discount_rate must be > -1, got {monthly_discount_rate}")


def discounted_expected_purchases(
    model: TransactionModel,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    unit: TimeUnit = "week",
) -> FloatArray:
    """``Σ_{m=1..H} (E[Y(m)] − E[Y(m−1)]) / (1+d)^m`` per customer.

    Computed once per distinct ``(x, t_x, T)`` and scattered back, as an array of shape
    ``(n_customers,)``.
    """
    _check_horizon(horizon_months, monthly_discount_rate)
    x = as_float_array("frequency", frequency)
    t_x = as_float_array("recency", recency)
    t_cal = as_float_array("T", T)
    if x.shape[0] == 0:
        return np.zeros(0)
    (ux, ut_x, ut), inverse = unique_rows(x, t_x, t_cal)
    months = np.arange(horizon_months + 1, dtype=np.float64)
    horizons = months_to_units(months, unit)
    cumulative = model.expected_purchases(
        horizons[None, :], ux[:, None], ut_x[:, None], ut[:, None]
    )
    per_month = np.diff(cumulative, axis=1)
    discount = (1.0 + monthly_discount_rate) ** -months[1:]
    return np.asarray((per_month @ discount)[inverse], dtype=np.float64)


def customer_lifetime_value(
    transaction_model: TransactionModel,
    spend_model: GammaGammaModel,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    *,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
    unit: TimeUnit = "week",
) -> FloatArray:
    """Discounted CLV over ``horizon_months`` (see the module docstring), per customer."""
    if not math.isfinite(margin):
        raise ValueError(f"margin must be finite, got {margin}")
    purchases = discounted_expected_purchases(
        transaction_model,
        frequency,
        recency,
        T,
        horizon_months=horizon_months,
        monthly_discount_rate=monthly_discount_rate,
        unit=unit,
    )
    spend = spend_model.conditional_expected_spend(
        as_float_array("frequency", frequency), as_float_array("monetary_value", monetary_value)
    )
    return np.asarray(margin * spend * purchases, dtype=np.float64)
