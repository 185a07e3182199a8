"""Orchestration: simulate the shop, then stream its tables to files in chunks.

Two phases keep memory bounded. First a compact *timeline* is simulated: for every order
only (customer, second, kind, channel), 10 bytes an order. Then the timeline is filled
and written in chunks of ``CHUNK_ROWS`` orders (lines, amounts, text columns), and the
customers table in chunks of as many customers. Writers buffer chunks into Parquet row
groups of exactly ``ROW_GROUP_ROWS`` rows, and a worker thread writes chunk k while
chunk k+1 is simulated. Every random draw comes from a stream keyed by
(seed, stage, batch), so the same arguments give byte-identical files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from numpy.typing import NDArray

from regulars.data.demo import defects
from regulars.data.demo.baskets import STATUSES, Baskets, OrderBatch, fill_orders
from regulars.data.demo.catalog import Catalog, build_catalog
from regulars.data.demo.clock import ShopClock, build_clock
from regulars.data.demo.money import (
    iso_local_timestamps,
    money_array,
    money_text,
    padded_ids,
    prefixed_ids,
)
from regulars.data.demo.params import DEFAULT_PARAMS, POS, DemoParams
from regulars.data.demo.people import draw_identities
from regulars.data.demo.timeline import (
    Population,
    Stage,
    Timeline,
    build_population,
    build_timeline,
    return_documents,
    simulate_buyers,
    stream,
)
from regulars.data.schema import UTC_TIMESTAMP, arrow_schema
from regulars.errors import RegularsError

Progress = Callable[[int, int], None]

ROW_GROUP_ROWS = 1_000_000  # every Parquet row group but the last of a file
CHUNK_ROWS = 250_000  # orders (≈ a million lines) or customers simulated at a time
_ORDER_ID_DIGITS = 8
_MIN_TRANSACTIONS = 10
_MAX_YEARS = 60  # times are held as int32 seconds since start
# zstd: files about a third smaller than snappy at the same speed here.
_PARQUET: dict[str, Any] = {"compression": "zstd"}
# Dictionary-encode only columns with few distinct values: trying it on unique ids costs
# time and then falls back to plain encoding anyway.
_DICTIONARY_COLUMNS: dict[str, list[str]] = {
    "orders": ["status", "currency", "channel"],
    "order_lines": ["sku", "product_name", "category"],
    "customers": ["name", "acquisition_channel"],
}


@dataclass(frozen=True)
class DemoShop:
    """Where the demo shop was written and what it holds.

    ``n_orders`` counts genuine orders (purchases and return documents); the CSV orders
    file holds ``n_orders + n_defects`` data rows. ``n_customers`` counts every customer
    record, including registered customers who never ordered. ``truth`` is the latent
    state the analyses estimate (:func:`write_truth`); ``n_alive`` counts the buyers
    still alive at ``end``.
    """

    orders: Path
    order_lines: Path
    customers: Path
    products: Path
    truth: Path
    n_customers: int
    n_orders: int
    n_defects: int
    n_alive: int
    start: date
    end: date


# --- phase 2: the files ----------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What every chunk writer needs."""

    clock: ShopClock
    catalog: Catalog
    population: Population
    params: DemoParams
    seed: int
    customer_digits: int


def _order_ids(
    is_return: NDArray[np.bool_], purchases_before: int, returns_before: int
) -> pa.Array:
    """'SO-…' for purchases and 'RT-…' for return documents, each numbered in time order."""
    number = np.where(
        is_return, returns_before + np.cumsum(is_return), purchases_before + np.cumsum(~is_return)
    )
    return prefixed_ids(("SO-", "RT-"), is_return.astype(np.intp), number, _ORDER_ID_DIGITS)


def _lines_table(order_ids: pa.Array, baskets: Baskets, catalog: Catalog) -> pa.Table:
    product = pa.array(baskets.product)
    return pa.Table.from_arrays(
        [
            order_ids.take(pa.array(baskets.line_order)),
            catalog.sku.take(product),
            catalog.name.take(product),
            catalog.category_name.take(product),
            pa.array(baskets.quantity, pa.int64()),
            money_array(baskets.unit_cents),
            money_array(baskets.line_cents),
        ],
        schema=arrow_schema("order_lines"),
    )


