"""Churn-risk classifier with an honest time-split evaluation.

Definitions
-----------
* **Churned at a cutoff** — a customer with a counted purchase before ``cutoff`` (see
  :mod:`regulars.models.features`) who makes **no** counted purchase in
  [cutoff, cutoff + horizon). ``horizon_days`` defaults to 90.
* **Time split** — for an evaluation cutoff ``c`` and horizon ``h``, the classifier is
  trained on features as of ``c − h`` with labels from [c − h, c), and evaluated on
  features as of ``c`` with labels from [c, c + h). Training never sees an order placed
  on or after ``c``; each feature table sees only orders before its own cutoff.
* **Churn probability** — the classifier's estimate of P(churned);
  **churn risk** = 100 × churn probability (0–100).
* **Baseline** — BG/NBD fitted on the evaluation features only: churn probability
  = 1 − P(alive). P(alive) answers a different question (is the customer still active at
  all?), so the baseline ranks customers sensibly but under-states the churn rate.

Metrics: ROC-AUC, PR-AUC (average precision, positive class = churned), Brier score
(mean squared error of the probability) and a calibration table over deciles of the
predicted probability (mean predicted vs observed churn rate per decile).

The classifier is scikit-learn's ``HistGradientBoostingClassifier``: it bins features,
handles missing values natively and trains on millions of rows in seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from regulars.errors import ModelFitError
from regulars.models.features import (
    add_bgnbd_features,
    churn_features,
    counted_purchases,
    feature_columns,
)

#: Fewest labelled customers a classifier is trained on.
MIN_TRAIN_CUSTOMERS = 50

#: Fewest customers of each class (churned, bought again) in the training window.
MIN_CLASS_CUSTOMERS = 10

#: The classifier is trained on at most this many customers (a seeded random sample):
#: beyond a few hundred thousand rows the AUC no longer moves (0.9417 on 828 k customers,
#: 0.9416 on a 250 k sample; 16 s vs 4 s of training, see docs/churn.md).
MAX_TRAIN_ROWS = 250_000

#: The data may end this many days before a label window ends (a quiet last week) and
#: still count as covering it; a larger gap would turn buyers into false churners.
COVERAGE_SLACK_DAYS = 7

#: Below this many rows the trees are grown on one thread. Measured on a 2-core machine
#: with 2,500 rows: 0.25 s on one thread, 0.25 s on two when idle, but 16–30 s on two
#: when other processes compete for the cores (OpenMP workers spin-wait for each other).
PARALLEL_MIN_ROWS = 100_000

_Array = np.ndarray[Any, Any]


def _threads(n_rows: int) -> int | None:
    """OpenMP thread limit for a model on ``n_rows`` rows (None: no limit)."""
    return 1 if n_rows < PARALLEL_MIN_ROWS else None


@dataclass
class ChurnEvaluation:
    """Out-of-time quality of the churn classifier and of the P(alive) baseline.

    ``calibration`` rows: ``model`` ("classifier" or "p_alive_baseline"), ``decile``
    (1 = lowest predicted churn), ``n``, ``mean_predicted``, ``observed``.
    """

    n_train: int
    n_test: int
    base_rate: float
    roc_auc: float
    pr_auc: float
    brier: float
    baseline_roc_auc: float | None
    baseline_pr_auc: float | None
    baseline_brier: float | None
    calibration: list[dict[str, Any]]
    train_cutoff: date | None = None
    cutoff: date | None = None
    horizon_days: int = 90
    features: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings)."""
        out = asdict(self)
        for key in ("train_cutoff", "cutoff"):
            if out[key] is not None:
                out[key] = out[key].isoformat()
        return out


def _buyers(orders: ibis.Table, start: date, end: date) -> ibis.Table:
    """Customers with a counted purchase in [start, end), flagged ``bought``."""
    p = counted_purchases(orders, start=start, end=end)
    return p.select("customer_id").distinct().mutate(bought=ibis.literal(True))


def churn_labels(orders: ibis.Table, *, cutoff: date, horizon_days: int = 90) -> ibis.Table:
    """``customer_id``, ``churned``: every customer with a counted purchase before
    ``cutoff``; churned = no counted purchase in [cutoff, cutoff + horizon_days)."""
    base = counted_purchases(orders, end=cutoff).select("customer_id").distinct()
    return _attach_labels(base, orders, cutoff, horizon_days)


def _attach_labels(
    table: ibis.Table, orders: ibis.Table, cutoff: date, horizon_days: int
) -> ibis.Table:
    """``table`` (one row per customer) with the ``churned`` label for the cutoff."""
    future = _buyers(orders, cutoff, cutoff + timedelta(days=horizon_days))
    joined = table.left_join(future, "customer_id").drop("customer_id_right")
    return joined.mutate(churned=joined.bought.isnull()).drop("bought")


