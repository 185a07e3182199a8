"""The CDNOW sample (tests/data/cdnow, see its README) as the models' tests use it:
loaded once per session (cached), plus the published results to compare with."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv

FloatArray = npt.NDArray[np.float64]

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow"
CALIBRATION_END = date(1997, 10, 1)  # the 39 weeks 1997-01-01 … 1997-09-30
OBSERVATION_END = date(1998, 7, 1)  # the 39-week holdout 1997-10-01 … 1998-06-30

#: Fader, Hardie & Lee (2005) and Fader & Hardie's notes, on the calibration summary.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
PUBLISHED_PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PUBLISHED_PARETO_LL = -9595.0
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@cache
def summary() -> dict[str, FloatArray]:
    """``cdnow_customers_summary.csv``: frequency, recency, T (weeks), 2,357 customers."""
    table = pacsv.read_csv(CDNOW / "cdnow_customers_summary.csv")
    return {
        name: np.asarray(table.column(name).to_numpy(), dtype=np.float64)
        for name in ("ID", "frequency", "recency", "T")
    }


@cache
def summary_with_spend() -> dict[str, FloatArray]:
    """``cdnow_customers_summary_with_transactions.csv``: ID, x, t_x, T, zbar."""
    table = pacsv.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    return {
        name: np.asarray(table.column(name).to_numpy(), dtype=np.float64)
        for name in ("ID", "x", "t_x", "T", "zbar")
    }


@cache
def orders() -> pa.Table:
    """``CDNOW_sample.txt`` as canonical orders: one order per record, at midnight local
    time, customer id = the sample id (1–2357)."""
    lines = (CDNOW / "CDNOW_sample.txt").read_text().split("\n")
    rows = [line.split() for line in lines if line.strip()]
    ordered_at = np.array(
        [f"{r[2][:4]}-{r[2][4:6]}-{r[2][6:]}" for r in rows], dtype="datetime64[us]"
    )
    n = len(rows)
    return pa.table(
        {
            "order_id": pa.array([str(i) for i in range(n)]),
            "customer_id": pa.array([str(int(r[1])) for r in rows]),
            "ordered_at": pa.array(ordered_at, pa.timestamp("us")),
            "amount": pa.array([Decimal(r[4]) for r in rows], pa.decimal128(18, 2)),
            "refunded_amount": pa.array([Decimal(0)] * n, pa.decimal128(18, 2)),
            "status": pa.array(["completed"] * n),
        }
    )
