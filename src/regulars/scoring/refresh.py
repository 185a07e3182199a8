"""Per-customer scores, from the operational store to the analytics engine and back.

``refresh_scores(engine, settings=...)`` is the nightly ``scores.refresh`` job and
``regulars scores refresh``:

1. **Read** the store's orders
   (:func:`regulars.store.arrow.read_store_orders`) in batches straight into Arrow, in
   the canonical schema, money exact.
2. **Compute**, as of the start of the shop's local day (orders before it count): the
   RFM ``segment``, ``kind``, ``stage`` and ``active`` (last purchase within the
   activity window) of every customer
   (:func:`regulars.analytics.customer_table.customer_table`, the same table the report
   shows), ``p_alive`` and ``clv_12m`` (MBG/NBD + Gamma-Gamma,
   :func:`regulars.models.service.score_customers`; MBG/NBD is the report's default,
   :data:`regulars.models.selection.DEFAULT_MODEL`: unlike BG/NBD it lets a one-time
   buyer lapse, so P(alive) falls with their age) and ``churn_risk`` — stored as the
   probability 0–1 of no purchase in the next 90 days
   (:func:`regulars.models.churn.churn_risk`; the report shows it × 100). The maths runs
   in the engine and in numpy on whole columns, the models on at most
   ``settings.refresh_threads`` OpenMP/BLAS threads (default 1).
3. **Dashboard**: the dashboard snapshot (:mod:`regulars.scoring.dashboard`) — the
   report's KPIs for each period choice, trend, goal, cohorts, lifecycle, RFM grid and the
   sizes of segments, kinds and stages — from the same orders, unless nobody was scored.
4. **Write** ``customer_scores`` (:func:`write_scores`): one upsert per batch on
   ``customer_id``, every row stamped with this run's ``computed_at``; afterwards the
   rows of customers this run did not score (no counted purchase any more) are deleted,
   so the table always describes one run; then the snapshot into ``dashboard_snapshots``.

When a model cannot be fitted (too little data: :class:`~regulars.errors.ModelFitError`)
its columns are **not overwritten**: a customer scored before keeps the values of the last
run that computed them (NULL for a customer never scored), every row written says why in
``stale_reason``, and :attr:`RefreshResult.problems` says it too; the analytics-only scores
are written all the same. When no customer can be scored at all, nothing is deleted: the
stored rows stay, marked stale with the reason. A run that computes everything clears
``stale_reason``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, Table, delete, update
from threadpoolctl import threadpool_limits

from regulars.analytics.customer_table import customer_table
from regulars.clock import local_day, utcnow
from regulars.config import Settings
from regulars.errors import ModelFitError
from regulars.models.churn import churn_risk
from regulars.models.selection import DEFAULT_MODEL
from regulars.models.service import score_customers
from regulars.scoring.at_risk import risk_summary
from regulars.scoring.dashboard import compute_dashboard, write_snapshot
from regulars.shop import Shop
from regulars.store.session import session_scope
from regulars.store.shop_settings import effective_for
from regulars.store.tables import CustomerScore
from regulars.store.upsert import dialect_insert

SCORES: Table = CustomerScore.__table__  # type: ignore[assignment]

WRITE_BATCH = 10_000
CHURN_HORIZON_DAYS = 90
SCORE_FIELDS = ("segment", "kind", "stage", "active", "p_alive", "clv_12m", "churn_risk")
VALUE_FIELDS = ("p_alive", "clv_12m")
LABEL_EXTRAS = ("r_score", "f_score", "revenue")

Progress = Callable[[str], None]


# -- computing ----------------------------------------------------------------------------


@dataclass
class Scores:
    """One row per customer: ``customer_id`` + :data:`SCORE_FIELDS`, by customer id."""

    table: pa.Table
    labels: pa.Table | None = None
    """The customer table's labels behind the scores, with :data:`LABEL_EXTRAS` (for the
    dashboard snapshot's RFM grid)."""
    problems: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)
    """The fields this run could not compute, each with the reason (their stored values
    are kept)."""

    def stale_reason(self) -> str | None:
        """What the stored rows say about the fields kept, None when none is."""
        if not self.problems:
            return None
        return "; ".join(self.problems) + " (previous values kept)"