def _order_text_columns(
    ctx: _Context, baskets: Baskets, till: NDArray[np.bool_]
) -> tuple[pa.Array, pa.Array, pa.Array]:
    status = pa.array(STATUSES, pa.string()).take(pa.array(baskets.status))
    currency = pa.repeat(pa.scalar(ctx.params.currency, pa.string()), len(till))
    channel = pa.array(["web", POS], pa.string()).take(pa.array(till.astype(np.int8)))
    return status, currency, channel


def _orders_table(
    ctx: _Context,
    order_ids: pa.Array,
    batch: OrderBatch,
    baskets: Baskets,
    as_text: bool,
) -> pa.Table:
    """The canonical orders table of a chunk, typed (Parquet) or as text (CSV)."""
    customer_ids = padded_ids("C", batch.owner + 1, ctx.customer_digits)
    status, currency, channel = _order_text_columns(ctx, baskets, batch.at_till)
    rel_s = ctx.clock.span_s - batch.seconds_to_end
    utc_s = ctx.clock.start_s + rel_s
    if as_text:
        ordered_at = iso_local_timestamps(utc_s, ctx.clock.utc_offset_s(rel_s))
        amount, refunded = money_text(baskets.amount_cents), money_text(baskets.refunded_cents)
        schema = _text_schema()
    else:
        ordered_at = pa.array(utc_s * 1_000_000, UTC_TIMESTAMP)
        amount, refunded = money_array(baskets.amount_cents), money_array(baskets.refunded_cents)
        schema = arrow_schema("orders")
    columns = [order_ids, customer_ids, ordered_at, amount, refunded, status, currency, channel]
    return pa.Table.from_arrays(columns, schema=schema)


def _text_schema() -> pa.Schema:
    """The orders columns, all as text (the CSV export)."""
    return pa.schema([pa.field(f.name, pa.string()) for f in arrow_schema("orders")])


