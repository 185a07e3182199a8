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
from enum import IntEnum
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from numpy.typing import NDArray

from regulars.data.demo import defects
from regulars.data.demo.baskets import STATUSES, Baskets, OrderBatch, Tastes, fill_orders
from regulars.data.demo.behaviour import (
    Customers,
    Purchases,
    at_the_till,
    registration_times,
    signup_channels,
    simulate_customers,
)
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
from regulars.data.schema import UTC_TIMESTAMP, arrow_schema
from regulars.errors import RegularsError

Progress = Callable[[int, int], None]

ROW_GROUP_ROWS = 1_000_000  # every Parquet row group but the last of a file
CHUNK_ROWS = 250_000  # orders (≈ a million lines) or customers simulated at a time
_CUSTOMER_BATCH = 200_000
_ORDERS_PER_CUSTOMER_GUESS = 3.0
_RETURN_WINDOW_DAYS = 28
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


class Stage(IntEnum):
    """Independent random streams, one per stage of the simulation."""

    CATALOG = 1
    CUSTOMERS = 2
    TILL = 3
    RETURNS = 4
    SIGNUPS = 5
    REGISTRATION = 6
    BASKETS = 7
    IDENTITIES = 8
    DEFECTS = 9


def _stream(seed: int, stage: Stage, index: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, int(stage), index]))


@dataclass(frozen=True)
class DemoShop:
    """Where the demo shop was written and what it holds.

    ``n_orders`` counts genuine orders (purchases and return documents); the CSV orders
    file holds ``n_orders + n_defects`` data rows. ``n_customers`` counts every customer
    record, including registered customers who never ordered.
    """

    orders: Path
    order_lines: Path
    customers: Path
    products: Path
    n_customers: int
    n_orders: int
    n_defects: int
    start: date
    end: date


@dataclass(frozen=True)
class Population:
    """Every customer record, sorted by creation time (customer number = index + 1)."""

    created_s: NDArray[np.int64]  # seconds since start
    channel: NDArray[np.int8]
    tastes: Tastes

    def __len__(self) -> int:
        return len(self.created_s)


@dataclass(frozen=True)
class Timeline:
    """Every order, sorted by time; ``owner`` is the customer index in the population.

    Compact on purpose (10 bytes an order): it is the only per-order state held in full.
    """

    owner: NDArray[np.int32]
    rel_s: NDArray[np.int32]  # seconds since start (int32 spans 68 years)
    is_return: NDArray[np.bool_]
    at_till: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.owner)

    def slice(self, lo: int, hi: int) -> Timeline:
        return Timeline(
            self.owner[lo:hi], self.rel_s[lo:hi], self.is_return[lo:hi], self.at_till[lo:hi]
        )


@dataclass(frozen=True)
class PurchaseLog:
    """All purchases in simulation order; ``owner`` indexes the buyers."""

    owner: NDArray[np.int32]
    rel_s: NDArray[np.int32]
    at_till: NDArray[np.bool_]

    @classmethod
    def empty(cls, n: int) -> PurchaseLog:
        return cls(np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.bool_))

    def __len__(self) -> int:
        return len(self.owner)


# --- phase 1: the timeline -------------------------------------------------------------


def _trim_to_target(
    customers: Customers, purchases: Purchases, needed: int
) -> tuple[Customers, Purchases]:
    """Keep the first customers until their purchases reach ``needed`` exactly; the last
    kept customer loses purchases beyond the target (they simply stop buying earlier)."""
    counts = np.bincount(purchases.owner, minlength=len(customers))
    cumulative = np.cumsum(counts)
    if cumulative[-1] < needed:
        return customers, purchases
    last = int(np.searchsorted(cumulative, needed))
    allowed = needed - (int(cumulative[last - 1]) if last > 0 else 0)
    keep = (purchases.owner < last) | ((purchases.owner == last) & (purchases.rank < allowed))
    return customers.take(np.arange(last + 1)), purchases.filter(keep)


def _concat_customers(parts: list[Customers]) -> Customers:
    return Customers(
        arrival_s=np.concatenate([p.arrival_s for p in parts]),
        channel=np.concatenate([p.channel for p in parts]),
        regular=np.concatenate([p.regular for p in parts]),
        mean_spend=np.concatenate([p.mean_spend for p in parts]),
        favourite=np.concatenate([p.favourite for p in parts]),
        staple_u=np.concatenate([p.staple_u for p in parts]),
    )


def simulate_buyers(
    n_purchases: int,
    clock: ShopClock,
    params: DemoParams,
    catalog: Catalog,
    seed: int,
    report: Callable[[int], None],
) -> tuple[Customers, PurchaseLog]:
    """Draw i.i.d. buyers in batches until their purchases add up to ``n_purchases``.

    Stopping on the purchase count (rather than fixing the number of customers) hits the
    requested size exactly at every scale; customers stay i.i.d., so the model holds.
    """
    batch = int(min(max(n_purchases / _ORDERS_PER_CUSTOMER_GUESS * 1.1, 64), _CUSTOMER_BATCH))
    customer_parts: list[Customers] = []
    log = PurchaseLog.empty(n_purchases)
    done, n_customers, index = 0, 0, 0
    while done < n_purchases:
        rng = _stream(seed, Stage.CUSTOMERS, index)
        customers, purchases = simulate_customers(
            rng, batch, clock, params, catalog.category_weights
        )
        customers, purchases = _trim_to_target(customers, purchases, n_purchases - done)
        till = at_the_till(_stream(seed, Stage.TILL, index), customers, purchases, clock, params)
        rows = slice(done, done + len(purchases))
        log.owner[rows] = purchases.owner + n_customers
        log.rel_s[rows] = purchases.rel_s
        log.at_till[rows] = till
        customer_parts.append(customers)
        done += len(purchases)
        n_customers += len(customers)
        index += 1
        report(done)
    return _concat_customers(customer_parts), log


