"""The scores refresh (:mod:`regulars.scoring`): store → engine → ``customer_scores``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import Engine, select

from regulars.config import Settings
from regulars.data.demo import generate_demo
from regulars.data.importers import read_orders as read_export
from regulars.models.churn import churn_risk
from regulars.models.selection import DEFAULT_MODEL
from regulars.models.service import score_customers
from regulars.scoring.refresh import refresh_scores
from regulars.shop import Shop
from regulars.store.arrow import cents_to_money, read_store_orders
from regulars.store.ingest import ingest
from regulars.store.session import session_scope
from regulars.store.tables import Customer, CustomerScore, Order
from regulars.wiring import job_registry
from regulars.worker import Registry, Worker

from .conftest import Clock

AS_OF = date(2026, 1, 1)
BERLIN = Settings(timezone="Europe/Berlin")
NOW = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)  # 03:00 in Berlin: as_of = 1 January 2026


def _noon(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


# Five customers whose scores as of 2026-01-01 are worked out by hand below, and F, whose
# only order is 2025-12-31 23:30 UTC = 2026-01-01 00:30 in Berlin: not before as_of.
ORDERS: dict[str, list[tuple[datetime, str, str]]] = {
    # every 30 days, 7 × 20.00
    "A": [
        (_noon(d), "20.00", "completed")
        for d in (
            "2025-06-04",
            "2025-07-04",
            "2025-08-03",
            "2025-09-02",
            "2025-10-02",
            "2025-11-01",
            "2025-12-01",
        )
    ],
    "B": [(_noon("2025-11-20"), "15.00", "completed"), (_noon("2025-12-20"), "15.00", "completed")],
    # a cancelled order does not count
    "C": [
        (_noon("2025-12-28"), "50.00", "completed"),
        (_noon("2025-12-29"), "999.00", "cancelled"),
    ],
    "D": [
        (_noon(d), "25.00", "completed")
        for d in (
            "2024-06-01",
            "2025-03-01",
            "2025-06-01",
            "2025-09-01",
            "2025-10-15",
            "2025-11-25",
        )
    ],
    "E": [(_noon("2024-03-01"), "5.00", "completed")],
    "F": [(datetime(2025, 12, 31, 23, 30, tzinfo=UTC), "80.00", "completed")],
}

# Worked by hand (docs: analytics.rfm / kinds / stages), as of 2026-01-01:
# recency A 31, B 12, C 4, D 37, E 671 → R (most recent = 5): C5 B4 A3 D2 E1.
# frequency A7 B2 C1 D6 E1 → F: C and E tie at 1 (score 1), B3 D4 A5.
# monetary A140 B30 C50 D150 E5 → M: E1 B2 C3 A4 D5.
# FM = (F + M + 1) // 2: A5 B3 C2 D5 E1 → segments from the R × FM grid.
# Kinds: A gaps 30 × 6 (CV 0, 6 gaps, span 180) → regularity 100 → regular; B one gap of
# 30 days → evidence 1/4, duration 30/180 → 4.2 → occasional; D gaps 273, 92, 92, 44, 41
# → CV 0.79 → 21 → occasional; C, E one purchase → one-time.
# Stages: baseline = median first-year purchases of D (2) and E (1) = 1.5, attachment
# needs ≥ 4.5 purchases in 2025: A (7) attached but a customer for under a year →
# attachment; D (5) attached, active, customer since 2024 → loyalty; B repeat purchases;
# C, E first purchase.
EXPECTED = {
    "A": ("Loyal", "regular", "attachment"),
    "B": ("Potential loyalist", "occasional", "repeat purchases"),
    "C": ("Potential loyalist", "one-time", "first purchase"),
    "D": ("Can't lose them", "occasional", "loyalty"),
    "E": ("Lost", "one-time", "first purchase"),
}


def _store(engine: Engine, orders: dict[str, list[tuple[datetime, str, str]]]) -> None:
    with session_scope(engine) as session:
        for customer, rows in orders.items():
            session.add(Customer(customer_id=customer))
            for i, (when, amount, status) in enumerate(rows):
                session.add(
                    Order(
                        order_id=f"{customer}-{i}",
                        customer_id=customer,
                        ordered_at=when,
                        amount=Decimal(amount),
                        status=status,
                        currency="EUR",
                    )
                )


def _scores(engine: Engine) -> dict[str, dict[str, Any]]:
    with session_scope(engine) as session:
        return {
            s.customer_id: {
                "segment": s.segment,
                "kind": s.kind,
                "stage": s.stage,
                "p_alive": s.p_alive,
                "clv_12m": s.clv_12m,
                "churn_risk": s.churn_risk,
                "computed_at": s.computed_at,
            }
            for s in session.scalars(select(CustomerScore))
        }


def test_read_orders_is_exact_and_canonical(store_engine: Engine) -> None:
    _store(store_engine, {"A": [(_noon("2025-01-02"), "1234567.89", "completed")]})
    with session_scope(store_engine) as session:
        session.add(
            Order(
                order_id="R-1",
                customer_id="A",
                ordered_at=datetime(2025, 1, 3, 8, 30, 15, 123456, tzinfo=UTC),
                amount=Decimal("-0.01"),
                refunded_amount=Decimal("0.00"),
                channel="pos",
            )
        )
    table = read_store_orders(store_engine, batch_size=1)  # one row a batch: batches join up
    assert table.schema.field("amount").type == pa.decimal128(18, 2)
    assert table.column("amount").to_pylist() == [Decimal("1234567.89"), Decimal("-0.01")]
    assert table.column("ordered_at").to_pylist() == [
        _noon("2025-01-02"),
        datetime(2025, 1, 3, 8, 30, 15, 123456, tzinfo=UTC),
    ]
    assert table.column("channel").to_pylist() == [None, "pos"]
    assert read_store_orders(store_engine, shop_id="elsewhere").num_rows == 0


def test_cents_become_money_exactly() -> None:
    cents = pa.array([12345, -5, None, 999_999_999_999_999_999], pa.int64())
    assert cents_to_money(cents).to_pylist() == [
        Decimal("123.45"),
        Decimal("-0.05"),
        None,
        Decimal("9999999999999999.99"),
    ]


def test_refresh_writes_the_hand_checked_scores(store_engine: Engine) -> None:
    _store(store_engine, ORDERS)
    result = refresh_scores(store_engine, settings=BERLIN, now=NOW)
    assert result.as_of == AS_OF
    assert (result.orders, result.customers, result.written) == (19, 5, 5)
    scores = _scores(store_engine)
    assert {c: (s["segment"], s["kind"], s["stage"]) for c, s in scores.items()} == EXPECTED
    assert "F" not in scores  # its order is on 1 January, Berlin time
    assert {s["computed_at"] for s in scores.values()} == {NOW}
    # Five customers cannot support the churn classifier: NULL, and said so.
    assert {s["churn_risk"] for s in scores.values()} == {None}
    assert any(p.startswith("churn model: only") for p in result.problems)


def test_refresh_agrees_with_the_analytics_on_the_same_orders(store_engine: Engine) -> None:
    _store(store_engine, ORDERS)
    refresh_scores(store_engine, settings=BERLIN, now=NOW)
    shop = Shop.from_store(store_engine, settings=BERLIN)
    direct = shop.customers(AS_OF).to_pyarrow()
    expected = {
        row["customer_id"]: (row["segment"], row["kind"], row["stage"])
        for row in direct.to_pylist()
    }
    stored = {c: (s["segment"], s["kind"], s["stage"]) for c, s in _scores(store_engine).items()}
    assert stored == expected


def test_too_little_data_writes_nulls_for_the_models(store_engine: Engine) -> None:
    _store(store_engine, {"solo": [(_noon("2025-12-01"), "9.99", "completed")]})
    result = refresh_scores(store_engine, settings=BERLIN, now=NOW)
    [(customer, score)] = _scores(store_engine).items()
    assert customer == "solo"
    # Alone, the customer is the lowest quintile of everything (R = F = M = 1): "Lost".
    assert (score["segment"], score["kind"], score["stage"]) == (
        "Lost",
        "one-time",
        "first purchase",
    )
    assert (score["p_alive"], score["clv_12m"], score["churn_risk"]) == (None, None, None)
    assert [p.split(":")[0] for p in result.problems] == ["value model", "churn model"]
    assert "previous values kept" in result.summary()


def test_a_model_that_cannot_be_fitted_keeps_the_previous_scores_marked_stale(
    store_engine: Engine,
) -> None:
    """The last run computed a churn risk for everyone (set here); tonight the churn model
    cannot be fitted: the risks stay as they were, every row says why, and the scores that
    were computed are new."""
    _store(store_engine, ORDERS)
    refresh_scores(store_engine, settings=BERLIN, now=NOW)
    with session_scope(store_engine) as session:
        for score in session.scalars(select(CustomerScore)):
            score.churn_risk = 0.25
            score.segment = "old segment"
    later = NOW + timedelta(days=1)
    result = refresh_scores(store_engine, settings=BERLIN, now=later, as_of=AS_OF)
    assert any(p.startswith("churn model") for p in result.problems)
    with session_scope(store_engine) as session:
        rows = session.scalars(select(CustomerScore)).all()
        assert {r.churn_risk for r in rows} == {0.25}
        assert {r.segment for r in rows} == {s[0] for s in EXPECTED.values()}
        assert {r.computed_at for r in rows} == {later}
        (reason,) = {r.stale_reason for r in rows}
    assert reason is not None
    assert "churn model: only" in reason
    assert reason.endswith("(previous values kept)")


def test_a_run_that_scores_nobody_deletes_nothing(store_engine: Engine) -> None:
    _store(store_engine, ORDERS)
    refresh_scores(store_engine, settings=BERLIN, now=NOW)
    before = _scores(store_engine)
    result = refresh_scores(
        store_engine, settings=BERLIN, now=NOW + timedelta(days=1), as_of=date(2020, 1, 1)
    )
    assert (result.customers, result.removed) == (0, 0)
    assert _scores(store_engine) == before
    with session_scope(store_engine) as session:
        reasons = set(session.scalars(select(CustomerScore.stale_reason)))
    assert reasons == {
        "no customer has a counted purchase before 2020-01-01 (previous values kept)"
    }


def test_an_empty_store_is_not_an_error(store_engine: Engine) -> None:
    result = refresh_scores(store_engine, settings=BERLIN, now=NOW)
    assert (result.orders, result.customers, result.written) == (0, 0, 0)
    assert result.problems == ["no customer has a counted purchase before 2026-01-01"]


def test_a_rerun_replaces_and_removes_stale_scores(store_engine: Engine) -> None:
    _store(store_engine, ORDERS)
    refresh_scores(store_engine, settings=BERLIN, now=NOW)
    with session_scope(store_engine) as session:  # C's one counted order is refunded
        order = session.scalars(select(Order).where(Order.order_id == "C-0")).one()
        order.status = "refunded"
        order.refunded_amount = Decimal("50.00")
    later = NOW + timedelta(days=1)
    result = refresh_scores(store_engine, settings=BERLIN, now=later, as_of=AS_OF)
    assert (result.written, result.removed) == (4, 1)
    scores = _scores(store_engine)
    assert sorted(scores) == ["A", "B", "D", "E"]
    assert {s["computed_at"] for s in scores.values()} == {later}


def test_the_worker_runs_the_refresh_job(store_engine: Engine) -> None:
    _store(store_engine, ORDERS)
    registry = job_registry()
    clock = Clock(NOW)
    worker = Worker(store_engine, registry, settings=BERLIN, worker_id="w", clock=clock)
    assert isinstance(registry, Registry)
    # Every recurring kind gets its next occurrence; the refresh's is the next 03:00 Berlin:
    # 2 January, 02:00 UTC (other parts of the product register their own daily jobs).
    assert worker.schedule_recurring() == len(registry.recurring())
    clock.now = datetime(2026, 1, 2, 2, 0, 1, tzinfo=UTC)
    [outcome] = [o for o in worker.run_due() if o.job.kind == "scores.refresh"]
    assert outcome.status == "done"
    assert outcome.result is not None
    assert outcome.result["as_of"] == "2026-01-02"
    assert outcome.result["customers"] == 6  # F's order now counts too
    assert any("churn model" in p for p in outcome.result["problems"])
    assert len(_scores(store_engine)) == 6


@pytest.mark.slow
def test_scores_agree_with_the_models_on_a_demo_shop(store_engine: Engine, tmp_path: Path) -> None:
    demo = generate_demo(tmp_path, n_transactions=3_000, fmt="parquet")
    export = read_export([demo.orders])
    ingest(store_engine, export)
    as_of = date(2026, 11, 1)  # the demo's end
    result = refresh_scores(store_engine, as_of=as_of)
    assert result.problems == []
    shop = Shop.from_import(export)
    value = score_customers(shop.orders, as_of=as_of, model=DEFAULT_MODEL).to_pylist()
    risk = churn_risk(shop.orders, as_of=as_of).to_pylist()
    scores = _scores(store_engine)
    assert len(scores) == len(value) == result.customers
    for row in value:
        stored = scores[row["customer_id"]]
        assert stored["p_alive"] == pytest.approx(row["p_alive"], abs=1e-9)
        assert stored["clv_12m"] == Decimal(str(round(row["clv_12m"], 2)))
    probabilities = {r["customer_id"]: r["churn_probability"] for r in risk}
    assert np.allclose(
        [scores[c]["churn_risk"] for c in probabilities], list(probabilities.values())
    )
    # MBG/NBD, not BG/NBD: a one-time buyer is not certainly alive.
    customers = shop.customers(as_of=as_of)
    one_timers = customers.filter(customers.orders == 1).customer_id.to_pyarrow().to_pylist()
    assert max(scores[c]["p_alive"] for c in one_timers) < 1
