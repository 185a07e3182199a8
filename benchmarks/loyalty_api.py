"""Benchmark: earn and redeem through the HTTP API on PostgreSQL, 16 concurrent clients.

    PYTHONPATH=src python benchmarks/loyalty_api.py \
        --url postgresql://postgres@127.0.0.1:5432/test --clients 16 --seconds 20

Starts ``regulars``' API (uvicorn, one process) on 127.0.0.1 over a migrated store in a
schema of its own (dropped at the end), creates a points program and one customer per
client, then each client thread alternates a credit (``POST …/adjust``, +10 points) and a
redemption (``POST …/redeem``, 5 points), each with its own Idempotency-Key, for the given
time. Prints operations per second and the p50 / p99 latency, and checks that every
account's balance equals what the successful calls imply.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid

import httpx
from sqlalchemy import text

from regulars.api.keys import create_api_key
from regulars.store.migrate import upgrade
from regulars.store.models import Customer
from regulars.store.session import make_engine, session_scope

PROGRAM = {
    "code": "bench",
    "name": "Bench",
    "config": {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0},
}


def serve(url: str, schema: str, port: int) -> None:
    import uvicorn

    from regulars.api import create_app

    engine = make_engine(
        url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=20, max_overflow=10
    )
    uvicorn.run(create_app(engine), host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client_loop(
    base: str, key: str, customer: str, until: float, latencies: list[float], counts: list[int]
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        n = 0
        while time.perf_counter() < until:
            path, body, credit = (
                (f"/v1/loyalty/accounts/{customer}/adjust", {"points": 10, "reason": "bench"}, 10)
                if n % 2 == 0
                else (f"/v1/loyalty/accounts/{customer}/redeem", {"points": 5}, -5)
            )
            began = time.perf_counter()
            response = client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            latencies.append(time.perf_counter() - began)
            if response.status_code == 201:
                counts[0] += credit
            else:
                counts[1] += 1
            n += 1


def run(url: str, clients: int, seconds: float) -> None:
    schema = f"bench_api_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    port = _free_port()
    server = None
    try:
        upgrade(engine)
        _row, key = create_api_key(engine, "bench", ["loyalty:read", "loyalty:write"])
        customers = [f"bench-{i}" for i in range(clients)]
        with session_scope(engine) as session:
            session.add_all(Customer(customer_id=c, attributes={}) for c in customers)
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                "--url",
                url,
                "--schema",
                schema,
                "--port",
                str(port),
            ]
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        httpx.post(
            f"{base}/v1/loyalty/programs", json=PROGRAM, headers={"Authorization": f"Bearer {key}"}
        ).raise_for_status()
        latencies: list[list[float]] = [[] for _ in customers]
        expected = [[0, 0] for _ in customers]
        until = time.perf_counter() + seconds
        threads = [
            threading.Thread(
                target=_client_loop, args=(base, key, c, until, latencies[i], expected[i])
            )
            for i, c in enumerate(customers)
        ]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        every = sorted(x for per in latencies for x in per)
        p99 = every[int(len(every) * 0.99)]
        print(
            f"{clients} clients, {elapsed:.1f} s: {len(every):,} operations = "
            f"{len(every) / elapsed:,.0f} ops/s; p50 {statistics.median(every) * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms"
        )
        with engine.connect() as conn:
            balances = dict(
                conn.execute(text("SELECT customer_id, balance FROM loyalty_accounts")).all()
            )
        wrong = [c for i, c in enumerate(customers) if balances.get(c, 0) != expected[i][0]]
        refused = sum(e[1] for e in expected)
        print(
            f"refused calls: {refused}; accounts whose balance differs from the successful "
            f"calls (read right after the last answer): {len(wrong)}"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="PostgreSQL URL")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.url, args.schema, args.port)
    else:
        run(args.url, args.clients, args.seconds)


if __name__ == "__main__":
    main()
