"""Benchmark: webhook delivery of N events to a local receiver on PostgreSQL, the code
before the batches (one POST per transaction, 1,000 per run, fan-out over every event)
against the current one, in the same process and minute.

    PYTHONPATH=src python benchmarks/loyalty_webhooks.py \
        --url postgresql://postgres@127.0.0.1:5432/test --events 100000 [--old-ref 077ecad]

Builds, in a schema of its own (dropped at the end), a migrated store with one endpoint
(every kind) on a threaded HTTP server in this process that answers 200, and N
``points_expired`` events. Then: the old ``deliver_due`` (loaded from ``--old-ref`` with
``git show``) for ``--old-runs`` runs of its 1,000; the current ``deliver_due`` until
nothing is due; the old one again for as many runs. Prints deliveries/s of each and
checks that the receiver got every event exactly once.

The old code imports the package as it was laid out then (before the restructuring of
issue 10 moved ``regulars.loyalty.models`` and friends), so it no longer runs beside the
current tree: ``--old-runs 0`` measures the current code alone; for the comparison, run
this script in a worktree of a revision whose layout the old code matches.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import types
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
from scratch import scratch_store
from sqlalchemy import Engine, text

from regulars.loyalty.webhooks import add_endpoint, deliver_due
from regulars.store.session import session_scope

EVENTS = (
    "INSERT INTO loyalty_events (event_key, kind, payload, created_at) "
    "SELECT 'points_expired:' || g, 'points_expired', "
    '\'{"program": "bench", "points": 12, "balance": 40}\', :t FROM generate_series(1, :n) g'
)


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver
    seen: ClassVar[Counter[str]] = Counter()
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.seen[json.loads(body)["id"]] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _old_module(ref: str) -> types.ModuleType:
    """The old ``webhooks`` module of ``ref``, run against the current package."""
    source = subprocess.run(
        ["git", "show", f"{ref}:src/regulars/loyalty/webhooks.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("old_webhooks")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    try:
        exec(compile(source, "old_webhooks.py", "exec"), module.__dict__)
    except ImportError as exc:
        sys.exit(
            f"the code of {ref} needs the package layout of its time ({exc}): run with "
            "--old-runs 0, or from a worktree of a revision with that layout"
        )
    return module


def _rate(label: str, delivered: int, seconds: float) -> None:
    rate = delivered / max(seconds, 1e-9)
    print(f"{label}: {delivered} deliveries in {seconds:.1f} s = {rate:,.0f}/s")


def _old_runs(
    old: types.ModuleType | None, engine: Engine, client: httpx.Client, runs: int
) -> None:
    if old is None:
        return
    began, delivered = time.perf_counter(), 0
    for _ in range(runs):
        delivered += old.deliver_due(engine, client).delivered
    _rate(f"before ({runs} runs of at most 1,000)", delivered, time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="PostgreSQL URL")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--old-ref", default="077ecad", help="git revision of the old code")
    parser.add_argument("--old-runs", type=int, default=3)
    args = parser.parse_args()
    old = _old_module(args.old_ref) if args.old_runs else None
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with scratch_store(args.url, "bench_hooks") as engine:
            with session_scope(engine) as session:
                add_endpoint(session, f"http://127.0.0.1:{server.server_port}/hook")
            with engine.begin() as conn:
                conn.execute(text(EVENTS), {"n": args.events, "t": datetime.now(UTC)})  # after it
                conn.execute(text("ANALYZE"))
            with httpx.Client() as client:
                _old_runs(old, engine, client, args.old_runs)
                began = time.perf_counter()
                report = deliver_due(engine, client, budget_s=3600)
                _rate(
                    "after (one run until none is due)",
                    report.delivered,
                    time.perf_counter() - began,
                )
                _old_runs(old, engine, client, args.old_runs)  # nothing left: the fan-out's cost
            seen = _Receiver.seen
            print(f"received {len(seen)} distinct events, {sum(seen.values())} POSTs")
            assert len(seen) == args.events
            assert set(seen.values()) == {1}
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
