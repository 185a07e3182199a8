"""Per-customer features for churn prediction, computed in the engine as of a cutoff date.

Everything here looks only at orders placed **strictly before** ``cutoff`` (midnight of the
cutoff day, shop-local wall clock), so a feature table built for a past cutoff is what the
shop could have computed on that day. Definitions (days are calendar days of ``ordered_at``):

* **counted purchase** — the shop-wide rule of :mod:`regulars.analytics.transactions`:
  not cancelled, not fully refunded (``status = 'refunded'`` or
  ``refunded_amount >= amount``), ``amount > 0``. Standalone return documents
  (``amount < 0``) are never purchases.
* **purchase day** — a calendar day with at least one counted purchase. Several orders on
  one day are one purchase, as in the BG/NBD family of models.
* ``frequency`` — number of purchase days; ``n_orders`` — number of counted purchases.
* ``recency_days`` — cutoff − last purchase day (≥ 1).
* ``days_since_first`` — cutoff − first purchase day (the BTYD "T", in days).
* ``tenure_days`` — last − first purchase day (the BTYD "t_x", in days; 0 for one purchase).
* ``monetary_total`` — net spend of counted purchases, Σ (amount − refunded_amount).
* ``monetary_mean`` — ``monetary_total`` / ``frequency``: mean net spend per purchase day.
* gaps — days between consecutive purchase days. ``gap_mean`` = tenure / (frequency − 1),
  ``gap_std`` (sample standard deviation, needs ≥ 2 gaps), ``gap_cv`` = std / mean,
  ``last_gap`` (the most recent gap) and ``last_gap_ratio`` = last_gap / gap_mean (> 1: the
  customer is slowing down), ``overdue_ratio`` = recency_days / gap_mean (> 1: the next
  purchase is later than usual).
* ``purchases_90d`` / ``_180d`` / ``_365d`` — purchase days in the last 90/180/365 days
  before the cutoff; ``trend_90_365`` = purchases_90d / purchases_365d and
  ``trend_180_365`` = purchases_180d / purchases_365d (0.25 and 0.5 for a steady buyer).
* ``refund_order_share`` — share of the customer's non-cancelled positive orders that were
  refunded in part or in full; ``refund_amount_share`` — (refunded amounts + standalone
  returns) / gross amount of those orders.
* ``category_breadth`` — distinct product categories over the lines of counted purchases
  (only when ``order_lines`` is given; 0 when a customer's orders have no lines).

A feature that is undefined for a customer (the gap statistics of a one-time buyer, a ratio
over zero) is null; gradient-boosted trees treat a missing value as its own branch.

``add_bgnbd_features`` then adds model-based columns in Python on the materialised table:
``p_alive`` (BG/NBD probability that the customer is still active) and
``expected_purchases`` (expected purchase days in the next ``horizon_days``).

Caveat: the canonical schema has no refund date, so ``refunded_amount`` and ``status``
reflect the export, not the cutoff; an order refunded after the cutoff already looks
refunded. Dated return documents are cut off correctly.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime, time, timedelta

import ibis
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from regulars.analytics.expr import ratio
from regulars.analytics.transactions import purchases
from regulars.errors import ModelFitError
from regulars.models.bgnbd import BetaGeoModel
from regulars.models.inputs import unique_rows

#: Columns added by :func:`add_bgnbd_features` when BG/NBD can be fitted.
BGNBD_COLUMNS: tuple[str, ...] = ("p_alive", "expected_purchases")

#: Feature columns computed in the engine, in output order (``category_breadth`` follows
#: when order lines are given).
ENGINE_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "n_orders",
    "monetary_mean",
    "monetary_total",
    "tenure_days",
    "days_since_first",
    "gap_mean",
    "gap_std",
    "gap_cv",
    "last_gap",
    "last_gap_ratio",
    "overdue_ratio",
    "purchases_90d",
    "purchases_180d",
    "purchases_365d",
    "trend_90_365",
    "trend_180_365",
    "refund_order_share",
    "refund_amount_share",
)

#: Look-back windows (days) for the recent-activity counts.
WINDOWS: tuple[int, ...] = (90, 180, 365)

#: BG/NBD is fitted on at most this many customers (a seeded random sample).
BGNBD_FIT_SAMPLE = 200_000

_DAYS_PER_WEEK = 7.0

FloatArray = npt.NDArray[np.float64]


def _midnight(day: date) -> ibis.Value:
    """A timestamp literal for the start of ``day``; filters compare raw timestamps so an
    engine can push them down to the scan."""
    return ibis.literal(datetime.combine(day, time()))


def _with_defaults(orders: ibis.Table) -> ibis.Table:
    """Fill the optional canonical columns so the rules below can rely on them."""
    cols: dict[str, ibis.Value] = {}
    zero = ibis.literal(0).cast(orders.amount.type())
    if "refunded_amount" in orders.columns:
        cols["refunded_amount"] = orders.refunded_amount.fill_null(zero)
    else:
        cols["refunded_amount"] = zero
    if "status" in orders.columns:
        cols["status"] = orders.status.fill_null("completed")
    else:
        cols["status"] = ibis.literal("completed")
    return orders.mutate(**cols)


def counted_purchases(
    orders: ibis.Table, *, start: date | None = None, end: date | None = None
) -> ibis.Table:
    """Counted purchases (the shop-wide rule of :func:`regulars.analytics.transactions.
    purchases`) placed in [start, end); either bound may be open. Columns: customer_id,
    order_id, ordered_at, order_date, net_amount."""
    t = purchases(orders)
    if start is not None:
        t = t.filter(t.ordered_at >= _midnight(start))
    if end is not None:
        t = t.filter(t.ordered_at < _midnight(end))
    return t


def _purchase_days(bought: ibis.Table) -> ibis.Table:
    """One row per (customer, purchase day) with the gap to the previous purchase day and
    whether it is the customer's last purchase day."""
    days = bought.group_by("customer_id", day=bought.order_date).aggregate(
        spend=bought.net_amount.sum(), orders=bought.count()
    )
    w = ibis.window(group_by="customer_id", order_by="day")
    prev_day = days.day.lag().over(w)
    next_day = days.day.lead().over(w)
    return days.mutate(gap=days.day.delta(prev_day, unit="day"), is_last=next_day.isnull())


