"""Scale: a 200k-row CSV imports in seconds, which rules out per-row Python."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from regulars.data.importers import read_orders

ROWS = 200_000


def write_orders(path: Path, rows: int) -> None:
    """A realistic export, generated column-wise: ids, ISO times, money with cents."""
    rng = np.random.default_rng(7)
    customers = pa.array(rng.integers(0, rows // 4, rows)).cast(pa.string())
    seconds = rng.integers(1_672_531_200, 1_704_067_200, rows)
    stamps = pa.array(seconds * 1_000_000, pa.timestamp("us"))
    cents = pa.array(rng.integers(100, 500_000, rows))
    table = pa.table(
        {
            "customer_id": pc.binary_join_element_wise("C", customers, ""),
            "order_id": pa.array(np.arange(rows)).cast(pa.string()),
            "ordered_at": pc.strftime(stamps, "%Y-%m-%d %H:%M:%S"),
            "amount": pc.cast(pc.divide(pc.cast(cents, pa.float64()), 100.0), pa.string()),
            "email": pc.binary_join_element_wise("c", customers, "@example.com", ""),
        }
    )
    pacsv.write_csv(table, path)


@pytest.mark.slow
def test_200k_rows_import_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    write_orders(path, ROWS)
    started = time.perf_counter()
    result = read_orders([path], timezone="Europe/Berlin")
    elapsed = time.perf_counter() - started
    assert result.orders_imported == ROWS
    assert result.rows_rejected == 0
    assert result.customers is not None
    # About 1.5 s on two busy cores; a per-row Python loop would take tens of seconds.
    assert elapsed < 10, f"import took {elapsed:.1f} s"