class _WriteBehind:
    """Runs write jobs on one worker thread, in order, at most one job in flight.

    Parquet encoding and numpy's random generators release the GIL, so on two cores
    chunk k is written while chunk k+1 is simulated; waiting before each submit keeps
    at most two chunks in memory.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-writer")
        self._pending: Future[None] | None = None

    def submit(self, job: Callable[[], None]) -> None:
        self.wait()
        self._pending = self._pool.submit(job)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __enter__(self) -> _WriteBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


def _fresh_ids(first_number: int, count: int) -> list[str]:
    """Order ids for defect rows, numbered after every genuine purchase."""
    numbers = np.arange(first_number, first_number + count, dtype=np.int64)
    return [str(i) for i in padded_ids("SO-", numbers, _ORDER_ID_DIGITS).to_pylist()]


def write_orders(
    ctx: _Context,
    timeline: Timeline,
    orders_path: Path,
    lines_path: Path,
    fmt: Literal["csv", "parquet"],
    report: Callable[[int], None],
) -> int:
    """Fill and write orders and order lines chunk by chunk; returns the defect rows added."""
    as_text = fmt == "csv"
    plan = defects.plan_defects(stream(ctx.seed, Stage.DEFECTS), len(timeline))
    if not as_text:
        plan = plan.within(0, 0)
    next_fresh = int(np.count_nonzero(~timeline.is_return)) + 1
    purchases_before = returns_before = 0
    with (
        _parquet_sink(lines_path, "order_lines") as lines_writer,
        _orders_writer(orders_path, as_text) as orders_writer,
        _WriteBehind() as writer,
    ):
        for index, lo in enumerate(range(0, len(timeline), CHUNK_ROWS)):
            hi = min(lo + CHUNK_ROWS, len(timeline))
            chunk = timeline.slice(lo, hi)
            batch = OrderBatch(
                owner=chunk.owner.astype(np.int64),
                seconds_to_end=ctx.clock.span_s - chunk.rel_s.astype(np.int64),
                is_return=chunk.is_return,
                at_till=chunk.at_till,
            )
            rng = stream(ctx.seed, Stage.BASKETS, index)
            baskets = fill_orders(rng, batch, ctx.population.tastes, ctx.catalog, ctx.params)
            order_ids = _order_ids(chunk.is_return, purchases_before, returns_before)
            lines = _lines_table(order_ids, baskets, ctx.catalog)
            local_plan = plan.within(lo, hi)
            fresh = _fresh_ids(next_fresh, len(local_plan))
            orders = defects.interleave(
                _orders_table(ctx, order_ids, batch, baskets, as_text), local_plan, lo, fresh
            )

            def job(lines: pa.Table = lines, orders: list[pa.Table] = orders) -> None:
                lines_writer.write_table(lines)
                for piece in orders:
                    orders_writer.write_table(piece)

            writer.submit(job)
            next_fresh += sum(defects.needs_fresh_id(int(k)) for k in local_plan.kind)
            purchases_before += int(np.count_nonzero(~chunk.is_return))
            returns_before += int(np.count_nonzero(chunk.is_return))
            report(hi)
    return len(plan)


class _TableWriter(Protocol):
    def write_table(self, table: pa.Table) -> None: ...


class _RowGroupSink:
    """Buffers tables and writes them to Parquet in row groups of exactly
    ``ROW_GROUP_ROWS`` rows (the last one of the file may be shorter)."""

    def __init__(self, writer: pq.ParquetWriter) -> None:
        self._writer = writer
        self._parts: list[pa.Table] = []
        self._rows = 0

    def write_table(self, table: pa.Table) -> None:
        self._parts.append(table)
        self._rows += table.num_rows
        if self._rows >= ROW_GROUP_ROWS:
            self._write(full_groups_only=True)

    def flush(self) -> None:
        if self._rows:
            self._write(full_groups_only=False)

    def _write(self, *, full_groups_only: bool) -> None:
        buffered = pa.concat_tables(self._parts)
        size = (self._rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS if full_groups_only else self._rows
        self._writer.write_table(buffered.slice(0, size), row_group_size=ROW_GROUP_ROWS)
        rest = buffered.slice(size)
        self._parts, self._rows = ([rest] if rest.num_rows else []), rest.num_rows


@contextmanager
def _parquet_sink(path: Path, table: str) -> Iterator[_RowGroupSink]:
    """A row-group-buffered Parquet writer for a canonical table."""
    with pq.ParquetWriter(
        path, arrow_schema(table), use_dictionary=_DICTIONARY_COLUMNS[table], **_PARQUET
    ) as writer:
        sink = _RowGroupSink(writer)
        yield sink
        sink.flush()


@contextmanager
def _orders_writer(path: Path, as_text: bool) -> Iterator[_TableWriter]:
    """Parquet, typed canonically, or a plain CSV export: the canonical header and no
    quotes (no value holds a comma, quote or line break)."""
    if as_text:
        options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
        with path.open("wb") as file:
            file.write((",".join(_text_schema().names) + "\n").encode("ascii"))
            with pa_csv.CSVWriter(file, _text_schema(), write_options=options) as writer:
                yield writer
    else:
        with _parquet_sink(path, "orders") as sink:
            yield sink


def write_truth(ctx: _Context, buyer_index: NDArray[np.int64], path: Path) -> int:
    """The latent state of every buyer, which no export holds: ``customer_id``,
    ``regular`` (a near-periodic regular rather than an occasional buyer) and ``alive``
    (has not dropped out by the end of the window). It is what P(alive) estimates, so
    models can be checked against the truth. Returns the number of buyers alive."""
    index = np.sort(buyer_index)
    table = pa.table(
        {
            "customer_id": padded_ids("C", index + 1, ctx.customer_digits),
            "regular": pa.array(ctx.population.tastes.regular[index], pa.bool_()),
            "alive": pa.array(ctx.population.alive[index], pa.bool_()),
        }
    )
    pq.write_table(table, path, **_PARQUET)
    return int(np.count_nonzero(ctx.population.alive))


def write_customers(ctx: _Context, path: Path) -> None:
    """The customers table, ``CHUNK_ROWS`` customers at a time."""
    population, clock, params = ctx.population, ctx.clock, ctx.params
    channel_names = pa.array([c.name for c in params.channels], pa.string())
    pos_index = [i for i, c in enumerate(params.channels) if c.name == POS]
    with (
        _parquet_sink(path, "customers") as parquet,
        _WriteBehind() as writer,
    ):
        for index, lo in enumerate(range(0, len(population), CHUNK_ROWS)):
            hi = min(lo + CHUNK_ROWS, len(population))
            number = np.arange(lo + 1, hi + 1, dtype=np.int64)
            channel = population.channel[lo:hi]
            created_s = clock.start_s + population.created_s[lo:hi]
            who = draw_identities(
                stream(ctx.seed, Stage.IDENTITIES, index),
                number,
                np.isin(channel, pos_index),
                created_s,
                params,
            )
            columns = [
                padded_ids("C", number, ctx.customer_digits),
                who.email,
                who.phone,
                who.name,
                who.birthday,
                channel_names.take(pa.array(channel)),
                pa.array(created_s * 1_000_000, UTC_TIMESTAMP),
            ]
            table = pa.Table.from_arrays(columns, schema=arrow_schema("customers"))
            writer.submit(partial(parquet.write_table, table))


# --- the public entry point ------------------------------------------------------------


class DemoParameterError(RegularsError, ValueError):
    """An argument of :func:`generate_demo` is out of range."""


def _validate(n_transactions: int, seed: int, years: float, fmt: str) -> None:
    if n_transactions < _MIN_TRANSACTIONS:
        raise DemoParameterError(f"n_transactions must be at least {_MIN_TRANSACTIONS}")
    if seed < 0:
        raise DemoParameterError("seed must be a non-negative integer")
    if not math.isfinite(years) or round(years * 365.25) < 1 or years > _MAX_YEARS:
        raise DemoParameterError(f"years must cover at least one day and at most {_MAX_YEARS}")
    if fmt not in ("csv", "parquet"):
        raise DemoParameterError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")


def generate_demo(
    out_dir: Path,
    *,
    n_transactions: int = 30_000,
    seed: int = 7,
    end: date = date(2026, 11, 1),
    years: float = 3.0,
    fmt: Literal["csv", "parquet"] = "csv",
    progress: Progress | None = None,
    params: DemoParams | None = None,
) -> DemoShop:
    """Simulate a shop and write its canonical tables to ``out_dir``.

    The shop opens at ``start = end − round(years·365.25)`` days (00:00 UTC) and is
    observed until ``end`` (exclusive). ``n_transactions`` orders are generated (purchases
    and standalone return documents; exact unless the store sees too few till sales to
    draw the returns from). ``fmt='csv'`` writes ``orders.csv`` with a handful of
    deliberate defect rows (see :mod:`regulars.data.demo.defects`); ``fmt='parquet'``
    writes a clean ``orders.parquet``. Lines, customers, products and the truth are always Parquet.
    ``progress(done, total)`` is called as work advances; ``done`` reaches ``total``.
    The same arguments always produce byte-identical files.
    """
    _validate(n_transactions, seed, years, fmt)
    out_dir = Path(out_dir)  # tolerate a str from notebooks
    params = params or DEFAULT_PARAMS
    start = end - timedelta(days=round(years * 365.25))
    total = 2 * n_transactions

    def report(done: int) -> None:
        if progress is not None:
            progress(min(done, total), total)

    clock = build_clock(start, end, params)
    catalog = build_catalog(stream(seed, Stage.CATALOG))
    n_returns = round(params.return_document_share * n_transactions)
    customers, log = simulate_buyers(
        n_transactions - n_returns, clock, params, catalog, seed, report
    )
    returns = return_documents(stream(seed, Stage.RETURNS), log, clock, n_returns)
    population, buyer_index = build_population(customers, clock, catalog, params, seed)
    timeline = build_timeline(log, returns, buyer_index)
    del customers, log, returns  # the timeline (and who bought, for the truth) from here on

    out_dir.mkdir(parents=True, exist_ok=True)
    shop = DemoShop(
        orders=out_dir / f"orders.{fmt}",
        order_lines=out_dir / "order_lines.parquet",
        customers=out_dir / "customers.parquet",
        products=out_dir / "products.parquet",
        truth=out_dir / "truth.parquet",
        n_customers=len(population),
        n_orders=len(timeline),
        n_defects=0,
        n_alive=0,
        start=start,
        end=end,
    )
    ctx = _Context(clock, catalog, population, params, seed, max(6, len(str(len(population)))))
    pq.write_table(catalog.to_arrow().cast(arrow_schema("products")), shop.products, **_PARQUET)
    n_defects = write_orders(
        ctx,
        timeline,
        shop.orders,
        shop.order_lines,
        fmt,
        lambda done: report(n_transactions + done),
    )
    write_customers(ctx, shop.customers)
    n_alive = write_truth(ctx, buyer_index, shop.truth)
    report(total)
    return replace(shop, n_defects=n_defects, n_alive=n_alive)
