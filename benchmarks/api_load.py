"""Throughput and latency of the HTTP API under concurrent clients, on PostgreSQL.

    PYTHONPATH=src .venv/bin/python benchmarks/api_load.py \\
        --url postgresql://postgres@127.0.0.1:5432/test --workers 1,2 --seconds 15

For every scenario and every ``--workers`` count it starts a server on 127.0.0.1 over a
migrated PostgreSQL schema of its own (dropped at the end), sends ``--clients`` concurrent
clients' requests for ``--seconds`` after ``--warmup`` seconds that are not counted, stops
the server and checks the store. Scenarios (``--scenarios``):

* ``bare``: ``uvicorn --factory benchmarks.api_app:bare``, a FastAPI endpoint that only
  validates an order body (no database): the floor of the framework and the server.
* ``orders``: ``regulars serve``, ``POST /v1/orders`` of new orders with 2 lines (1,000
  customers, a third of them new), no loyalty program running. Afterwards: the orders
  answered 201 are all stored, and 100 more orders sent twice at the same time with the
  same ``Idempotency-Key`` are each stored once.
* ``orders_earning``: the same with a points program running: each order earns points in
  its own transaction (the order hooks).
* ``loyalty``: ``regulars serve``, each client alternating a credit (``POST
  …/adjust``, +10) and a redemption (``POST …/redeem``, 5) on an account of its own, each
  with a fresh ``Idempotency-Key``. Afterwards: every balance equals what the answered
  calls imply.

The servers run with ``--no-access-log``. Each client holds one keep-alive HTTP/1.1
connection and waits for each answer before sending the next request (a closed loop), so
the rate is what the server sustains at that concurrency. The client is a minimal HTTP/1.1
writer/reader on asyncio streams (uvloop when installed), to take as little of the
machine as it can: **it shares the machine's cores with the server and PostgreSQL**, and
every run reports the client's own CPU use next to the server processes' and the rest of
the machine's (PostgreSQL and anything else running). Prints one line per run and writes
the table as JSON and markdown into ``--out``. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SCENARIOS = ("bare", "orders", "orders_earning", "loyalty")
PROGRAM = {
    "code": "bench",
    "name": "Bench",
    "config": {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0},
}
TICKS = os.sysconf("SC_CLK_TCK")

Request = tuple[str, dict[str, Any], dict[str, str]]
"""``(path, JSON body, extra headers)``."""


# -- a minimal HTTP/1.1 client --------------------------------------------------------------


class Connection:
    """One keep-alive connection: ``POST`` a JSON body, read the status and the JSON answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        payload = json.dumps(body).encode()
        lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += [f"Content-Length: {len(payload)}", "", ""]
        self.writer.write("\r\n".join(lines).encode() + payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await self.reader.readexactly(length)
        return int(head[9:12])

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@dataclass
class Tally:
    """What the clients saw in the counted period."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


async def closed_loop(
    port: int,
    make: Callable[[int, int], Request],
    seconds: float,
    on_answer: Callable[[int, Request, int], None],
    sent: list[int],
) -> tuple[Tally, float]:
    """One client per entry of ``sent``: client ``c`` sends ``make(c, n)`` as its ``n``-th
    request (``sent[c]`` counts them across calls) and waits for the answer, for
    ``seconds``. ``on_answer(c, request, status)`` sees every answer."""
    tally = Tally()
    began = time.perf_counter()
    until = began + seconds

    async def client(c: int) -> None:
        connection = await Connection.open(port)
        try:
            while (started := time.perf_counter()) < until:
                request = make(c, sent[c])
                status = await connection.post(*request)
                tally.latencies.append(time.perf_counter() - started)
                tally.statuses[status] += 1
                on_answer(c, request, status)
                sent[c] += 1
        finally:
            await connection.close()

    await asyncio.gather(*(client(c) for c in range(len(sent))))
    return tally, time.perf_counter() - began


# -- CPU accounting -------------------------------------------------------------------------


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(child) for child in children)
    return found


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds so far of each of ``pids`` that still runs."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    return seconds


def _cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings of the processes present at both."""
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


def _machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICKS


def _postgres_pids() -> list[int]:
    """Every PostgreSQL process on the machine (its server and all backends)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- stores and servers ---------------------------------------------------------------------


@contextmanager
def fresh_schema(postgres_url: str) -> Iterator[str]:
    """The URL of a migrated schema of its own, dropped at the end."""
    from scratch import scratch_schema

    from regulars.store.migrate import upgrade
    from regulars.store.session import make_engine

    with scratch_schema(postgres_url, "bench_load") as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server(command: list[str], env: dict[str, str], port: int) -> Iterator[int]:
    """A server process listening on ``port`` until the block ends; yields its pid."""
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_until_listening(port, process)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _wait_until_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read() if process.stderr else ""
            raise SystemExit(f"the server exited: {error}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not listen within 120 s")


def server_command(scenario: str, url: str | None, port: int, workers: int) -> list[str]:
    if scenario == "bare":
        return [
            *(sys.executable, "-m", "uvicorn", "benchmarks.api_app:bare", "--factory"),
            *("--host", HOST, "--port", str(port), "--workers", str(workers)),
            *("--no-access-log", "--log-level", "warning"),
        ]
    assert url is not None
    return [
        *(sys.executable, "-c", "from regulars.cli import main; main()", "serve"),
        *("--url", url, "--host", HOST, "--port", str(port), "--workers", str(workers)),
        "--no-access-log",
    ]


# -- scenarios ------------------------------------------------------------------------------


def order_body(run: str, c: int, n: int, at: datetime) -> dict[str, Any]:
    """A new order with 2 lines; 1,000 customers, a third of them new at first sight."""
    number = n * 1000 + c
    return {
        "order_id": f"{run}-{c:03d}-{n:07d}",
        "customer_id": f"{run}-C{number % 1000:04d}" if number % 3 else f"known-{number % 1000}",
        "ordered_at": at.isoformat(),
        "amount": "30.50",
        "currency": "EUR",
        "channel": "web",
        "lines": [
            {"sku": "SKU-1", "quantity": 2, "unit_price": "10.00", "line_amount": "20.00"},
            {"sku": "SKU-2", "quantity": 1, "unit_price": "10.50", "line_amount": "10.50"},
        ],
    }


@dataclass
class Run:
    """One row of the results."""

    scenario: str
    workers: int
    clients: int
    seconds: float
    requests: int
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    client_cpu_pct: float
    server_cpu_pct: float
    postgres_cpu_pct: float
    other_cpu_pct: float
    server_cpu_ms_per_op: float
    load_average: float
    check: str


class Scenario:
    """Set-up, requests and the final check of one scenario on one store."""

    def __init__(self, name: str, url: str | None, clients: int) -> None:
        self.name, self.url, self.clients = name, url, clients
        self.run = uuid.uuid4().hex[:6]
        self.headers: dict[str, str] = {}
        self.created = 0
        self.credits = [0] * clients
        self.customers = [f"bench-{c}" for c in range(clients)]

    def prepare(self) -> None:
        """The API key and the customers (and, for ``orders_earning``, the program)."""
        if self.url is None:
            return
        from regulars.api.keys import create_api_key
        from regulars.store.session import make_engine, session_scope
        from regulars.store.tables import Customer

        engine = make_engine(self.url)
        _row, key = create_api_key(engine, "bench", ["admin"])
        known = [f"known-{i}" for i in range(1000)] + self.customers
        with session_scope(engine) as session:
            session.add_all(Customer(customer_id=c, attributes={}) for c in known)
        engine.dispose()
        self.headers = {"Authorization": f"Bearer {key}"}

    async def started(self, port: int) -> None:
        """Calls made once the server listens (the programs go through the API)."""
        if self.name in ("orders_earning", "loyalty"):
            connection = await Connection.open(port)
            status = await connection.post("/v1/loyalty/programs", PROGRAM, self.headers)
            await connection.close()
            assert status == 201, status

    def make(self, c: int, n: int) -> Request:
        if self.name in ("bare", "orders", "orders_earning"):
            # Now, after the program's start, so that every order earns in orders_earning.
            at = datetime.now(UTC)
            return "/v1/orders", order_body(self.run, c, n, at), self.headers
        account = f"/v1/loyalty/accounts/{self.customers[c]}"
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        if n % 2 == 0:
            return f"{account}/adjust", {"points": 10, "reason": "bench"}, headers
        return f"{account}/redeem", {"points": 5}, headers

    def on_answer(self, c: int, request: Request, status: int) -> None:
        if status == 201:
            self.created += 1
            path = request[0]
            if path.endswith("/adjust"):
                self.credits[c] += 10
            elif path.endswith("/redeem"):
                self.credits[c] -= 5

    async def after(self, port: int) -> str:
        """Concurrent retries of the same orders (``orders``): the statuses seen."""
        if self.name != "orders":
            return ""
        connection_pairs = [
            (await Connection.open(port), await Connection.open(port)) for _ in range(8)
        ]
        statuses: Counter[int] = Counter()
        at = datetime(2027, 1, 1, tzinfo=UTC)
        for start in range(0, 100, 8):
            sends = []
            for i, (first, second) in enumerate(connection_pairs):
                if start + i >= 100:
                    break
                body = order_body(f"{self.run}R", 0, start + i, at)
                headers = {**self.headers, "Idempotency-Key": f"{self.run}-k{start + i}"}
                sends += [first.post("/v1/orders", body, headers)]
                sends += [second.post("/v1/orders", body, headers)]
            statuses.update(await asyncio.gather(*sends))
        for first, second in connection_pairs:
            await first.close()
            await second.close()
        return f"retries {dict(sorted(statuses.items()))}"

    def check(self) -> str:
        """What the store holds, against what the clients were told."""
        if self.url is None:
            return "no store"
        from sqlalchemy import text

        from regulars.store.session import make_engine

        engine = make_engine(self.url)
        with engine.connect() as conn:
            if self.name == "loyalty":
                balances = dict(
                    conn.execute(text("SELECT customer_id, balance FROM loyalty_accounts")).all()
                )
                wrong = sum(
                    balances.get(customer, 0) != credit
                    for customer, credit in zip(self.customers, self.credits, strict=True)
                )
                verdict = f"balances wrong: {wrong}"
            else:
                stored = conn.scalar(
                    text("SELECT count(*) FROM orders WHERE order_id LIKE :run"),
                    {"run": f"{self.run}-%"},
                )
                retried = conn.scalar(
                    text(
                        "SELECT count(*), count(DISTINCT order_id) FROM orders "
                        "WHERE order_id LIKE :run"
                    ),
                    {"run": f"{self.run}R-%"},
                )
                lines = conn.scalar(
                    text("SELECT count(*) FROM order_lines WHERE order_id LIKE :run"),
                    {"run": f"{self.run}R-%"},
                )
                verdict = f"201s {self.created}, stored {stored}"
                if self.name == "orders":
                    verdict += f"; retried orders stored {retried} with {lines} lines (100, 200)"
                if self.name == "orders_earning":
                    earned = conn.scalar(
                        text("SELECT count(*) FROM loyalty_entries WHERE kind = 'earn'")
                    )
                    verdict += f", earn entries {earned}"
        engine.dispose()
        return verdict


def measure(name: str, postgres_url: str, workers: int, args: argparse.Namespace) -> Run:
    """One scenario at one worker count, on a store of its own."""
    with fresh_schema(postgres_url) if name != "bare" else _no_store() as url:
        scenario = Scenario(name, url, args.clients)
        scenario.prepare()
        port = _free_port()
        env = dict(os.environ, PYTHONPATH=f"{args.src}:{ROOT}")
        env.setdefault("REGULARS_SECRET_KEY", "benchmark-only-secret-key-0123456789abcdef")
        with server(server_command(name, url, port, workers), env, port) as pid:
            asyncio.run(scenario.started(port))
            load_average = os.getloadavg()[0]
            result = _timed_load(scenario, port, pid, args)
            retries = asyncio.run(scenario.after(port))
        check = "; ".join(x for x in (scenario.check(), retries) if x)
    tally, elapsed, cpu = result
    cuts = statistics.quantiles(tally.latencies, n=100, method="inclusive")
    done = len(tally.latencies)
    return Run(
        scenario=name,
        workers=workers,
        clients=args.clients,
        seconds=round(elapsed, 1),
        requests=done,
        ops_per_s=round(done / elapsed, 1),
        p50_ms=round(cuts[49] * 1000, 1),
        p99_ms=round(cuts[98] * 1000, 1),
        errors=sum(n for status, n in tally.statuses.items() if status not in (200, 201)),
        client_cpu_pct=round(cpu["client"] / elapsed * 100),
        server_cpu_pct=round(cpu["server"] / elapsed * 100),
        postgres_cpu_pct=round(cpu["postgres"] / elapsed * 100),
        other_cpu_pct=round(cpu["other"] / elapsed * 100),
        server_cpu_ms_per_op=round(cpu["server"] / done * 1000, 2),
        load_average=round(load_average, 1),
        check=check,
    )


@contextmanager
def _no_store() -> Iterator[None]:
    yield None


def _timed_load(
    scenario: Scenario, port: int, pid: int, args: argparse.Namespace
) -> tuple[Tally, float, dict[str, float]]:
    """A warm-up (the pools fill, the statements get prepared), then the counted load with
    the CPU seconds the client, the server processes, PostgreSQL and the rest of the
    machine used meanwhile."""
    sent = [0] * args.clients
    _run_loop(closed_loop(port, scenario.make, args.warmup, scenario.on_answer, sent))
    tree = _process_tree(pid)
    postgres = _postgres_pids()  # after the warm-up: the server's connections are open
    before = (
        _own_cpu_seconds(),
        _cpu_seconds(tree),
        _cpu_seconds(postgres),
        _machine_cpu_seconds(),
    )
    tally, elapsed = _run_loop(
        closed_loop(port, scenario.make, args.seconds, scenario.on_answer, sent)
    )
    client = _own_cpu_seconds() - before[0]
    served = _cpu_used(before[1], _cpu_seconds(tree))
    database = _cpu_used(before[2], _cpu_seconds(postgres))
    machine = _machine_cpu_seconds() - before[3]
    cpu = {
        "client": client,
        "server": served,
        "postgres": database,
        "other": max(machine - client - served - database, 0.0),
    }
    return tally, elapsed, cpu


def _run_loop(coroutine: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def markdown(runs: list[Run], cores: int) -> str:
    head = (
        "| scenario | workers | ops/s | p50 ms | p99 ms | errors | server CPU ms/op "
        "| CPU: client | server | PostgreSQL | rest | load avg | check |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    rows = "".join(
        f"| {r.scenario} | {r.workers} | {r.ops_per_s:,.0f} | {r.p50_ms} | {r.p99_ms} | "
        f"{r.errors} | {r.server_cpu_ms_per_op} | {r.client_cpu_pct} % | "
        f"{r.server_cpu_pct} % | {r.postgres_cpu_pct} % | {r.other_cpu_pct} % | "
        f"{r.load_average} | {r.check} |\n"
        for r in runs
    )
    note = (
        f"\nCPU columns: percent of one core (the machine has {cores}) used by the load "
        "generator (this process), the server processes, every PostgreSQL process (other "
        "sessions' queries included) and the rest of the machine, over the run; server "
        "CPU ms/op is the server processes' CPU time per answered request.\n"
    )
    return head + rows + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "REGULARS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL URL (each store scenario gets a schema of its own in it)",
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0, help="counted seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted seconds first")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench-api")
    parser.add_argument(
        "--src", type=Path, default=ROOT / "src", help="source tree the servers run (A/B)"
    )
    args = parser.parse_args()
    # A SIGTERM (timeout, kill) unwinds like Ctrl-C: the servers stop, the schemas go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scenarios = args.scenarios.split(",")
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}")
    cores = os.cpu_count() or 1
    print(
        f"{args.clients} clients in this process share the {cores} cores with the servers "
        "and PostgreSQL; its own CPU use is the 'client' column."
    )
    runs = []
    for name in scenarios:
        for workers in (int(w) for w in args.workers.split(",")):
            run = measure(name, args.url, workers, args)
            runs.append(run)
            print(
                f"{run.scenario} workers={run.workers}: {run.ops_per_s:,.0f} ops/s, "
                f"p50 {run.p50_ms} ms, p99 {run.p99_ms} ms, errors {run.errors}; server "
                f"{run.server_cpu_ms_per_op} ms CPU/op; CPU client {run.client_cpu_pct} %, "
                f"server {run.server_cpu_pct} %, PostgreSQL {run.postgres_cpu_pct} %, rest "
                f"{run.other_cpu_pct} %; load {run.load_average}; {run.check}",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {"measured_at": stamp, "cores": cores, "runs": [asdict(r) for r in runs]}
    (args.out / "api_load.json").write_text(json.dumps(document, indent=2) + "\n")
    table = markdown(runs, cores)
    (args.out / "api_load.md").write_text(f"Measured {stamp}.\n\n{table}")
    print(f"\n{table}\nwritten to {args.out}/api_load.json and api_load.md")


if __name__ == "__main__":
    main()
