"""Per-customer ``(frequency, recency, T, monetary value)`` summaries, computed in the
analytics engine (one Ibis expression; nothing per row in Python).

Definitions (those of the buy-till-you-die literature and of the published CDNOW
summaries, Fader, Hardie & Lee 2005):

* **Counted purchases** — the one rule of :func:`regulars.analytics.transactions.purchases`
  (not cancelled, not fully refunded, not a return document; zero-value orders count, as
  CDNOW's $0.00 purchases do). Spend of an order = ``amount − refunded_amount``.
* **Purchase days** — the models count *days*: all counted orders of a customer on the
  same (local) calendar day are one purchase, whose spend is their sum.
* A day is a point in time: day ``d`` is at ``t = d``. The calibration period is
  ``[first purchase, calibration_end)``, so its last observed day is
  ``calibration_end − 1 day``.
* ``frequency`` (x) — repeat purchase days in the calibration period
  (distinct purchase days − 1).
* ``recency`` (t_x) — first purchase day → last purchase day in the calibration period;
  0 when ``frequency = 0``.
* ``T`` — first purchase day → last day of the calibration period
  (``calibration_end − 1 day``). A customer whose first purchase falls on that day has
  ``T = 0``. (With calibration_end = 1997-10-01 a customer acquired on 1997-01-01 has
  T = 272 days = 38.86 weeks, as in the CDNOW summary.)
* ``monetary_value`` (z̄) — mean spend of the *repeat* purchase days (the first purchase
  is excluded, as in the Gamma-Gamma model); 0 when ``frequency = 0``.
* ``frequency_holdout`` — purchase days in ``[calibration_end, observation_end)``;
  ``duration_holdout`` — ``observation_end − calibration_end``.

Times are in ``unit``: days, weeks (7 days) or months (365.25/12 = 30.4375 days). Only
customers with a counted purchase before ``calibration_end`` appear.

``ordered_at`` must be the shop's local wall-clock time (naive timestamp or date); the
canonical UTC timestamps are converted by :func:`regulars.clock.to_local_time` upstream.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import ibis
import ibis.expr.datatypes as dt

from regulars.analytics.transactions import purchases
from regulars.models.base import days_per_unit

__all__ = ["btyd_summary", "purchase_days"]


def purchase_days(orders: ibis.Table) -> ibis.Table:
    """Counted purchases merged per customer and local day.

    Returns ``customer_id, day (date), spend (decimal)``. ``refunded_amount`` and
    ``status`` are optional columns (absent = 0 and ``'completed'``).
    """
    missing = {"customer_id", "ordered_at", "amount"} - set(orders.columns)
    if missing:
        raise ValueError(f"orders lacks required column(s): {sorted(missing)}")
    counted = purchases(orders)
    counted = counted.filter(counted.customer_id.notnull(), counted.order_date.notnull())
    return counted.group_by(["customer_id", counted.order_date.name("day")]).aggregate(
        spend=counted.net_amount.sum()
    )


def btyd_summary(
    orders: ibis.Table,
    *,
    calibration_end: date,
    observation_end: date | None = None,
    unit: Literal["day", "week", "month"] = "week",
) -> ibis.Table:
    """The per-customer summary the models are fitted on (see the module docstring).

    Columns: ``customer_id, frequency (int64), recency, T, monetary_value (float64)`` and,
    when ``observation_end`` is given, ``frequency_holdout (int64), duration_holdout``.
    """
    if observation_end is not None and observation_end <= calibration_end:
        raise ValueError("observation_end must be after calibration_end")
    divisor = days_per_unit(unit)
    cal_end = ibis.literal(calibration_end, type=dt.date)
    last_cal_day = ibis.literal(calibration_end - timedelta(days=1), type=dt.date)
    end = observation_end or calibration_end

    days = purchase_days(orders)
    days = days.filter(days.day < ibis.literal(end, type=dt.date))
    days = days.mutate(first_day=days.day.min().over(group_by=days.customer_id))
    in_cal = days.day < cal_end
    aggregates = {
        "first_day": days.first_day.min(),
        "last_day": days.day.max(where=in_cal),
        "n_days": days.day.count(where=in_cal),
        "repeat_spend": days.spend.sum(where=in_cal & (days.day > days.first_day)),
    }
    if observation_end is not None:
        aggregates["holdout_days"] = days.day.count(where=~in_cal)
    per_customer = days.group_by("customer_id").aggregate(**aggregates)
    per_customer = per_customer.filter(per_customer.first_day < cal_end)

    frequency = (per_customer.n_days - 1).cast(dt.int64)
    repeat_spend = per_customer.repeat_spend.cast(dt.float64).fill_null(0.0)
    columns = {
        "customer_id": per_customer.customer_id,
        "frequency": frequency,
        "recency": per_customer.last_day.delta(per_customer.first_day, unit="day").cast(dt.float64)
        / divisor,
        "T": last_cal_day.delta(per_customer.first_day, unit="day").cast(dt.float64) / divisor,
        "monetary_value": repeat_spend / ibis.greatest(frequency, 1).cast(dt.float64),
    }
    if observation_end is not None:
        columns["frequency_holdout"] = per_customer.holdout_days.cast(dt.int64)
        holdout_days = ibis.literal(observation_end, type=dt.date).delta(cal_end, unit="day")
        columns["duration_holdout"] = holdout_days.cast(dt.float64) / divisor
    return per_customer.select(**columns)