def _return_documents(
    rng: np.random.Generator, log: PurchaseLog, clock: ShopClock, n_wanted: int
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """(owner, time) of till returns: a store purchase brought back 1–28 days later, at
    the same time of day, on a day the store is open and inside the window."""
    candidates = np.flatnonzero(log.at_till)
    if n_wanted <= 0 or len(candidates) == 0:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    parents = rng.choice(candidates, size=min(len(candidates), 3 * n_wanted), replace=False)
    days = rng.integers(1, _RETURN_WINDOW_DAYS + 1, len(parents))
    rel_s = log.rel_s[parents].astype(np.int64) + days * 86_400
    inside = rel_s < clock.span_s
    usable = inside & clock.is_store_open(np.where(inside, rel_s, 0))
    chosen = np.flatnonzero(usable)[:n_wanted]
    return log.owner[parents[chosen]], rel_s[chosen].astype(np.int32)


def _staples(catalog: Catalog, customers: Customers) -> NDArray[np.int16]:
    favourite = customers.favourite.astype(np.int64)
    staple = catalog.by_popularity(favourite, customers.staple_u.astype(np.float64))
    return staple.astype(np.int16)  # 200 products


def _scatter(values: NDArray[np.generic], index: NDArray[np.int64], size: int) -> NDArray[Any]:
    """An array of ``size`` zeros with ``values`` placed at ``index``."""
    out = np.zeros(size, dtype=values.dtype)
    out[index] = values
    return out


def build_population(
    customers: Customers, clock: ShopClock, catalog: Catalog, params: DemoParams, seed: int
) -> tuple[Population, NDArray[np.int64]]:
    """Buyers plus registered customers who never order, numbered by creation time.

    Returns the population and each buyer's index in it.
    """
    n_buyers = len(customers)
    n_signups = round(params.signup_share * n_buyers)
    rng = _stream(seed, Stage.SIGNUPS)
    signup_created = clock.draw_arrivals(rng, n_signups).astype(np.int64)
    signup_channel = signup_channels(rng, n_signups, params)
    buyer_created = registration_times(_stream(seed, Stage.REGISTRATION), customers, params)
    created = np.concatenate((buyer_created, signup_created))
    by_creation = np.argsort(created, kind="stable")
    index_of = np.empty_like(by_creation)
    index_of[by_creation] = np.arange(len(by_creation))
    buyer_index = index_of[:n_buyers]
    size = len(created)
    tastes = Tastes(
        mean_spend=_scatter(customers.mean_spend, buyer_index, size),
        favourite=_scatter(customers.favourite, buyer_index, size),
        staple=_scatter(_staples(catalog, customers), buyer_index, size),
        regular=_scatter(customers.regular, buyer_index, size),
    )
    channel = np.concatenate((customers.channel, signup_channel))[by_creation]
    return Population(created[by_creation], channel, tastes), buyer_index


def stable_argsort_nonnegative(keys: NDArray[np.int32]) -> NDArray[np.int64]:
    """Stable argsort of non-negative 32-bit keys: two stable passes on 16-bit halves,
    low half first (LSD radix sort; numpy radix-sorts 16-bit keys, twice as fast here)."""
    by_low = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    high = (keys[by_low] >> 16).astype(np.uint16)
    return by_low[np.argsort(high, kind="stable")]


def build_timeline(
    log: PurchaseLog,
    returns: tuple[NDArray[np.int32], NDArray[np.int32]],
    buyer_index: NDArray[np.int64],
) -> Timeline:
    """Purchases and return documents merged and sorted by time (ties keep their order)."""
    return_owner, return_s = returns
    rel_s = np.concatenate((log.rel_s, return_s))
    by_time = stable_argsort_nonnegative(rel_s)
    owner = buyer_index[np.concatenate((log.owner, return_owner))[by_time]].astype(np.int32)
    is_return = np.concatenate((np.zeros(len(log), bool), np.ones(len(return_s), bool)))
    till = np.concatenate((log.at_till, np.ones(len(return_s), bool)))
    return Timeline(owner, rel_s[by_time], is_return[by_time], till[by_time])


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
    plan = defects.plan_defects(_stream(ctx.seed, Stage.DEFECTS), len(timeline))
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
            rng = _stream(ctx.seed, Stage.BASKETS, index)
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
                _stream(ctx.seed, Stage.IDENTITIES, index),
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
    writes a clean ``orders.parquet``. Lines, customers and products are always Parquet.
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
    catalog = build_catalog(_stream(seed, Stage.CATALOG))
    n_returns = round(params.return_document_share * n_transactions)
    customers, log = simulate_buyers(
        n_transactions - n_returns, clock, params, catalog, seed, report
    )
    returns = _return_documents(_stream(seed, Stage.RETURNS), log, clock, n_returns)
    population, buyer_index = build_population(customers, clock, catalog, params, seed)
    timeline = build_timeline(log, returns, buyer_index)
    del customers, log, returns, buyer_index  # only the timeline is needed from here on

    out_dir.mkdir(parents=True, exist_ok=True)
    shop = DemoShop(
        orders=out_dir / f"orders.{fmt}",
        order_lines=out_dir / "order_lines.parquet",
        customers=out_dir / "customers.parquet",
        products=out_dir / "products.parquet",
        n_customers=len(population),
        n_orders=len(timeline),
        n_defects=0,
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
    report(total)
    return replace(shop, n_defects=n_defects)
