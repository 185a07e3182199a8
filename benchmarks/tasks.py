"""One benchmark task per process, so each gets its own peak RSS.

Usage: python benchmarks/tasks.py TASK ORDERS.parquet AS_OF  → prints one JSON line.
Runs under the project's .venv, except ``lifetimes_summary`` which runs under
benchmarks/.venv-lifetimes (lifetimes 0.11.3 needs pandas < 3 and NumPy < 2).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from datetime import date
from typing import Any

Task = Callable[[str, date], dict[str, Any]]


def duckdb_scan(path: str, as_of: date) -> dict[str, Any]:
    """The floor: DuckDB reading the three columns any summary needs, nothing else."""
    import duckdb

    con = duckdb.connect()
    rows = con.sql(
        "SELECT count(DISTINCT customer_id), max(ordered_at), sum(amount) FROM read_parquet(?)",
        params=[path],
    ).fetchall()
    return {"rows": rows[0][0]}


def regulars_summary(path: str, as_of: date) -> dict[str, Any]:
    """regulars' per-customer frequency/recency/T/monetary summary (Ibis on DuckDB)."""
    import ibis

    from regulars.models.summary import btyd_summary

    con = ibis.duckdb.connect()
    orders = con.read_parquet(path)
    summary = btyd_summary(orders, calibration_end=as_of, unit="day").to_pyarrow()
    return {"customers": summary.num_rows}


def pandas_summary(path: str, as_of: date) -> dict[str, Any]:
    """The same summary hand-written in pandas, as an analyst would."""
    import pandas as pd

    df = pd.read_parquet(
        path, columns=["customer_id", "ordered_at", "amount", "refunded_amount", "status"]
    )
    df = df[(df.status != "cancelled") & (df.amount > 0) & (df.refunded_amount < df.amount)]
    df = df.assign(
        day=df.ordered_at.dt.tz_localize(None).dt.normalize(),
        spend=(df.amount - df.refunded_amount).astype("float64"),
    )
    daily = df.groupby(["customer_id", "day"], as_index=False)["spend"].sum()
    end = pd.Timestamp(as_of)
    first = daily.groupby("customer_id")["day"].transform("min")
    repeat = daily[daily.day > first]
    per = daily.groupby("customer_id").agg(
        first=("day", "min"), last=("day", "max"), days=("day", "size")
    )
    per["frequency"] = per.days - 1
    per["recency"] = (per["last"] - per["first"]).dt.days
    per["T"] = (end - per["first"]).dt.days
    per["monetary_value"] = repeat.groupby("customer_id")["spend"].mean()
    per["monetary_value"] = per["monetary_value"].fillna(0.0)
    return {"customers": len(per)}


def lifetimes_summary(path: str, as_of: date) -> dict[str, Any]:
    """lifetimes.utils.summary_data_from_transaction_data, the tool users reach for."""
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    df = pd.read_parquet(
        path, columns=["customer_id", "ordered_at", "amount", "refunded_amount", "status"]
    )
    df = df[(df.status != "cancelled") & (df.amount > 0) & (df.refunded_amount < df.amount)]
    df = df.assign(
        ordered_at=df.ordered_at.dt.tz_localize(None),
        spend=(df.amount - df.refunded_amount).astype("float64"),
    )
    summary = summary_data_from_transaction_data(
        df,
        "customer_id",
        "ordered_at",
        monetary_value_col="spend",
        observation_period_end=pd.Timestamp(as_of) - pd.Timedelta(days=1),
        freq="D",
    )
    return {"customers": len(summary)}


def regulars_report(path: str, as_of: date) -> dict[str, Any]:
    """`regulars report` end to end (import, analyses, HTML), with per-stage times."""
    import tempfile
    from pathlib import Path

    from regulars.report.build import compute_report
    from regulars.report.render import write_report
    from regulars.shop import Shop

    stages: dict[str, float] = {}
    mark = [time.perf_counter(), "import"]

    def step(name: str) -> None:
        now = time.perf_counter()
        stages[str(mark[1])] = round(now - float(mark[0]), 3)
        mark[:] = [now, name]

    shop = Shop.from_files([path])
    data = compute_report(shop, as_of=as_of, progress=step)
    step("write outputs")
    with tempfile.TemporaryDirectory() as out:
        write_report(data, Path(out), source=shop.import_result, files=[path])
    step("done")
    return {"customers": data.totals.customers, "stages": stages}


TASKS: dict[str, Task] = {
    "duckdb_scan": duckdb_scan,
    "regulars_summary": regulars_summary,
    "pandas_summary": pandas_summary,
    "lifetimes_summary": lifetimes_summary,
    "regulars_report": regulars_report,
}


def main() -> None:
    task, path, as_of = sys.argv[1], sys.argv[2], date.fromisoformat(sys.argv[3])
    started = time.perf_counter()
    result = TASKS[task](path, as_of)
    result["task"] = task
    result["seconds"] = round(time.perf_counter() - started, 3)
    # ru_maxrss is in KiB on Linux.
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
