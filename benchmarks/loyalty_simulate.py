"""Benchmark: `regulars loyalty simulate` on demo shops of growing size.

    python benchmarks/loyalty_simulate.py --sizes 30000,1000000

Each size runs in its own process (wall time includes interpreter start and imports;
peak RSS is that process's own): import the Parquet orders, replay them under a points
program with two tiers, write simulation.html / .json / entries.parquet. The demo shops
are the ones benchmarks/report_scale.py generates (seed 11, benchmarks/.data/).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from report_scale import ensure_data


def simulate_once(orders: str) -> dict[str, object]:
    """The child process: one end-to-end simulation, timed per stage."""
    from regulars.loyalty.rules import PointsRules, Tier
    from regulars.loyalty.simulate import ProgramConfig, simulate_program
    from regulars.report.loyalty import write_simulation
    from regulars.shop import Shop

    started = time.perf_counter()
    stages: dict[str, float] = {}
    mark = [started]

    def stage(name: str) -> None:
        now = time.perf_counter()
        stages[name] = round(now - mark[0], 3)
        mark[0] = now

    shop = Shop.from_files([orders])
    stage("import")
    rules = PointsRules(
        earn_per_unit=Decimal(1),
        point_value=Decimal("0.01"),
        tiers=[
            Tier(name="silver", threshold=Decimal(500), earn_multiplier=Decimal("1.5")),
            Tier(name="gold", threshold=Decimal(2000), earn_multiplier=Decimal(2)),
        ],
    )
    sim = simulate_program(shop.orders, ProgramConfig(rules=rules), margin=Decimal("0.4"))
    stage("simulate")
    with tempfile.TemporaryDirectory() as out:
        write_simulation(sim, Path(out))
    stage("write outputs")
    assert sim.entries is not None
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "stages": stages,
        "members": sim.members,
        "purchases": sim.baseline.orders,
        "entries": sim.entries.num_rows,
        "verdict": sim.verdict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="30000,1000000")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(simulate_once(args.child)))
        return
    print(
        "| orders | members | member purchases | entries | wall s (process) | in-task s | "
        "peak RSS MB | stages |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        orders, _as_of = ensure_data(size)
        begun = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(orders)],
            check=True,
            capture_output=True,
            text=True,
        )
        wall = round(time.perf_counter() - begun, 2)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"| {size:,} | {r['members']:,} | {r['purchases']:,} | {r['entries']:,} | {wall} | "
            f"{r['seconds']} | {r['peak_rss_mb']} | {r['stages']} |",
            flush=True,
        )
        print(f"<!-- {r['verdict']} -->", flush=True)


if __name__ == "__main__":
    main()