def _last_order_day(orders: ibis.Table) -> date | None:
    """The date of the last order row of any kind (the end of the data)."""
    last: date | None = orders.ordered_at.max().date().to_pyarrow().as_py()
    return last


def _require_coverage(orders: ibis.Table, window_end: date) -> None:
    """Refuse labels from a window that the data does not reach: customers would look
    churned only because their next orders are not in the export yet."""
    last = _last_order_day(orders)
    needed = window_end - timedelta(days=1 + COVERAGE_SLACK_DAYS)
    if last is None or last < needed:
        raise ModelFitError(
            f"labels need orders up to {window_end - timedelta(days=1)}, but the data ends "
            f"on {last}; choose an earlier cutoff or a shorter horizon"
        )


def _engine_table(
    orders: ibis.Table,
    cutoff: date,
    horizon_days: int,
    order_lines: ibis.Table | None,
    *,
    labelled: bool,
) -> pa.Table:
    """Features as of ``cutoff`` (plus ``churned`` when labelled) as an Arrow table sorted
    by customer id, so results do not depend on the engine's row order."""
    features = churn_features(orders, cutoff=cutoff, order_lines=order_lines)
    if labelled:
        features = _attach_labels(features, orders, cutoff, horizon_days)
    return features.order_by("customer_id").to_pyarrow()


def _matrix(table: pa.Table, columns: list[str]) -> _Array:
    """The float feature matrix; nulls become NaN, which the trees handle natively."""
    cols = [
        pc.fill_null(pc.cast(table.column(c), pa.float64()), np.nan).to_numpy() for c in columns
    ]
    return np.column_stack(cols) if cols else np.empty((table.num_rows, 0))


def _labels(table: pa.Table) -> _Array:
    """The ``churned`` label as 0/1."""
    labels: _Array = np.asarray(table.column("churned").to_numpy(), dtype=np.int8)
    return labels


def _shared_columns(train: pa.Table, other: pa.Table) -> list[str]:
    """Feature columns present in both tables (BG/NBD columns may be missing in one)."""
    present = set(other.column_names)
    return [c for c in feature_columns(train) if c in present and c != "churned"]


def _check_trainable(y: _Array) -> None:
    """ModelFitError unless the training labels can support a classifier."""
    if len(y) < MIN_TRAIN_CUSTOMERS:
        raise ModelFitError(
            f"only {len(y)} customers in the training window; "
            f"the churn model needs at least {MIN_TRAIN_CUSTOMERS}"
        )
    churned = int(y.sum())
    if min(churned, len(y) - churned) < MIN_CLASS_CUSTOMERS:
        raise ModelFitError(
            f"{churned} of {len(y)} training customers churned; the churn model needs at "
            f"least {MIN_CLASS_CUSTOMERS} who churned and {MIN_CLASS_CUSTOMERS} who bought "
            "again (both classes)"
        )


def _fit(train: pa.Table, columns: list[str], seed: int) -> HistGradientBoostingClassifier:
    """Train the classifier on a checked training table (a sample of it when large)."""
    if train.num_rows > MAX_TRAIN_ROWS:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(train.num_rows, MAX_TRAIN_ROWS, replace=False))
        train = train.take(pa.array(rows))
    y = _labels(train)
    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=15,
        # Leaves of at least 40 customers (fewer on tiny data, so a tree can still split)
        # keep the probabilities from running to 0 or 1 on a few thousand rows.
        min_samples_leaf=min(40, max(5, len(y) // 50)),
        l2_regularization=1.0,
        # Stop when the log-loss on a held-out 15 % stops improving: on a few thousand
        # customers 300 rounds overfit (probabilities near 0/1, Brier up by a fifth).
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=20,
        random_state=seed,
    )
    with threadpool_limits(limits=_threads(len(y)), user_api="openmp"):
        model.fit(_matrix(train, columns), y)
    return model


def _predict(model: HistGradientBoostingClassifier, table: pa.Table, columns: list[str]) -> _Array:
    """P(churned) for every row of ``table``."""
    with threadpool_limits(limits=_threads(table.num_rows), user_api="openmp"):
        proba: _Array = model.predict_proba(_matrix(table, columns))[:, 1]
    return proba


def calibration_table(y: _Array, p: _Array, *, model: str, bins: int = 10) -> list[dict[str, Any]]:
    """Mean predicted vs observed churn per quantile bin of the prediction (deciles by
    default); bins hold equal counts, ties broken by row order."""
    n = len(p)
    if n == 0:
        return []
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(p, kind="stable")] = np.arange(n)
    group = rank * bins // n
    count = np.bincount(group, minlength=bins)
    pred = np.bincount(group, weights=p, minlength=bins)
    obs = np.bincount(group, weights=y.astype(np.float64), minlength=bins)
    return [
        {
            "model": model,
            "decile": i + 1,
            "n": int(count[i]),
            "mean_predicted": float(pred[i] / count[i]),
            "observed": float(obs[i] / count[i]),
        }
        for i in range(bins)
        if count[i] > 0
    ]


