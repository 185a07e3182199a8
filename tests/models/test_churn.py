"""Churn classifier: labels, the honest time split, scoring, errors, scale.

The synthetic population is a buy-till-you-die process (BG/NBD-like): each customer buys
at a Poisson rate drawn from a gamma distribution and, after every purchase, drops out
with a probability drawn from a beta distribution. Who has stopped buying shows in the
history, so churn is learnable. Run this file as a script for a timing at scale:
``python tests/models/test_churn.py 1000000``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from regulars.engine import connect, table_from_arrow
from regulars.errors import ModelFitError
from regulars.models.churn import (
    ChurnEvaluation,
    calibration_table,
    churn_labels,
    churn_risk,
    evaluate_churn_model,
)

MONEY = pa.decimal128(18, 2)
START = date(2021, 1, 1)
END = date(2024, 1, 1)  # the data ends the day before
EVAL_CUTOFF = END - timedelta(days=90)
CATEGORIES = np.array(["coffee", "tea", "cakes", "beans", "mugs", "gifts", "books", "toys"])


def _purchase_times(
    n: int, rng: np.random.Generator, span_days: float
) -> tuple[np.ndarray, np.ndarray]:
    """(customer index, day offset) of every purchase, one vectorised step per purchase
    number: the population shrinks each round as customers drop out or pass the end."""
    rate = rng.gamma(shape=1.5, scale=1 / 30.0, size=n)  # purchases per day, mean 1/20
    dropout = rng.beta(1.0, 6.0, size=n)  # P(drop out after a purchase), mean 0.14
    t = rng.uniform(0, span_days, size=n)  # first purchase
    who, when = [], []
    active = np.arange(n)
    while active.size:
        who.append(active)
        when.append(t[active])
        stays = rng.random(active.size) >= dropout[active]
        active = active[stays]
        t[active] += rng.exponential(1.0 / rate[active])
        active = active[t[active] < span_days]
    return np.concatenate(who), np.concatenate(when)


def _money(values: np.ndarray) -> pa.Array:
    """Floats → decimal(18,2), rounded to cents first so the cast is exact."""
    return pc.cast(pa.array(np.round(values, 2)), MONEY)


def synthetic_orders(
    n_customers: int, *, seed: int = 0, with_lines: bool = False
) -> tuple[pa.Table, pa.Table | None]:
    """Orders (and optionally order lines) of a buy-till-you-die population between START
    and END, with ~3 % cancelled, ~2 % fully and ~4 % partially refunded orders."""
    rng = np.random.default_rng(seed)
    who, day = _purchase_times(n_customers, rng, float((END - START).days))
    n = who.size
    spend = rng.lognormal(3.5, 0.5, size=n_customers)[who] * rng.lognormal(0, 0.3, size=n)
    amount = np.round(spend, 2)
    status_draw = rng.random(n)
    status = np.where(
        status_draw < 0.03,
        "cancelled",
        np.where(
            status_draw < 0.05,
            "refunded",
            np.where(status_draw < 0.09, "partially_refunded", "completed"),
        ),
    )
    refunded = np.where(
        status == "refunded", amount, np.where(status == "partially_refunded", amount * 0.3, 0)
    )
    micros = (day * 86_400e6).astype(np.int64) + np.int64(
        (datetime.combine(START, datetime.min.time()) - datetime(1970, 1, 1)).total_seconds() * 1e6
    )
    order_ids = pc.cast(pa.array(np.arange(n)), pa.string())
    orders = pa.table(
        {
            "customer_id": pc.binary_join_element_wise(
                "c", pc.cast(pa.array(who), pa.string()), ""
            ),
            "order_id": order_ids,
            "ordered_at": pa.array(micros, pa.timestamp("us")),
            "amount": _money(amount),
            "refunded_amount": _money(refunded),
            "status": pa.array(status),
        }
    )
    if not with_lines:
        return orders, None
    # 1–3 lines per order; each customer sticks to a few categories.
    n_lines = rng.integers(1, 4, size=n)
    line_order = np.repeat(np.arange(n), n_lines)
    breadth = rng.integers(1, 5, size=n_customers)[who][line_order]
    category = CATEGORIES[(who[line_order] + rng.integers(0, breadth)) % len(CATEGORIES)]
    lines = pa.table(
        {
            "order_id": order_ids.take(pa.array(line_order)),
            "sku": pa.array(category),
            "category": pa.array(category),
            "quantity": pa.array(np.ones(line_order.size, dtype=np.int64)),
            "line_amount": _money(amount[line_order] / n_lines[line_order]),
        }
    )
    return orders, lines


@pytest.fixture(scope="module")
def population() -> tuple[ibis.Table, ibis.Table | None]:
    """2,000 synthetic customers with order lines, on DuckDB."""
    orders, lines = synthetic_orders(2_000, seed=1, with_lines=True)
    con = connect()
    assert lines is not None
    return table_from_arrow(con, orders), table_from_arrow(con, lines)


@pytest.fixture(scope="module")
def evaluation(population: tuple[ibis.Table, ibis.Table | None]) -> ChurnEvaluation:
    orders, lines = population
    return evaluate_churn_model(orders, cutoff=EVAL_CUTOFF, order_lines=lines)


@pytest.fixture(scope="module")
def scores(population: tuple[ibis.Table, ibis.Table | None]) -> pa.Table:
    orders, lines = population
    return churn_risk(orders, as_of=END, order_lines=lines, seed=7)


# --- labels -----------------------------------------------------------------------------


def _orders(rows: list[tuple[str, str, str, str]]) -> pa.Table:
    """(customer, timestamp, amount, status) rows → a canonical orders table."""
    return pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "order_id": [str(i) for i in range(len(rows))],
            "ordered_at": pa.array(
                [datetime.fromisoformat(r[1]) for r in rows], pa.timestamp("us")
            ),
            "amount": pa.array([Decimal(r[2]) for r in rows], MONEY),
            "refunded_amount": pa.array([Decimal(0)] * len(rows), MONEY),
            "status": [r[3] for r in rows],
        }
    )


def test_labels_hand_checked(load: Callable[[pa.Table], ibis.Table]) -> None:
    # cutoff 2024-03-01, horizon 10 days → window [03-01 00:00, 03-11 00:00)
    orders = load(
        _orders(
            [
                ("stays", "2024-01-05 10:00", "10", "completed"),
                ("stays", "2024-03-01 00:00", "10", "completed"),  # first instant: in
                ("late", "2024-02-01 09:00", "10", "completed"),
                ("late", "2024-03-11 00:00", "10", "completed"),  # window end: out
                ("edge", "2024-02-29 23:59", "10", "completed"),
                ("edge", "2024-03-10 23:59", "10", "completed"),  # last minute: in
                ("cancel", "2024-02-01 09:00", "10", "completed"),
                ("cancel", "2024-03-05 09:00", "10", "cancelled"),  # not a purchase
                ("refund", "2024-02-01 09:00", "10", "completed"),
                ("refund", "2024-03-05 09:00", "10", "refunded"),  # not a purchase
                ("return", "2024-02-01 09:00", "10", "completed"),
                ("return", "2024-03-05 09:00", "-10", "completed"),  # not a purchase
                ("new", "2024-03-02 09:00", "10", "completed"),  # no history: no label
                ("onlycancel", "2024-02-01 09:00", "10", "cancelled"),  # never bought
            ]
        )
    )
    labels = churn_labels(orders, cutoff=date(2024, 3, 1), horizon_days=10).to_pyarrow()
    got = dict(zip(labels["customer_id"].to_pylist(), labels["churned"].to_pylist(), strict=True))
    assert got == {
        "stays": False,
        "late": True,
        "edge": False,
        "cancel": True,
        "refund": True,
        "return": True,
    }


# --- evaluation -------------------------------------------------------------------------


def test_time_split_beats_chance_and_reports_everything(evaluation: ChurnEvaluation) -> None:
    ev = evaluation
    assert ev.n_train > 1000
    assert ev.n_test > ev.n_train  # more customers have started by the later cutoff
    assert ev.train_cutoff == EVAL_CUTOFF - timedelta(days=90)
    assert 0.2 < ev.base_rate < 0.95
    assert ev.roc_auc > 0.8
    assert ev.pr_auc > ev.base_rate  # better than a constant
    assert 0 <= ev.brier < ev.base_rate * (1 - ev.base_rate)  # better than the base rate
    assert ev.baseline_roc_auc is not None
    assert ev.baseline_brier is not None
    assert ev.baseline_roc_auc > 0.7
    assert "category_breadth" in ev.features
    assert "p_alive" in ev.features
    json.dumps(ev.to_dict())  # JSON-ready


def test_calibration_by_decile(evaluation: ChurnEvaluation) -> None:
    models = {row["model"] for row in evaluation.calibration}
    assert models == {"classifier", "p_alive_baseline"}
    deciles = [row for row in evaluation.calibration if row["model"] == "classifier"]
    assert [row["decile"] for row in deciles] == list(range(1, 11))
    assert sum(row["n"] for row in deciles) == evaluation.n_test
    # roughly calibrated: observed churn follows the prediction
    for row in deciles:
        assert abs(row["mean_predicted"] - row["observed"]) < 0.15
    assert deciles[-1]["observed"] > deciles[0]["observed"] + 0.3


def _scramble_from(orders: pa.Table, start: date, seed: int) -> pa.Table:
    """Orders before ``start`` untouched; rows from ``start`` on replaced by random ones
    (other customers, amounts and statuses)."""
    ts = datetime.combine(start, datetime.min.time())
    before = orders.filter(pc.less(orders["ordered_at"], pa.scalar(ts, pa.timestamp("us"))))
    after = orders.num_rows - before.num_rows
    rng = np.random.default_rng(seed)
    noise = pa.table(
        {
            "customer_id": pa.array(
                [f"c{i}" for i in rng.integers(0, 3_000, size=after)], pa.string()
            ),
            "order_id": pa.array([f"x{i}" for i in range(after)], pa.string()),
            "ordered_at": pa.array(
                [ts + timedelta(minutes=int(m)) for m in rng.integers(0, 200 * 1440, size=after)],
                pa.timestamp("us"),
            ),
            "amount": _money(rng.uniform(-20, 200, size=after)),
            "refunded_amount": _money(np.zeros(after)),
            "status": pa.array(
                rng.choice(["completed", "cancelled", "refunded"], size=after), pa.string()
            ),
        }
    )
    return pa.concat_tables([before, noise])


def test_evaluation_ignores_orders_after_its_windows() -> None:
    """Orders from cutoff + horizon on cannot change the evaluation; orders from the
    evaluation cutoff on change only the test labels, never the trained model."""
    orders, _ = synthetic_orders(800, seed=2)
    con = connect()
    cutoff = EVAL_CUTOFF - timedelta(days=60)  # the data runs 60 days past the window
    base = evaluate_churn_model(table_from_arrow(con, orders), cutoff=cutoff)
    changed = _scramble_from(orders, cutoff + timedelta(days=90), seed=3)
    again = evaluate_churn_model(table_from_arrow(con, changed), cutoff=cutoff)
    assert again.to_dict() == base.to_dict()
    relabelled = _scramble_from(orders, cutoff, seed=3)
    moved = evaluate_churn_model(table_from_arrow(con, relabelled), cutoff=cutoff)
    assert (moved.n_train, moved.n_test) == (base.n_train, base.n_test)
    assert moved.base_rate != base.base_rate


def test_scoring_ignores_orders_after_as_of() -> None:
    """Also shows that scores are reproducible for a seed."""
    orders, _ = synthetic_orders(800, seed=4)
    con = connect()
    as_of = END - timedelta(days=60)
    base = churn_risk(table_from_arrow(con, orders), as_of=as_of)
    changed = _scramble_from(orders, as_of, seed=5)
    again = churn_risk(table_from_arrow(con, changed), as_of=as_of)
    assert again.equals(base)


def test_training_sample_is_capped(
    population: tuple[ibis.Table, ibis.Table | None],
    evaluation: ChurnEvaluation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from regulars.models import churn

    monkeypatch.setattr(churn, "MAX_TRAIN_ROWS", 800)
    orders, lines = population
    capped = evaluate_churn_model(orders, cutoff=EVAL_CUTOFF, order_lines=lines)
    assert capped.n_train == evaluation.n_train  # reports the labelled customers
    assert capped.roc_auc > 0.8
    assert capped.roc_auc != evaluation.roc_auc  # trained on fewer rows


# --- scoring ----------------------------------------------------------------------------


def test_churn_risk_is_a_0_to_100_score_per_customer(
    population: tuple[ibis.Table, ibis.Table | None], scores: pa.Table
) -> None:
    orders, _ = population
    assert scores.column_names == ["customer_id", "churn_risk", "churn_probability"]
    bought = orders.filter(orders.status != "cancelled").customer_id.nunique().execute()
    assert 0.9 * bought < scores.num_rows <= bought
    assert len(set(scores["customer_id"].to_pylist())) == scores.num_rows
    risk = scores["churn_risk"].to_numpy()
    prob = scores["churn_probability"].to_numpy()
    assert np.all((risk >= 0) & (risk <= 100))
    np.testing.assert_allclose(risk, 100 * prob)
    assert risk.std() > 5  # it discriminates


def test_recent_buyers_score_lower_than_lapsed_ones(
    population: tuple[ibis.Table, ibis.Table | None], scores: pa.Table
) -> None:
    orders, _ = population
    last = (
        orders.group_by("customer_id")
        .aggregate(last=orders.ordered_at.max())
        .to_pyarrow()
        .join(scores, "customer_id", join_type="inner")
    )
    end = np.datetime64(datetime.combine(END, datetime.min.time()), "us")
    days_ago = (end - last["last"].to_numpy()) / np.timedelta64(1, "D")
    risk = last["churn_risk"].to_numpy()
    assert risk[days_ago < 30].mean() + 20 < risk[days_ago > 365].mean()


# --- errors -----------------------------------------------------------------------------


def test_too_few_customers_is_a_model_fit_error() -> None:
    orders, _ = synthetic_orders(20, seed=6)
    t = table_from_arrow(connect(), orders)
    with pytest.raises(ModelFitError, match="at least 50"):
        evaluate_churn_model(t, cutoff=EVAL_CUTOFF)
    with pytest.raises(ModelFitError, match="at least 50"):
        churn_risk(t, as_of=END)


def test_one_class_is_a_model_fit_error() -> None:
    # 60 customers who all buy every week: nobody churns anywhere
    rows = [
        (f"c{i}", (datetime(2023, 1, 2, 12) + timedelta(weeks=w)).isoformat(), "10", "completed")
        for i in range(60)
        for w in range(52)
    ]
    t = table_from_arrow(connect(), _orders(rows))
    with pytest.raises(ModelFitError, match="both"):
        churn_risk(t, as_of=date(2023, 12, 30))


def test_labels_beyond_the_data_are_refused(
    population: tuple[ibis.Table, ibis.Table | None],
) -> None:
    orders, _ = population
    with pytest.raises(ModelFitError, match="data ends"):
        evaluate_churn_model(orders, cutoff=END - timedelta(days=30))
    with pytest.raises(ModelFitError, match="data ends"):
        churn_risk(orders, as_of=END + timedelta(days=60))


def test_calibration_table_deciles() -> None:
    p = np.linspace(0, 1, 100)
    y = (p > 0.5).astype(np.int8)
    rows = calibration_table(y, p, model="m")
    assert [r["n"] for r in rows] == [10] * 10
    assert rows[0]["observed"] == 0.0
    assert rows[-1]["observed"] == 1.0
    assert rows[0]["mean_predicted"] == pytest.approx(p[:10].mean())
    assert calibration_table(y[:3], p[:3], model="m") == [
        {"model": "m", "decile": d, "n": 1, "mean_predicted": v, "observed": 0.0}
        for d, v in zip((1, 4, 7), p[:3], strict=True)
    ]


# --- scale ------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_hundred_thousand_customers() -> None:
    orders, _ = synthetic_orders(200_000, seed=8)
    t = table_from_arrow(connect(), orders)
    ev = evaluate_churn_model(t, cutoff=EVAL_CUTOFF)
    assert ev.roc_auc > 0.75
    assert ev.n_test > 150_000


def _benchmark(n_customers: int) -> None:
    """Print wall-clock and CPU timings of generation, evaluation and scoring."""
    marks = [(time.perf_counter(), time.process_time())]
    orders, _ = synthetic_orders(n_customers, seed=0)
    marks.append((time.perf_counter(), time.process_time()))
    table = table_from_arrow(connect(), orders)
    ev = evaluate_churn_model(table, cutoff=EVAL_CUTOFF)
    marks.append((time.perf_counter(), time.process_time()))
    scores = churn_risk(table, as_of=END)
    marks.append((time.perf_counter(), time.process_time()))
    print(f"customers {n_customers:,}, orders {orders.num_rows:,}, scored {scores.num_rows:,}")
    for name, (w0, c0), (w1, c1) in zip(
        ("generate", "evaluate", "score"), marks, marks[1:], strict=False
    ):
        print(f"{name}: wall {w1 - w0:.1f} s, cpu {c1 - c0:.1f} s")
    summary = {k: v for k, v in ev.to_dict().items() if k not in ("calibration", "features")}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    _benchmark(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
