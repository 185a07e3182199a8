"""Benchmark: `regulars loyalty simulate` on demo shops of growing size.

    python benchmarks/loyalty_simulate.py --sizes 30000,1000000

Each size runs in its own process (wall time includes interpreter start and imports;
peak RSS is that process's own): import the Parquet orders and their lines, replay them
under a points program (category multiplier, a December double-points period, a
first-purchase bonus) with a tier club (silver and gold, window 365 days, grace 30), write
simulation.html / .json / entries.parquet. The demo shops are the ones
benchmarks/report_scale.py generates (seed 11, benchmarks/.data/).
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
    import pyarrow.parquet as pq

    from regulars.engine import table_from_arrow
    from regulars.loyalty.simulation.proposal import ProposedProgram
    from regulars.loyalty.simulation.simulator import simulate_program
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
    lines = table_from_arrow(shop.con, pq.read_table(Path(orders).with_name("order_lines.parquet")))
    stage("import")
    program = ProposedProgram.model_validate(PROGRAM)
    sim = simulate_program(
        shop.orders,
        program,
        order_lines=lines,
        timezone=shop.settings.timezone,
        margin=Decimal("0.4"),
    )
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
        "tier_candidates": sim.tier_candidates,
        "tier_mix": sim.months[-1].tiers,
        "verdict": sim.verdict(),
    }


PROGRAM = {
    "rules": {
        "earn_per_unit": "1",
        "point_value": "0.01",
        "category_multipliers": {"Coffee & Tea": "2"},
        "bonuses": [
            {
                "kind": "period",
                "code": "december",
                "multiplier": "2",
                "starts_at": "2025-12-01T00:00:00Z",
                "ends_at": "2026-01-01T00:00:00Z",
            },
            {"kind": "first_purchase", "code": "welcome", "points": 100},
        ],
    },
    "tiers": {
        "window_days": 365,
        "grace_days": 30,
        "tiers": [
            {"name": "silver", "threshold": "500", "earn_multiplier": "1.5"},
            {"name": "gold", "threshold": "2000", "earn_multiplier": "2", "discount_pct": "5"},
        ],
    },
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
        "| orders | members | member purchases | entries | tier candidates | wall s (process) "
        "| in-task s | peak RSS MB | stages |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
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
            f"| {size:,} | {r['members']:,} | {r['purchases']:,} | {r['entries']:,} | "
            f"{r['tier_candidates']:,} | {wall} | {r['seconds']} | {r['peak_rss_mb']} | "
            f"{r['stages']} |",
            flush=True,
        )
        print(f"<!-- {r['verdict']} tier mix at the end: {r['tier_mix']} -->", flush=True)


if __name__ == "__main__":
    main()