def _scores(y: _Array, p: _Array) -> tuple[float, float, float]:
    """ROC-AUC, PR-AUC (average precision) and Brier score."""
    return (
        float(roc_auc_score(y, p)),
        float(average_precision_score(y, p)),
        float(brier_score_loss(y, p)),
    )


def evaluate_churn_model(
    orders: ibis.Table,
    *,
    cutoff: date,
    horizon_days: int = 90,
    order_lines: ibis.Table | None = None,
    seed: int = 0,
) -> ChurnEvaluation:
    """Train as of ``cutoff − horizon_days`` and evaluate as of ``cutoff`` (see the module
    docstring). The data must reach ``cutoff + horizon_days``."""
    _require_coverage(orders, cutoff + timedelta(days=horizon_days))
    train_cutoff = cutoff - timedelta(days=horizon_days)
    train = _engine_table(orders, train_cutoff, horizon_days, order_lines, labelled=True)
    _check_trainable(_labels(train))
    test = _engine_table(orders, cutoff, horizon_days, order_lines, labelled=True)
    y = _labels(test)
    if len(y) == 0 or y.min() == y.max():
        raise ModelFitError(
            "the evaluation window has only one class (everyone churned or everyone "
            "bought); ROC-AUC is undefined"
        )
    # BG/NBD is fitted separately at each cutoff, on that cutoff's features only.
    train = add_bgnbd_features(train, horizon_days=horizon_days, seed=seed)
    test = add_bgnbd_features(test, horizon_days=horizon_days, seed=seed)
    columns = _shared_columns(train, test)
    model = _fit(train, columns, seed)
    proba = _predict(model, test, columns)
    roc, pr, brier = _scores(y, proba)
    calibration = calibration_table(y, proba, model="classifier")
    base: tuple[float, float, float] | tuple[None, None, None] = (None, None, None)
    if "p_alive" in test.column_names:
        baseline = 1.0 - test.column("p_alive").to_numpy()
        base = _scores(y, baseline)
        calibration += calibration_table(y, baseline, model="p_alive_baseline")
    return ChurnEvaluation(
        n_train=train.num_rows,
        n_test=test.num_rows,
        base_rate=float(y.mean()),
        roc_auc=roc,
        pr_auc=pr,
        brier=brier,
        baseline_roc_auc=base[0],
        baseline_pr_auc=base[1],
        baseline_brier=base[2],
        calibration=calibration,
        train_cutoff=train_cutoff,
        cutoff=cutoff,
        horizon_days=horizon_days,
        features=columns,
    )


def churn_risk(
    orders: ibis.Table,
    *,
    as_of: date,
    horizon_days: int = 90,
    order_lines: ibis.Table | None = None,
    seed: int = 0,
) -> pa.Table:
    """Churn risk of every customer with a purchase before ``as_of``: the probability of
    no purchase in [as_of, as_of + horizon_days).

    The classifier is trained on the most recent fully labelled window (features as of
    ``as_of − horizon_days``, labels from the days up to ``as_of``), then applied to
    features as of ``as_of``. Returns ``customer_id``, ``churn_risk`` (0–100) and
    ``churn_probability`` (0–1), sorted by customer id.
    """
    _require_coverage(orders, as_of)
    train_cutoff = as_of - timedelta(days=horizon_days)
    train = _engine_table(orders, train_cutoff, horizon_days, order_lines, labelled=True)
    _check_trainable(_labels(train))
    current = _engine_table(orders, as_of, horizon_days, order_lines, labelled=False)
    train = add_bgnbd_features(train, horizon_days=horizon_days, seed=seed)
    current = add_bgnbd_features(current, horizon_days=horizon_days, seed=seed)
    columns = _shared_columns(train, current)
    model = _fit(train, columns, seed)
    proba = np.clip(_predict(model, current, columns), 0.0, 1.0)
    return pa.table(
        {
            "customer_id": current.column("customer_id"),
            "churn_risk": pa.array(100.0 * proba, pa.float64()),
            "churn_probability": pa.array(proba, pa.float64()),
        }
    )