def _behaviour(days: ibis.Table, cutoff: date) -> ibis.Table:
    """Recency, frequency, monetary, gap and recent-activity features per customer."""
    cut = ibis.literal(cutoff)
    recent = {
        f"purchases_{n}d": days.count(where=days.day >= ibis.literal(cutoff - timedelta(days=n)))
        for n in WINDOWS
    }
    agg = days.group_by("customer_id").aggregate(
        first_day=days.day.min(),
        last_day=days.day.max(),
        frequency=days.count(),
        n_orders=days.orders.sum(),
        monetary_total=days.spend.sum().cast("float64"),
        gap_std=days.gap.cast("float64").std(how="sample"),
        last_gap=days.gap.max(where=days.is_last).cast("float64"),
        **recent,
    )
    tenure = agg.last_day.delta(agg.first_day, unit="day")
    agg = agg.mutate(
        recency_days=cut.delta(agg.last_day, unit="day"),
        days_since_first=cut.delta(agg.first_day, unit="day"),
        tenure_days=tenure,
        monetary_mean=agg.monetary_total / agg.frequency.cast("float64"),
        gap_mean=ratio(tenure, agg.frequency - 1),
    )
    return agg.mutate(
        gap_cv=ratio(agg.gap_std, agg.gap_mean),
        last_gap_ratio=ratio(agg.last_gap, agg.gap_mean),
        overdue_ratio=ratio(agg.recency_days, agg.gap_mean),
        trend_90_365=ratio(agg.purchases_90d, agg.purchases_365d),
        trend_180_365=ratio(agg.purchases_180d, agg.purchases_365d),
    ).drop("first_day", "last_day")


def _refunds(orders: ibis.Table, cutoff: date) -> ibis.Table:
    """Refund shares per customer over non-cancelled orders and return documents before
    the cutoff."""
    t = _with_defaults(orders)
    t = t.filter((t.ordered_at < _midnight(cutoff)) & (t.status != "cancelled"))
    positive = t.amount > 0
    refunded = positive & (
        (t.refunded_amount > 0) | t.status.isin(["refunded", "partially_refunded"])
    )
    # A fully refunded order with refunded_amount left at 0 still counts as fully refunded.
    refund_value = ibis.ifelse(t.status == "refunded", t.amount, t.refunded_amount)
    returned = ibis.ifelse(positive, refund_value, -t.amount)
    agg = t.group_by("customer_id").aggregate(
        n_positive=t.count(where=positive),
        n_refunded=t.count(where=refunded),
        gross=t.amount.sum(where=positive).cast("float64"),
        returned=returned.sum().cast("float64"),
    )
    return agg.select(
        "customer_id",
        refund_order_share=ratio(agg.n_refunded, agg.n_positive),
        refund_amount_share=ratio(agg.returned, agg.gross),
    )


