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
    # DuckDB 2.0 relations have no fetchone(); Arrow avoids needing pytz for timestamptz.
    row = con.sql(
        "SELECT count(DISTINCT customer_id) AS customers, max(ordered_at), sum(amount) "
        "FROM read_parquet(?)",
        params=[path],
    ).to_arrow_table()
    return {"customers": row.column("customers")[0].as_py()}


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

    df = _purchases_frame(path)
    df = df.assign(day=df.ordered_at.dt.normalize())
    daily = df.groupby(["customer_id", "day"], as_index=False)["spend"].sum()
    last_day = pd.Timestamp(as_of) - pd.Timedelta(days=1)
    first = daily.groupby("customer_id")["day"].transform("min")
    repeat = daily[daily.day > first]
    per = daily.groupby("customer_id").agg(
        first=("day", "min"), last=("day", "max"), days=("day", "size")
    )
    per["frequency"] = per.days - 1
    per["recency"] = (per["last"] - per["first"]).dt.days
    per["T"] = (last_day - per["first"]).dt.days
    per["monetary_value"] = repeat.groupby("customer_id")["spend"].mean()
    per["monetary_value"] = per["monetary_value"].fillna(0.0)
    return {"customers": len(per)}


def lifetimes_summary(path: str, as_of: date) -> dict[str, Any]:
    """lifetimes.utils.summary_data_from_transaction_data, the tool users reach for."""
    summary = _lifetimes_summary(path, as_of)
    return {"customers": len(summary)}


def _lifetimes_summary(path: str, as_of: date) -> Any:
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    return summary_data_from_transaction_data(
        _purchases_frame(path),
        "customer_id",
        "ordered_at",
        monetary_value_col="spend",
        observation_period_end=pd.Timestamp(as_of) - pd.Timedelta(days=1),
        freq="D",
    )


def _purchases_frame(path: str) -> Any:
    """Counted purchases (regulars' rule, docs/metrics.md) as pandas users hold them:
    naive timestamps, float spend."""
    import pandas as pd

    df = pd.read_parquet(
        path, columns=["customer_id", "ordered_at", "amount", "refunded_amount", "status"]
    )
    gross = df.amount.astype("float64")
    net = gross - df.refunded_amount.astype("float64")
    zero_value = (gross == 0) & (net == 0)
    counted = ~df.status.isin(["cancelled", "refunded"]) & ((net > 0) | zero_value)
    return pd.DataFrame(
        {
            "customer_id": df.customer_id[counted],
            # lifetimes works in whole days with freq="D": give it dates, as its docs do
            "ordered_at": df.ordered_at[counted]
            .dt.tz_localize(None)
            .dt.normalize()
            .astype("datetime64[ns]"),  # lifetimes 0.11 predates non-ns resolutions
            "spend": net[counted],
        }
    )


def regulars_report(path: str, as_of: date) -> dict[str, Any]:
    """`regulars report --no-models` end to end (import, analyses, HTML), per stage."""
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
    # The target is the descriptive report; the models are timed by regulars_btyd.
    data = compute_report(shop, as_of=as_of, models=False, progress=step)
    step("write outputs")
    with tempfile.TemporaryDirectory() as out:
        write_report(data, Path(out), source=shop.import_result, files=[path])
    step("done")
    return {"customers": data.totals.customers, "stages": stages}


def regulars_btyd(path: str, as_of: date) -> dict[str, Any]:
    """Summary in the engine, BG/NBD + Gamma-Gamma fits, P(alive), expected purchases and
    12-month CLV for every customer — in days, like lifetimes' freq="D"."""
    import ibis

    from regulars.models.bgnbd import BetaGeoModel
    from regulars.models.clv import customer_lifetime_value
    from regulars.models.gamma_gamma import GammaGammaModel
    from regulars.models.summary import btyd_summary

    con = ibis.duckdb.connect()
    summary = btyd_summary(con.read_parquet(path), calibration_end=as_of, unit="day")
    table = summary.to_pyarrow()
    x, t_x, age, spend = (
        table.column(c).to_numpy() for c in ("frequency", "recency", "T", "monetary_value")
    )
    bgf = BetaGeoModel().fit(x, t_x, age)
    ggf = GammaGammaModel().fit(x, spend)
    p_alive = bgf.probability_alive(x, t_x, age)
    expected = bgf.expected_purchases(90.0, x, t_x, age)
    clv = customer_lifetime_value(bgf, ggf, x, t_x, age, spend, horizon_months=12, unit="day")
    return {
        "customers": table.num_rows,
        "params": {**bgf.result.params, **ggf.result.params},
        "checksum": [float(p_alive.sum()), float(expected.sum()), float(clv.sum())],
    }


def lifetimes_btyd(path: str, as_of: date) -> dict[str, Any]:
    """The same pipeline with lifetimes 0.11.3."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    summary = _lifetimes_summary(path, as_of)
    bgf = BetaGeoFitter().fit(summary.frequency, summary.recency, summary["T"])
    repeat = summary[summary.frequency > 0]
    ggf = GammaGammaFitter().fit(repeat.frequency, repeat.monetary_value)
    p_alive = bgf.conditional_probability_alive(summary.frequency, summary.recency, summary["T"])
    expected = bgf.conditional_expected_number_of_purchases_up_to_time(
        90, summary.frequency, summary.recency, summary["T"]
    )
    clv = ggf.customer_lifetime_value(
        bgf,
        summary.frequency,
        summary.recency,
        summary["T"],
        summary.monetary_value,
        time=12,
        discount_rate=0.01,
        freq="D",
    )
    params = {**bgf.params_.to_dict(), **ggf.params_.to_dict()}
    return {
        "customers": len(summary),
        "params": {k: float(v) for k, v in params.items()},
        "checksum": [float(p_alive.sum()), float(expected.sum()), float(clv.sum())],
    }


TASKS: dict[str, Task] = {
    "duckdb_scan": duckdb_scan,
    "regulars_summary": regulars_summary,
    "pandas_summary": pandas_summary,
    "lifetimes_summary": lifetimes_summary,
    "regulars_report": regulars_report,
    "regulars_btyd": regulars_btyd,
    "lifetimes_btyd": lifetimes_btyd,
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
