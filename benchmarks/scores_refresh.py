"""Benchmark: the nightly scores refresh (``regulars scores refresh``) on a demo shop.

    .venv/bin/python benchmarks/scores_refresh.py --transactions 30000
    .venv/bin/python benchmarks/scores_refresh.py --transactions 1000000 \
        --url postgresql://postgres@127.0.0.1:5432/bench

Builds the store once per size (demo shop → ``regulars db upgrade`` → ``ingest``; SQLite
files under benchmarks/.data/), then runs the refresh in a fresh process, so wall time
includes interpreter start and imports and peak RSS is the refresh's own. As of the demo's
last day (2026-11-01), so every model has data to fit. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"
AS_OF = "2026-11-01"

CHILD = """
import json, resource, sys, time
from datetime import date
from regulars.scoring.refresh import refresh_scores
from regulars.store.session import make_engine
engine = make_engine(sys.argv[1])
result = refresh_scores(engine, as_of=date.fromisoformat(sys.argv[2]))
print(json.dumps({**result.to_dict(),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def prepare(url: str, transactions: int) -> None:
    """Demo shop of ``transactions`` orders into the store at ``url`` (idempotent)."""
    from regulars.data.demo import generate_demo
    from regulars.data.importers import read_orders
    from regulars.store.ingest import ingest
    from regulars.store.migrate import upgrade
    from regulars.store.session import make_engine

    folder = DATA / f"demo-{transactions}"
    orders = folder / "orders.parquet"
    if not orders.exists():
        generate_demo(folder, n_transactions=transactions, fmt="parquet")
    upgrade(url)
    started = time.perf_counter()
    counts = ingest(make_engine(url), read_orders([orders]))
    print(
        f"store ready in {time.perf_counter() - started:.1f} s: {counts.summary()}", file=sys.stderr
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=30_000)
    parser.add_argument("--url", help="Store URL (default: a SQLite file per size).")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    url = args.url or f"sqlite:///{DATA / f'store-{args.transactions}.db'}"
    prepare(url, args.transactions)
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, url, AS_OF], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - started
    result = json.loads(child.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(wall, 2)
    print(json.dumps({"transactions": args.transactions, "url": url.split("@")[-1], **result}))


if __name__ == "__main__":
    main()
