"""Benchmark: the report a user runs, end to end, on DuckDB and on Spark local mode.

    .venv/bin/python benchmarks/engine_scale.py --sizes 1000000,10000000 --write-docs

For each size (a demo shop in Parquet, generated once into benchmarks/.data like
report_scale.py) and engine, runs ``regulars report ORDERS --no-models --quiet --engine E``
in a fresh process under GNU time: wall seconds and the peak RSS of the largest process
(for Spark that is the JVM, a child of the CLI). Repeats ``--runs`` times and keeps the
median. Results go to the ``engine_scale`` section of docs/benchmarks.md with
``--write-docs``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from report_scale import ensure_data

ROOT = Path(__file__).resolve().parent.parent
REGULARS = ROOT / ".venv" / "bin" / "regulars"
BEGIN, END = "<!-- engine_scale:begin -->", "<!-- engine_scale:end -->"


def run_report(orders: Path, engine: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``regulars report`` run."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            "/usr/bin/time",
            "-v",
            str(REGULARS),
            "report",
            str(orders),
            "--no-models",
            "--quiet",
            "--engine",
            engine,
            "--out",
            out,
        ]
        env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1")
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{engine} on {orders}: {proc.stderr.strip()[-2000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, int(peak.group(1)) / 1024 if peak else float("nan")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    lines = [
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"`regulars report FILE --no-models --quiet --engine E`, median of {args.runs} "
        f"fresh processes. Command: `.venv/bin/python benchmarks/engine_scale.py --sizes "
        f"{args.sizes} --runs {args.runs}`",
        "",
        "| orders | engine | wall s (median) | runs s | peak RSS MB | load avg before |",
        "|---:|---|---:|---|---:|---|",
    ]
    for size in (int(s) for s in args.sizes.split(",")):
        orders, _as_of = ensure_data(size)
        for engine in args.engines.split(","):
            load = load_average()
            runs = [run_report(orders, engine) for _ in range(args.runs)]
            walls = [w for w, _ in runs]
            row = (
                f"| {size:,} | {engine} | {statistics.median(walls):.1f} | "
                f"{', '.join(f'{w:.1f}' for w in walls)} | "
                f"{max(p for _, p in runs):,.0f} | {load} |"
            )
            lines.append(row)
            print(row, flush=True)
    if args.write_docs:
        doc = ROOT / "docs" / "benchmarks.md"
        head, rest = doc.read_text().split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        doc.write_text(f"{head}{BEGIN}\n" + "\n".join(lines) + f"\n{END}{tail}")


if __name__ == "__main__":
    main()