def _category_breadth(bought: ibis.Table, order_lines: ibis.Table) -> ibis.Table:
    """Distinct categories bought per customer (lines with a positive quantity)."""
    lines = order_lines.filter((order_lines.quantity > 0) & order_lines.category.notnull())
    joined = bought.select("customer_id", "order_id").join(
        lines.select("order_id", "category"), "order_id"
    )
    return joined.group_by("customer_id").aggregate(category_breadth=joined.category.nunique())


def churn_features(
    orders: ibis.Table, *, cutoff: date, order_lines: ibis.Table | None = None
) -> ibis.Table:
    """One row per customer whose first counted purchase is before ``cutoff``, with the
    features of the module docstring computed from orders placed before ``cutoff`` only.

    Lazy: nothing runs until the result is executed or materialised.
    """
    bought = counted_purchases(orders, end=cutoff)
    result = _behaviour(_purchase_days(bought), cutoff)
    refunds = _refunds(orders, cutoff)
    result = result.left_join(refunds, "customer_id").drop("customer_id_right")
    columns = ["customer_id", *ENGINE_FEATURES]
    if order_lines is not None:
        breadth = _category_breadth(bought, order_lines)
        result = result.left_join(breadth, "customer_id").drop("customer_id_right")
        result = result.mutate(category_breadth=result.category_breadth.fill_null(0))
        columns.append("category_breadth")
    return result.select(*columns)


def feature_columns(table: pa.Table) -> list[str]:
    """The numeric feature columns of a materialised feature table (all but the id)."""
    return [name for name in table.column_names if name != "customer_id"]


def btyd_inputs(features: pa.Table) -> tuple[FloatArray, FloatArray, FloatArray]:
    """BG/NBD inputs from a feature table, in weeks, with the conventions of
    :func:`regulars.models.summary.btyd_summary` at ``calibration_end = cutoff``:
    x = purchase days − 1, t_x = tenure, T = first purchase day → the day before the
    cutoff (``days_since_first − 1``)."""
    frequency = features.column("frequency").to_numpy().astype(np.float64)
    tenure = features.column("tenure_days").to_numpy().astype(np.float64)
    age = features.column("days_since_first").to_numpy().astype(np.float64) - 1.0
    return frequency - 1.0, tenure / _DAYS_PER_WEEK, age / _DAYS_PER_WEEK


def _fitted_bgnbd(
    x: FloatArray, t_x: FloatArray, age: FloatArray, seed: int
) -> BetaGeoModel | None:
    """A BG/NBD model fitted on (a sample of) the customers, or None when the data cannot
    support one. A fit whose optimiser did not converge is refused too: its P(alive) would
    be an artefact of where the optimiser stopped."""
    if len(x) > BGNBD_FIT_SAMPLE:
        # Four parameters are pinned down by a few hundred thousand customers; the
        # likelihood cost grows with the distinct (x, t_x, T) rows, so fit on a sample.
        rows = np.random.default_rng(seed).choice(len(x), BGNBD_FIT_SAMPLE, replace=False)
        x, t_x, age = x[rows], t_x[rows], age[rows]
    with warnings.catch_warnings():
        # Convergence is checked below; numpy noise from extreme trial parameters is not
        # the user's concern.
        warnings.simplefilter("ignore")
        try:
            model = BetaGeoModel().fit(x, t_x, age)
        except ModelFitError:
            return None
    return model if model.result.converged else None


def add_bgnbd_features(features: pa.Table, *, horizon_days: int, seed: int = 0) -> pa.Table:
    """Fit BG/NBD on the (already cut-off) features and append ``p_alive`` and
    ``expected_purchases`` (purchase days expected in the next ``horizon_days``).

    Returns ``features`` unchanged when the model cannot be fitted (too few customers,
    nobody repeating, no convergence): the classifier then works from the engine features
    alone.
    """
    x, t_x, age = btyd_inputs(features)
    if len(x) == 0:
        return features
    model = _fitted_bgnbd(x, t_x, age, seed)
    if model is None:
        return features
    # Predict once per distinct (x, t_x, T): customers share them by the thousand.
    (ux, ut_x, uage), inverse = unique_rows(x, t_x, age)
    with np.errstate(all="ignore"):
        p_alive = np.asarray(model.probability_alive(ux, ut_x, uage), dtype=np.float64)
        expected = np.asarray(
            model.expected_purchases(horizon_days / _DAYS_PER_WEEK, ux, ut_x, uage),
            dtype=np.float64,
        )
    if not (np.isfinite(p_alive).all() and np.isfinite(expected).all()):
        return features
    inverse = inverse.reshape(-1)
    features = features.append_column("p_alive", pa.array(p_alive[inverse], pa.float64()))
    return features.append_column("expected_purchases", pa.array(expected[inverse], pa.float64()))
