"""Profile the request path of the write endpoints: SQL round trips and where the time goes.

    PYTHONPATH=src .venv/bin/python benchmarks/profile_api.py \\
        --url postgresql://postgres@127.0.0.1:5432/test --requests 300 [--pyinstrument out/prof]

On a migrated store of its own (a fresh PostgreSQL schema, dropped at the end, or a
temporary SQLite file) it sends ``--requests`` requests of each scenario, one after the
other, through the whole ASGI app in this process (the scenarios of
``benchmarks/api_load.py``):

* ``orders``: ``POST /v1/orders``, a new order with 2 lines, no loyalty program running;
* ``orders_earning``: the same once a points program runs: it earns on each order in the
  same transaction, through the order hooks;
* ``adjust`` and ``redeem``: ``POST /v1/loyalty/accounts/{id}/adjust`` and ``…/redeem``,
  each with a fresh ``Idempotency-Key``.

For each endpoint it prints the median and p95 milliseconds per request (one caller, no
network, no concurrency: the CPU and round-trip cost of one request), the **SQL round
trips per request** (statements sent, plus the ``BEGIN`` and the ``COMMIT``), the share
of the time spent waiting for the database, and which function of ``regulars`` sent each
statement. The endpoints run on the event loop's thread (FastAPI's thread-pool hop is
replaced by a direct call) so that ``--pyinstrument DIR`` (``pip install pyinstrument``;
not a dependency of regulars) profiles the whole request in one thread and writes one
text and one HTML profile per endpoint into ``DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import anyio.to_thread
import httpx
from scratch import scratch_store
from sqlalchemy import Engine, event

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.store.session import session_scope
from regulars.store.tables import Customer

PROGRAM = {
    "code": "bench",
    "name": "Bench",
    "config": {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0},
}
SRC = str(Path(__file__).resolve().parent.parent / "src")


@dataclass
class Statements:
    """The statements of the request in flight: who sent them and how long they took."""

    current: list[str] = field(default_factory=list)
    sent_by: Counter[str] = field(default_factory=Counter)
    per_request: list[int] = field(default_factory=list)
    db_seconds: float = 0.0
    example: list[str] = field(default_factory=list)
    cpu_started: float = 0.0
    cpu_seconds: float = 0.0
    _started: float = 0.0

    @contextmanager
    def watching(self, engine: Engine) -> Iterator[Statements]:
        """Count the statements ``engine`` sends until the block ends."""
        hooks: list[tuple[str, Callable[..., Any]]] = [
            ("before_cursor_execute", self._before),
            ("after_cursor_execute", self._after),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ]
        for name, hook in hooks:
            event.listen(engine, name, hook)
        try:
            yield self
        finally:
            for name, hook in hooks:
                event.remove(engine, name, hook)

    def _commit(self, _conn: Any) -> None:
        self._note("COMMIT", "(commit)")

    def _rollback(self, _conn: Any) -> None:
        self._note("ROLLBACK", "(rollback)")

    def _note(self, statement: str, caller: str) -> None:
        if not self.current:
            self.current.append("BEGIN")  # the DBAPI's implicit BEGIN is a round trip
            self.sent_by["(begin)"] += 1
        self.current.append(statement)
        self.sent_by[caller] += 1

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self._note(" ".join(statement.split())[:110], _caller())
        self._started = time.perf_counter()

    def _after(self, *_args: Any) -> None:
        self.db_seconds += time.perf_counter() - self._started

    def end_request(self) -> None:
        self.per_request.append(len(self.current))
        self.example = self.current
        self.current = []


def _caller() -> str:
    """The innermost function of ``regulars`` (outside the store's plumbing) on the stack."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(SRC) and not path.endswith("store/session.py"):
            return f"{_module(path)}.{frame.f_code.co_name}"
        frame = frame.f_back
    return "(other)"


def _module(path: str) -> str:
    return path[len(SRC) + 1 : -3].replace("/", ".")


@contextmanager
def one_thread() -> Iterator[None]:
    """Run FastAPI's sync endpoints and dependencies on the loop's thread (for profiling)."""
    original = anyio.to_thread.run_sync

    async def direct(func: Callable[..., Any], *args: Any, **_kwargs: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = direct  # type: ignore[assignment]
    try:
        yield
    finally:
        anyio.to_thread.run_sync = original  # type: ignore[assignment]


def requests_of(endpoint: str, count: int) -> Iterator[tuple[str, dict[str, Any], dict[str, str]]]:
    """``(path, body, extra headers)`` of ``count`` requests to ``endpoint``."""
    for i in range(count):
        if endpoint in ("orders", "orders_earning"):
            body = {
                "order_id": f"P-{uuid.uuid4().hex[:12]}",
                "customer_id": f"prof-{i % 50}",
                "ordered_at": datetime.now(UTC).isoformat(),  # the program runs since its creation
                "amount": "30.50",
                "currency": "EUR",
                "lines": [
                    {"sku": "A", "quantity": 2, "unit_price": "10.00", "line_amount": "20.00"},
                    {"sku": "B", "quantity": 1, "unit_price": "10.50", "line_amount": "10.50"},
                ],
            }
            yield "/v1/orders", body, {}
        else:
            customer = f"prof-{i % 50}"
            body = {"points": 10, "reason": "profile"} if endpoint == "adjust" else {"points": 1}
            path = f"/v1/loyalty/accounts/{customer}/{endpoint}"
            yield path, body, {"Idempotency-Key": uuid.uuid4().hex}


async def send_all(
    http: httpx.AsyncClient, endpoint: str, count: int, seen: Statements
) -> list[float]:
    latencies = []
    seen.cpu_started = time.process_time()
    for path, body, headers in requests_of(endpoint, count):
        started = time.perf_counter()
        reply = await http.post(path, json=body, headers=headers)
        latencies.append(time.perf_counter() - started)
        seen.end_request()
        if reply.status_code not in (200, 201):
            raise SystemExit(f"{endpoint}: {reply.status_code} {reply.text}")
    seen.cpu_seconds = time.process_time() - seen.cpu_started
    return latencies


def report(endpoint: str, latencies: list[float], seen: Statements) -> dict[str, Any]:
    total = sum(latencies)
    trips = statistics.median(seen.per_request)
    print(f"\n## {endpoint}: {len(latencies)} requests, one caller, in process")
    print(
        f"median {statistics.median(latencies) * 1000:.2f} ms, "
        f"p95 {statistics.quantiles(latencies, n=20)[18] * 1000:.2f} ms, "
        f"CPU {seen.cpu_seconds / len(latencies) * 1000:.2f} ms; "
        f"{trips:g} SQL round trips per request; database wait "
        f"{seen.db_seconds / total:.0%} of the time"
    )
    print("statements of the last request:")
    for statement in seen.example:
        print(f"  {statement}")
    print("round trips per request, by the function that sent them:")
    for caller, n in seen.sent_by.most_common():
        print(f"  {n / len(latencies):5.2f}  {caller}")
    return {
        "endpoint": endpoint,
        "median_ms": round(statistics.median(latencies) * 1000, 2),
        "cpu_ms": round(seen.cpu_seconds / len(latencies) * 1000, 2),
        "round_trips": trips,
        "db_share": round(seen.db_seconds / total, 3),
    }


async def main_async(args: argparse.Namespace) -> None:
    with scratch_store(args.url, "bench_prof") as engine:
        _row, key = create_api_key(engine, "profile", ["admin"])
        with session_scope(engine) as session:
            session.add_all(Customer(customer_id=f"prof-{i}", attributes={}) for i in range(50))
        app = create_app(engine)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        program_runs = False
        async with httpx.AsyncClient(
            transport=transport, base_url="http://profile", headers=headers
        ) as http:
            profiler = _profiler(args.pyinstrument)
            for endpoint in args.endpoints.split(","):
                if endpoint != "orders" and not program_runs:
                    (await http.post("/v1/loyalty/programs", json=PROGRAM)).raise_for_status()
                    program_runs = True
                with Statements().watching(engine) as warm_up:
                    await send_all(http, endpoint, min(args.requests, 30), warm_up)
                with Statements().watching(engine) as seen:
                    if profiler is not None:
                        profiler.start()
                    latencies = await send_all(http, endpoint, args.requests, seen)
                    if profiler is not None:
                        profiler.stop()
                report(endpoint, latencies, seen)
                if profiler is not None:
                    _write_profile(profiler, args.pyinstrument, endpoint, len(latencies))
                    profiler.reset()


def _profiler(folder: Path | None) -> Any:
    if folder is None:
        return None
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("--pyinstrument needs 'pip install pyinstrument'") from None
    folder.mkdir(parents=True, exist_ok=True)
    return Profiler(interval=0.0002, async_mode="disabled")


def _write_profile(profiler: Any, folder: Path, endpoint: str, requests: int) -> None:
    """The whole tree as text and HTML, and the time per request of each ``regulars``
    function (its calls and what they call), largest first."""
    (folder / f"{endpoint}.txt").write_text(profiler.output_text(show_all=False, color=False))
    (folder / f"{endpoint}.html").write_text(profiler.output_html())
    root = profiler.last_session.root_frame()
    total = root.time
    inclusive: Counter[str] = Counter()

    def visit(frame: Any, open_on_stack: frozenset[str]) -> None:
        name = open_on_stack
        if frame.file_path and frame.file_path.startswith(SRC):
            ident = f"{_module(frame.file_path)}.{frame.function}"
            if ident not in open_on_stack:  # recursion: count the outermost call only
                inclusive[ident] += frame.time
                name = open_on_stack | {ident}
        for child in frame.children:
            visit(child, name)

    visit(root, frozenset())
    print(f"pyinstrument: ms per request (profiled: {total / requests * 1000:.2f} ms in all)")
    for ident, seconds in inclusive.most_common(40):
        print(f"  {seconds / requests * 1000:7.2f}  {ident}")
    print(f"profile tree in {folder / endpoint}.txt and .html", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--endpoints", default="orders,orders_earning,adjust,redeem")
    parser.add_argument("--pyinstrument", type=Path, metavar="DIR")
    args = parser.parse_args()
    with one_thread():
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
