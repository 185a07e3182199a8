"""Benchmark: how long ``regulars serve --demo`` takes until it answers a request.

    PYTHONPATH=src .venv/bin/python benchmarks/serve_demo_startup.py [--transactions 10000]

Starts the real server in a subprocess twice on a fresh folder: the first start builds the
demo store (generate, migrate, import), the second reuses it. For each start it reports the
seconds until the admin key appears on stdout and until ``GET /v1/customers/C000001``
answers 200; interpreter start and imports are included.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_once(db: Path, transactions: int) -> tuple[float, float]:
    """Seconds until the key is printed, and until the first request is answered."""
    port = _free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from regulars.cli import main; main()",
            "serve",
            "--demo",
            "--demo-db",
            str(db),
            "--demo-transactions",
            str(transactions),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        key = process.stdout.readline().strip()
        keyed = time.perf_counter() - started
        headers = {"Authorization": f"Bearer {key}"}
        url = f"http://127.0.0.1:{port}/v1/customers/C000001"
        while True:
            try:
                response = httpx.get(url, headers=headers, timeout=2)
                response.raise_for_status()
                return keyed, time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.02)
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "regulars-demo.db"
        print(f"| start ({args.transactions:,} transactions) | key printed | first answer |")
        print("|---|---:|---:|")
        for label in ("first (builds the store)", "second (reuses it)"):
            keyed, answered = start_once(db, args.transactions)
            print(f"| {label} | {keyed:.2f} s | {answered:.2f} s |")


if __name__ == "__main__":
    main()
