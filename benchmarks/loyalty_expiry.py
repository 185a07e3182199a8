"""Benchmark: the nightly points expiry over N accounts on PostgreSQL.

    PYTHONPATH=src python benchmarks/loyalty_expiry.py \
        --url postgresql://postgres@127.0.0.1:5432/test --accounts 1000000 [--subscriber]

Builds, in a schema of its own (dropped at the end), a migrated store with N customers,
one points program, N accounts each holding one earn lot (with its earn entry) that is
past its expiry, plus N lots that are not; then times ``expire_due`` (set-based: three
statements whatever N, four with ``--subscriber``: a webhook endpoint for every kind, so
the expiry also writes one ``points_expired`` event per account) and a second run, which
must expire and send nothing.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from scratch import scratch_store
from sqlalchemy import Engine, text

from regulars.loyalty.points.expiry import expire_due
from regulars.loyalty.webhooks import add_endpoint
from regulars.store.migrate import upgrade
from regulars.store.session import session_scope

NOW = datetime(2026, 6, 1, tzinfo=UTC)

# Bulk set-up in plain SQL with generate_series: set-up speed is not what is measured.
SETUP = [
    "INSERT INTO customers (customer_id, attributes, created_at, updated_at) "
    "SELECT 'c' || g, '{}', :t, :t FROM generate_series(1, :n) g",
    "INSERT INTO loyalty_programs (code, name, type, config, active, starts_at, currency, "
    "shared_household, shortfall_policy, created_at) VALUES ('bench', 'Bench', 'points', "
    '\'{"earn_per_unit": "1", "point_value": "0.01"}\', true, :t, \'EUR\', false, '
    "'allow_negative', :t)",
    "INSERT INTO loyalty_accounts (program_id, customer_id, state, balance, debt, enrolled_at) "
    "SELECT 1, 'c' || g, 'active', 150, 0, :t FROM generate_series(1, :n) g",
    "INSERT INTO loyalty_lots (account_id, points, remaining, available_at, expires_at, "
    "created_at) SELECT g, 100, 100, :t, :due, :t FROM generate_series(1, :n) g",
    "INSERT INTO loyalty_lots (account_id, points, remaining, available_at, expires_at, "
    "created_at) SELECT g, 50, 50, :t, :later, :t FROM generate_series(1, :n) g",
    "INSERT INTO loyalty_entries (account_id, kind, points, lot_id, idempotency_key, actor, "
    "occurred_at, created_at) SELECT l.account_id, 'earn', l.points, l.id, 'seed:' || l.id, "
    "'bench', :t, :t FROM loyalty_lots l",
    "ANALYZE",
]


def build(engine: Engine, accounts: int) -> None:
    upgrade(engine)
    start = NOW - timedelta(days=400)
    params = {
        "n": accounts,
        "t": start,
        "due": NOW - timedelta(days=1),
        "later": NOW + timedelta(days=30),
    }
    with engine.begin() as conn:
        for statement in SETUP:
            conn.execute(text(statement), params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="PostgreSQL URL")
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument(
        "--subscriber", action="store_true", help="register a webhook endpoint (every kind)"
    )
    args = parser.parse_args()
    with scratch_store(args.url, "bench_expiry", migrate=False) as engine:
        began = time.perf_counter()
        build(engine, args.accounts)
        if args.subscriber:
            with session_scope(engine) as session:
                add_endpoint(session, "https://example.com/hooks/loyalty")
        print(
            f"set-up: {args.accounts:,} accounts, {2 * args.accounts:,} lots in "
            f"{time.perf_counter() - began:.1f} s; subscriber: {args.subscriber}"
        )
        began = time.perf_counter()
        expired = expire_due(engine, NOW)
        first = time.perf_counter() - began
        began = time.perf_counter()
        again = expire_due(engine, NOW)
        second = time.perf_counter() - began
        with engine.connect() as conn:
            wrong = conn.execute(
                text("SELECT count(*) FROM loyalty_accounts WHERE balance <> 50")
            ).scalar_one()
            events = conn.execute(
                text("SELECT count(*) FROM loyalty_events WHERE kind = 'points_expired'")
            ).scalar_one()
        print(
            f"expire_due: {expired:,} points over {args.accounts:,} accounts in {first:.1f} s; "
            f"second run {again} points in {second:.2f} s; accounts with a wrong balance: "
            f"{wrong}; points_expired events: {events:,}"
        )


if __name__ == "__main__":
    main()
