"""Load generator: single-order ``POST /v1/orders`` against a local API server.

    PYTHONPATH=src .venv/bin/python benchmarks/api_ingest.py \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/test --requests 5000 --clients 16

It creates a fresh PostgreSQL schema, migrates it, creates an API key (``orders:write``),
starts the server on 127.0.0.1 (``regulars serve``, or ``uvicorn --factory`` on
``benchmarks/api_app.py`` with ``--workers N``), and then:

1. **load**: ``--clients`` concurrent clients (asyncio + httpx, one keep-alive connection
   each) post unique orders with 2 lines each until ``--requests`` are done or
   ``--seconds`` have passed, after ``--warmup`` requests that are not counted. Prints
   requests/s, p50/p95/p99 latency and the errors.
2. **retry**: ``--retries`` further orders, each sent twice at the same time with the same
   ``Idempotency-Key``; then checks in the database that each is stored exactly once with
   its 2 lines.

``--app bare`` serves a FastAPI endpoint that only parses the body (no database): the
framework's and the server's share of the time. ``--in-process N`` also times
``regulars.api.services.post_order`` called directly N times (one transaction each), the
request path without HTTP. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def order_body(run: str, i: int) -> dict[str, Any]:
    """A unique order with 2 lines; customers repeat (1,000 of them)."""
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i)
    return {
        "order_id": f"{run}-{i:07d}",
        "customer_id": f"{run}-C{i % 1000:04d}",
        "ordered_at": at.isoformat(),
        "amount": "30.50",
        "currency": "EUR",
        "channel": "web",
        "lines": [
            {"sku": "SKU-1", "quantity": 2, "unit_price": "10.00", "line_amount": "20.00"},
            {"sku": "SKU-2", "quantity": 1, "unit_price": "10.50", "line_amount": "10.50"},
        ],
    }


@contextmanager
def fresh_store(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A migrated schema of its own and an API key: (database URL, key)."""
    from sqlalchemy import text

    from regulars.api.keys import create_api_key
    from regulars.store.migrate import upgrade
    from regulars.store.session import make_engine

    schema = f"bench_api_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        _, key = create_api_key(engine, "bench", "orders:write")
        engine.dispose()
        yield url, key
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def server(url: str, port: int, app: str, workers: int, src: Path) -> Iterator[None]:
    """The API on 127.0.0.1:port, until the block ends."""
    env = dict(os.environ, PYTHONPATH=f"{src}:{ROOT}", REGULARS_BENCH_URL=url)
    if app == "store" and workers == 0:
        command = [sys.executable, "-c", "from regulars.cli import main; main()", "serve"]
        command += ["--url", url, "--host", HOST, "--port", str(port)]
    else:
        command = [sys.executable, "-m", "uvicorn", f"benchmarks.api_app:{app}", "--factory"]
        command += ["--host", HOST, "--port", str(port), "--workers", str(max(workers, 1))]
        command += ["--log-level", "warning"]
    proc = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_until_up(port, proc)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_until_up(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            httpx.get(f"http://{HOST}:{port}/docs", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("server did not start within 60 s")


async def load(
    port: int, key: str, run: str, requests: int, seconds: float, clients: int, first: int
) -> dict[str, Any]:
    """Post ``requests`` unique orders (or for ``seconds``) from ``clients`` clients."""
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()
    next_index = iter(range(first, first + requests))
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {key}"}

    async def client() -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", limits=limits) as http:
            for i in next_index:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                try:
                    reply = await http.post("/v1/orders", json=order_body(run, i), headers=headers)
                    statuses[reply.status_code] += 1
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return summarize(latencies, statuses, elapsed)


def summarize(
    latencies: list[float], statuses: Counter[int | str], elapsed: float
) -> dict[str, Any]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if latencies else [0] * 99
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0,
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "statuses": dict(statuses),
    }


async def retries(port: int, key: str, run: str, count: int, first: int) -> Counter[int | str]:
    """Each order twice at once with the same Idempotency-Key; the statuses seen."""
    statuses: Counter[int | str] = Counter()
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=30) as http:

        async def post(i: int) -> None:
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"{run}-k{i}"}
            reply = await http.post("/v1/orders", json=order_body(run, i), headers=headers)
            statuses[reply.status_code] += 1

        for start in range(first, first + count, 8):  # 8 orders = 16 requests in flight
            batch = range(start, min(start + 8, first + count))
            await asyncio.gather(*(post(i) for i in batch for _ in range(2)))
    return statuses


def stored_once(url: str, run: str, first: int, count: int) -> dict[str, int]:
    """How the retried orders ended up in the store."""
    from sqlalchemy import func, select

    from regulars.store.models import IdempotencyKey, Order, OrderLine
    from regulars.store.session import make_engine

    ids = [f"{run}-{i:07d}" for i in range(first, first + count)]
    engine = make_engine(url)
    with engine.connect() as conn:
        orders = conn.scalar(select(func.count()).where(Order.order_id.in_(ids)))
        lines = conn.scalar(select(func.count()).where(OrderLine.order_id.in_(ids)))
        keys = conn.scalar(select(func.count()).where(IdempotencyKey.order_id.in_(ids)))
    engine.dispose()
    return {"orders": orders or 0, "lines": lines or 0, "idempotency_keys": keys or 0}


def in_process(url: str, count: int) -> dict[str, Any]:
    """``services.post_order`` called directly, one transaction per call: its latency."""
    from regulars.api import services
    from regulars.api.schemas import OrderIn
    from regulars.store.session import make_engine, session_scope

    engine = make_engine(url)
    run = f"P{uuid.uuid4().hex[:6]}"
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        body = OrderIn.model_validate(order_body(run, i))
        with session_scope(engine) as session:
            services.post_order(session, body, api_key_id=1, idempotency_key=None)
        latencies.append(time.perf_counter() - started)
    engine.dispose()
    return summarize(latencies, Counter({"ok": count}), sum(latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "REGULARS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test"
        ),
    )
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--retries", type=int, default=200)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--app", choices=["store", "bare"], default="store")
    parser.add_argument(
        "--workers", type=int, default=0, help="0: 'regulars serve'; N: uvicorn --workers N"
    )
    parser.add_argument("--in-process", type=int, default=0, metavar="N")
    parser.add_argument(
        "--src", type=Path, default=ROOT / "src", help="source tree the server runs (A/B tests)"
    )
    args = parser.parse_args()
    run = f"B{uuid.uuid4().hex[:6]}"
    first = args.warmup + args.requests  # the retried orders' numbers start here
    with fresh_store(args.postgres_url) as (url, key):
        if args.in_process:
            print("in-process services.post_order:", in_process(url, args.in_process))
        with server(url, args.port, args.app, args.workers, args.src):
            asyncio.run(load(args.port, key, run, args.warmup, 60, args.clients, 0))
            result = asyncio.run(
                load(args.port, key, run, args.requests, args.seconds, args.clients, args.warmup)
            )
            print(f"load ({args.app}, workers {args.workers or 'serve'}):", result)
            if args.app == "store" and args.retries:
                seen = asyncio.run(retries(args.port, key, run, args.retries, first))
                print("retry statuses:", dict(seen))
        if args.app == "store" and args.retries:
            stored = stored_once(url, run, first, args.retries)
            expected = {"orders": args.retries, "lines": 2 * args.retries}
            expected["idempotency_keys"] = args.retries
            verdict = "OK" if stored == expected else "MISMATCH"
            print(f"retry check {verdict}: stored {stored}, expected {expected}")


if __name__ == "__main__":
    main()
