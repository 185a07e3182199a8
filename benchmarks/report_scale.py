"""Benchmark: regulars against pandas and lifetimes on the same demo shop.

    make bench                                   # 1 M and 10 M transactions
    .venv/bin/python benchmarks/report_scale.py --sizes 1000000 --write-docs

Each task runs in its own process (see tasks.py), so wall time includes interpreter start
and imports, and peak RSS is the task's own. lifetimes runs in benchmarks/.venv-lifetimes.
Results are printed as a Markdown table; --write-docs replaces the matching section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
LIFETIMES_VENV = ROOT / "benchmarks" / ".venv-lifetimes"
TASKS = [
    "regulars_btyd",
    "lifetimes_btyd",
    "duckdb_scan",
    "regulars_summary",
    "pandas_summary",
    "lifetimes_summary",
    "regulars_report",
]
BEGIN, END = "<!-- report_scale:begin -->", "<!-- report_scale:end -->"


def ensure_lifetimes_venv() -> Path:
    python = LIFETIMES_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LIFETIMES_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "-r",
                str(ROOT / "benchmarks" / "requirements-lifetimes.txt"),
            ],
            check=True,
        )
    return python


def ensure_data(n: int) -> tuple[Path, str]:
    """Generate (once) a Parquet demo shop with about ``n`` transactions."""
    from regulars.data.demo import generate_demo

    folder = DATA / f"shop_{n}"
    marker = folder / "as_of.txt"
    if not marker.exists():
        shop = generate_demo(folder, n_transactions=n, seed=11, fmt="parquet")
        marker.write_text(f"{shop.orders}\n{shop.end.isoformat()}\n")
    orders, as_of = marker.read_text().split()
    return Path(orders), as_of


def run_task(task: str, orders: Path, as_of: str) -> dict[str, object]:
    python = ensure_lifetimes_venv() if task.startswith("lifetimes") else PROJECT_PYTHON
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    started = time.perf_counter()
    proc = subprocess.run(
        [str(python), str(ROOT / "benchmarks" / "tasks.py"), task, str(orders), as_of],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    wall = round(time.perf_counter() - started, 2)
    if proc.returncode != 0:
        return {"task": task, "error": proc.stderr.strip().splitlines()[-1:], "wall": wall}
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def markdown(size: int, results: list[dict[str, object]]) -> str:
    lines = [
        f"### {size:,} transactions",
        "",
        "| task | wall s (process) | in-task s | peak RSS MB | notes |",
        "|---|---:|---:|---:|---|",
    ]
    for r in results:
        note = r.get("error") or r.get("stages") or _model_note(r) or ""
        lines.append(
            f"| {r['task']} | {r['wall']} | {r.get('seconds', '')} | "
            f"{r.get('peak_rss_mb', '')} | {note} |"
        )
    return "\n".join(lines) + "\n"


def _model_note(result: dict[str, object]) -> str | None:
    """Fitted parameters and Σ P(alive), Σ E[purchases 90 d], Σ CLV, to 5 significant
    digits: equal notes mean equal answers."""
    params, checksum = result.get("params"), result.get("checksum")
    if not isinstance(params, dict) or not isinstance(checksum, list):
        return None
    fitted = ", ".join(f"{k} {v:.5g}" for k, v in params.items())
    sums = ", ".join(f"{v:.6g}" for v in checksum)
    return f"{fitted}; sums {sums}"


def write_docs(text: str) -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    current = doc.read_text() if doc.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    head, rest = current.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    header = (
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.machine()}. Command: `.venv/bin/python benchmarks/report_scale.py "
        f"--sizes {args.sizes}`\n\n"
    )
    sections = []
    for size in (int(s) for s in args.sizes.split(",")):
        orders, as_of = ensure_data(size)
        results = [run_task(t, orders, as_of) for t in args.tasks.split(",")]
        sections.append(markdown(size, results))
        print(sections[-1], flush=True)
    if args.write_docs:
        write_docs(header + "\n".join(sections))


if __name__ == "__main__":
    main()
