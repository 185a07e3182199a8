"""Benchmark: loading order exports into the store (``regulars import``) and the tools a
user would otherwise pick, on the same rows.

    PYTHONPATH=src .venv/bin/python benchmarks/import_store.py --sizes 100000,1000000 \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/test [--lines] [--write-docs]

Tools (each run in its own process, so peak RSS is its own, into a fresh PostgreSQL schema
or SQLite file):

* ``regulars`` — ``read_orders`` on the demo's ``orders.parquet`` (plus, with ``--lines``,
  its ``order_lines.parquet``), then ``regulars.store.ingest.ingest`` at the given batch
  size, then the same import again (unchanged: must write nothing).
* ``pandas`` — ``DataFrame.to_sql(method="multi")`` of the customers then the orders,
  with the columns the schema requires filled in (not idempotent: no re-import).
* ``copy`` — the floor: a raw psycopg ``COPY`` of the same rows straight into the tables
  (no checks, no idempotency, no re-import).

Every measurement runs ``--repeat`` times (default 2) and the fastest is kept.
``--write-docs`` replaces the matching section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- import_store:begin -->", "<!-- import_store:end -->"
SEED = 11


def ensure_data(n: int) -> Path:
    """Generate (once) the demo shop with ``n`` orders as Parquet; its folder."""
    from regulars.data.demo import generate_demo

    folder = DATA / f"ingest_{n}"
    if not (folder / "order_lines.parquet").exists():
        generate_demo(folder, n_transactions=n, seed=SEED, fmt="parquet")
    return folder


# -- one task, in its own process ---------------------------------------------------------


@contextmanager
def fresh_database(database: str, postgres_url: str) -> Iterator[Any]:
    """An engine on an empty, migrated database: a new PostgreSQL schema or SQLite file."""
    from scratch import scratch_store

    with scratch_store(None if database == "sqlite" else postgres_url, "bench_import") as engine:
        yield engine


def read_import(folder: Path, lines: bool) -> Any:
    import pyarrow.parquet as pq

    from regulars.data.importers import read_orders

    result = read_orders([folder / "orders.parquet"])
    if lines:  # the demo writes the lines apart; attach them as an importer would
        result.order_lines = pq.read_table(folder / "order_lines.parquet")
    return result


def task_regulars(engine: Any, folder: Path, lines: bool, batch: int) -> dict[str, Any]:
    from regulars.store.ingest import ingest

    started = time.perf_counter()
    result = read_import(folder, lines)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    first = ingest(engine, result, batch_size=batch)
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    again = ingest(engine, result, batch_size=batch)
    reimport_s = time.perf_counter() - started
    assert again.orders_inserted == again.orders_updated == again.lines_inserted == 0, again
    return {
        "read_s": read_s,
        "write_s": write_s,
        "reimport_s": reimport_s,
        "orders": result.orders.num_rows,
        "notes": first.summary(),
    }


def _rows_to_write(folder: Path, lines: bool) -> dict[str, Any]:
    """The customers, orders (and lines) as the tables need them, as Arrow tables."""
    import pyarrow as pa
    import pyarrow.compute as pc

    result = read_import(folder, lines)
    now = datetime.now(UTC)
    orders = result.orders
    n = orders.num_rows
    customer_ids = pc.unique(orders.column("customer_id"))
    customers = pa.table(
        {
            "customer_id": customer_ids,
            "attributes": pa.array(["{}"] * len(customer_ids)),
            "created_at": pa.array([now] * len(customer_ids), pa.timestamp("us", "UTC")),
            "updated_at": pa.array([now] * len(customer_ids), pa.timestamp("us", "UTC")),
        }
    )
    refunded = orders.column("refunded_amount")
    orders = (
        orders.set_column(
            orders.schema.get_field_index("refunded_amount"),
            "refunded_amount",
            pc.fill_null(refunded, pa.scalar(0, refunded.type)),
        )
        .set_column(
            orders.schema.get_field_index("status"),
            "status",
            pc.fill_null(orders.column("status"), "completed"),
        )
        .append_column("shop_id", pa.array(["default"] * n))
        .append_column("created_at", pa.array([now] * n, pa.timestamp("us", "UTC")))
        .append_column("updated_at", pa.array([now] * n, pa.timestamp("us", "UTC")))
    )
    tables = {"customers": customers, "orders": orders}
    if result.order_lines is not None:
        order_lines = result.order_lines
        tables["order_lines"] = order_lines.append_column(
            "shop_id", pa.array(["default"] * order_lines.num_rows)
        )
    return tables


def task_copy(engine: Any, folder: Path, lines: bool, _batch: int) -> dict[str, Any]:
    import pyarrow.csv as pacsv
    from psycopg import sql

    tables = _rows_to_write(folder, lines)
    started = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for name, table in tables.items():
            buffer = io.BytesIO()
            pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
            statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, table.column_names))
            )
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(buffer.getbuffer())
    write_s = time.perf_counter() - started
    return {"write_s": write_s, "orders": tables["orders"].num_rows, "notes": "one transaction"}


def task_pandas(engine: Any, folder: Path, lines: bool, batch: int) -> dict[str, Any]:
    from regulars.store.tables import Base

    tables = _rows_to_write(folder, lines)
    started = time.perf_counter()
    for name, table in tables.items():
        frame = table.to_pandas()
        if "attributes" in frame.columns:
            frame["attributes"] = [{} for _ in range(len(frame))]
        # The column types of the schema: pandas would send Decimals and JSON as text.
        columns = Base.metadata.tables[name].columns
        types = {c.name: c.type for c in columns if c.name in frame.columns}
        # One INSERT … VALUES per chunk; PostgreSQL takes at most 65,535 parameters.
        chunk = min(batch, 65_000 // len(frame.columns))
        frame.to_sql(
            name,
            engine,
            if_exists="append",
            index=False,
            method="multi",
            chunksize=chunk,
            dtype=types,
        )
    write_s = time.perf_counter() - started
    return {
        "write_s": write_s,
        "orders": tables["orders"].num_rows,
        "notes": f"chunks of {chunk:,} rows",
    }


TASKS = {"regulars": task_regulars, "pandas": task_pandas, "copy": task_copy}


def run_task_here(args: argparse.Namespace) -> None:
    folder = ensure_data(args.size)
    with fresh_database(args.database, args.postgres_url) as engine:
        outcome = TASKS[args.task](engine, folder, args.lines, args.batch)
    outcome["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(outcome))


# -- the driver ---------------------------------------------------------------------------


def run_task(
    task: str, size: int, database: str, lines: bool, batch: int, url: str
) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--task",
        task,
        "--sizes",
        str(size),
        "--databases",
        database,
        "--batch",
        str(batch),
        "--postgres-url",
        url,
    ]
    if lines:
        command.append("--lines")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    outcome: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return outcome


def best_of(repeat: int, *args: Any) -> dict[str, Any]:
    runs = [run_task(*args) for _ in range(repeat)]
    good = [r for r in runs if "error" not in r]
    return min(good, key=lambda r: r["write_s"]) if good else runs[0]


def plan(args: argparse.Namespace, size: int) -> list[tuple[str, str, int]]:
    """(task, database, batch) to run for ``size`` orders."""
    rows = []
    for database in args.databases.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            rows.append(("regulars", database, batch))
        if database == "postgresql":
            rows.append(("copy", database, 0))
            if size <= args.pandas_max:
                rows.append(("pandas", database, 10_000))
    return [r for r in rows if r[0] in args.tools.split(",")]


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| orders | lines | database | tool | batch | write s | orders/s | re-import s "
        "| read s | peak RSS MB |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(
                f"| {r['size']:,} | {r['lines']} | {r['database']} | {r['task']} | "
                f"{_batch(r['batch'])} | error: {r['error']} | | | | |"
            )
            continue
        reimport = f"{r['reimport_s']:.2f}" if "reimport_s" in r else "—"
        read = f"{r['read_s']:.2f}" if "read_s" in r else "—"
        lines.append(
            f"| {r['size']:,} | {r['lines']} | {r['database']} | {r['task']} | "
            f"{_batch(r['batch'])} | {r['write_s']:.2f} | {r['orders'] / r['write_s']:,.0f} "
            f"| {reimport} | {read} | {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def _batch(size: int) -> str:
    return f"{size:,}" if size else "—"


def write_docs(table: str) -> None:
    text = DOCS.read_text()
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOCS.write_text(text[:start] + "\n" + table + "\n" + text[stop:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--tools", default="regulars,pandas,copy")
    parser.add_argument("--batches", default="10000,100000", help="regulars batch sizes")
    parser.add_argument("--lines", action="store_true", help="import the order lines too")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--pandas-max",
        type=int,
        default=100_000,
        help="largest size to run pandas on (about 1,000 orders/s: 1 M takes ~20 min)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "REGULARS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test"
        ),
    )
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--task", choices=sorted(TASKS), help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        args.size, args.database = int(args.sizes), args.databases
        run_task_here(args)
        return
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        ensure_data(size)
        for task, database, batch in plan(args, size):
            outcome = best_of(
                args.repeat, task, size, database, args.lines, batch, args.postgres_url
            )
            outcome.update(task=task, size=size, database=database, lines=args.lines, batch=batch)
            results.append(outcome)
            print(json.dumps(outcome), flush=True)
    table = markdown(results)
    print(table)
    if args.write_docs:
        write_docs(table)


if __name__ == "__main__":
    main()