def _probability(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Floats as probabilities for the store: NaN → null, clipped into [0, 1]."""
    array = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    mask = ~np.isfinite(array)
    return pa.array(np.clip(np.nan_to_num(array), 0.0, 1.0), pa.float64(), mask=mask)


def _money(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Float amounts → ``decimal128(18, 2)`` rounded to cents; non-finite → null."""
    array = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    mask = ~np.isfinite(array)
    rounded = pc.round(pa.array(np.nan_to_num(array), pa.float64()), 2)
    money = rounded.cast(pa.decimal128(18, 2))
    return pc.if_else(pa.array(mask), pa.nulls(len(array), pa.decimal128(18, 2)), money)


def _left_join(base: pa.Table, scores: pa.Table | None, columns: dict[str, str]) -> pa.Table:
    """``base`` with ``columns`` (source → target name) of ``scores`` by customer id; null
    columns when ``scores`` is None."""
    if scores is None:
        for target in columns.values():
            base = base.append_column(target, pa.nulls(base.num_rows, pa.float64()))
        return base
    picked = scores.select(["customer_id", *columns]).rename_columns(
        ["customer_id", *columns.values()]
    )
    return base.join(picked, "customer_id", join_type="left outer")


def _model(
    scores: Scores, what: str, fields: tuple[str, ...], run: Callable[[], pa.Table]
) -> pa.Table | None:
    try:
        return run()
    except ModelFitError as exc:
        scores.problems.append(f"{what}: {exc}")
        scores.stale.update(dict.fromkeys(fields, str(exc)))
        return None


def compute_scores(orders: ibis.Table, *, as_of: date, activity_window_days: int) -> Scores:
    """Scores of every customer with a counted purchase before ``as_of``.

    ``orders`` is a canonical orders table in the engine with local ``ordered_at``
    (:class:`regulars.shop.Shop` holds one).
    """
    labels = customer_table(orders, as_of=as_of, activity_window_days=activity_window_days)
    columns = ("customer_id", "segment", "kind", "stage", "active", *LABEL_EXTRAS)
    labelled = labels.select(*columns).to_pyarrow()
    table = labelled.drop_columns(list(LABEL_EXTRAS))
    result = Scores(table, labels=labelled)
    if table.num_rows == 0:
        result.problems.append(f"no customer has a counted purchase before {as_of}")
        result.stale = dict.fromkeys(SCORE_FIELDS, result.problems[0])
        value = risk = None
    else:
        value = _model(
            result,
            "value model",
            VALUE_FIELDS,
            lambda: score_customers(orders, as_of=as_of, model=DEFAULT_MODEL),
        )
        risk = _model(
            result,
            "churn model",
            ("churn_risk",),
            lambda: churn_risk(orders, as_of=as_of, horizon_days=CHURN_HORIZON_DAYS),
        )
    table = _left_join(table, value, {"p_alive": "p_alive", "clv_12m": "clv_12m"})
    table = _left_join(table, risk, {"churn_probability": "churn_risk"})
    table = table.sort_by("customer_id")
    table = table.set_column(
        table.schema.get_field_index("p_alive"), "p_alive", _probability(table["p_alive"])
    )
    table = table.set_column(
        table.schema.get_field_index("clv_12m"), "clv_12m", _money(table["clv_12m"])
    )
    table = table.set_column(
        table.schema.get_field_index("churn_risk"), "churn_risk", _probability(table["churn_risk"])
    )
    result.table = table.select(["customer_id", *SCORE_FIELDS])
    return result


# -- writing ------------------------------------------------------------------------------


def _upsert(engine: Engine, kept: Collection[str]) -> Any:
    """The batch upsert; the ``kept`` fields of a stored row are not overwritten."""
    statement = dialect_insert(engine, SCORES)
    fields = (*(f for f in SCORE_FIELDS if f not in kept), "computed_at", "stale_reason")
    return statement.on_conflict_do_update(
        index_elements=["customer_id"], set_={name: statement.excluded[name] for name in fields}
    )


def _rows(
    table: pa.Table, batch_size: int, computed_at: datetime, stale_reason: str | None
) -> Iterator[list[dict[str, Any]]]:
    for batch in table.to_batches(max_chunksize=batch_size):
        if batch.num_rows:
            rows = batch.to_pylist()
            for row in rows:
                row["computed_at"] = computed_at
                row["stale_reason"] = stale_reason
            yield rows


def write_scores(
    engine: Engine,
    scores: Scores,
    *,
    computed_at: datetime,
    batch_size: int = WRITE_BATCH,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Upsert ``scores`` into ``customer_scores`` (one transaction per batch), keeping the
    stored values of the fields it could not compute, then delete the rows older than
    ``computed_at`` — unless it scored nobody: then the stored rows stay, marked stale.
    Returns (rows written, rows deleted).

    Re-running with the same scores changes nothing but ``computed_at``.
    """
    step = progress or (lambda _description: None)
    statement = _upsert(engine, scores.stale)
    reason = scores.stale_reason()
    written = 0
    for rows in _rows(scores.table, batch_size, computed_at, reason):
        with engine.begin() as conn:
            conn.execute(statement, rows)
        written += len(rows)
        step(f"scores written {written:,}/{scores.table.num_rows:,}")
    with engine.begin() as conn:
        if scores.table.num_rows == 0:
            conn.execute(update(SCORES).values(stale_reason=reason))
            return written, 0
        removed = conn.execute(delete(SCORES).where(SCORES.c.computed_at < computed_at)).rowcount
    return written, removed


# -- the refresh --------------------------------------------------------------------------


@dataclass
class RefreshResult:
    """What one refresh did; ``problems`` names every model that could not be fitted."""

    as_of: date
    orders: int
    customers: int
    written: int
    removed: int
    problems: list[str]
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out

    def summary(self) -> str:
        total = sum(self.seconds.values())
        text = (
            f"Scores as of {self.as_of}: {self.customers:,} customers from {self.orders:,} "
            f"orders; {self.written:,} written, {self.removed:,} stale removed "
            f"({total:.1f} s)."
        )
        for problem in self.problems:
            text += f"\nNot computed: {problem} (previous values kept, marked stale)."
        return text


def refresh_scores(
    engine: Engine,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
    as_of: date | None = None,
    shop_id: str | None = None,
    progress: Progress | None = None,
) -> RefreshResult:
    """Read the store, compute every customer's scores, write them back (module docstring).

    ``as_of`` defaults to the shop's local day at ``now``: scores then use every order
    placed before today's local midnight.
    """
    # The time zone the owner set in the app decides the local day (shop_settings).
    settings, _name = effective_for(engine, settings or Settings())
    now = now or utcnow()
    as_of = as_of or local_day(now, settings.timezone)
    step = progress or (lambda _description: None)
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    step("reading orders")
    shop = Shop.from_store(engine, settings=settings, shop_id=shop_id)
    try:
        n_orders = int(shop.orders.count().to_pyarrow().as_py())
        seconds["read"] = time.perf_counter() - started

        started = time.perf_counter()
        step("computing scores")
        # The classifier's OpenMP threads spin-wait for each other when the cores are busy
        # (1 M orders on 2 shared cores: 227 s unlimited, 37 s on one thread); a background
        # job should not compete with the API for every core anyway.
        with threadpool_limits(limits=settings.refresh_threads):
            scores = compute_scores(
                shop.orders, as_of=as_of, activity_window_days=settings.activity_window_days
            )
        seconds["compute"] = time.perf_counter() - started

        started = time.perf_counter()
        step("computing the dashboard")
        dashboard = None
        if scores.labels is not None and scores.labels.num_rows:
            with threadpool_limits(limits=settings.refresh_threads):
                dashboard = compute_dashboard(shop, as_of=as_of, labels=scores.labels)
        seconds["dashboard"] = time.perf_counter() - started
    finally:
        shop.con.disconnect()

    started = time.perf_counter()
    computed_at = now.astimezone(UTC)
    written, removed = write_scores(engine, scores, computed_at=computed_at, progress=step)
    if dashboard is not None:
        # Who is at risk is read off the scores just written, once, for every dashboard view.
        with session_scope(engine) as session:
            dashboard["scores"] = risk_summary(session).to_json()
        write_snapshot(engine, dashboard, computed_at=computed_at, as_of=as_of)
    seconds["write"] = time.perf_counter() - started
    return RefreshResult(
        as_of=as_of,
        orders=n_orders,
        customers=scores.table.num_rows,
        written=written,
        removed=removed,
        problems=scores.problems,
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )
