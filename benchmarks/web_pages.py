"""Server time of every web app page on a large PostgreSQL store (issue: ≤ 300 ms at the
median, ≤ 1 s at p99, at 1 M customers and 10 M orders).

    .venv/bin/python benchmarks/web_pages.py --url postgresql://postgres@127.0.0.1:5432/test \\
        --customers 1000000 --orders 10000000 --keep web_bench_1m

Builds the store inside PostgreSQL (``INSERT … SELECT`` over ``generate_series``: no row
passes through Python), in a schema of its own: ``--keep NAME`` keeps it for the next run
(and reuses it when it is already filled), without it a scratch schema is dropped at the
end. The shop: customers with name, email and phone; orders over three years, skewed so a
few customers buy often (a ``random()²`` draw of the customer), 3 % refunded or cancelled;
stored scores for every buyer (as the nightly refresh writes them); a points program with
40 % of customers as members, each with an earning; an owner login. Then, like the
nightly refresh, it computes the dashboard snapshot (timed, reported apart), starts
``regulars serve`` on the store as a user does, logs in and requests every page
``--requests`` times in a row after ``--warmup`` requests that are not counted. The time
is the client's wall time of a request over loopback (the page's server time plus a
fraction of a millisecond). Prints a markdown table: page, median, p99, max, bytes.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine, text

from regulars.analytics.kinds import OCCASIONAL, ONE_TIME, REGULAR
from regulars.analytics.rfm import SEGMENTS
from regulars.analytics.stages import CUSTOMER_STAGES
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine, session_scope
from regulars.web.users import create_user

sys.path.insert(0, str(Path(__file__).parent))
from scratch import scratch_schema

HOST = "127.0.0.1"
PASSWORD = "benchmark owner password"
SECRET = "a benchmark secret of more than thirty-two bytes"
END = "2026-11-30"
REGULARS = str(Path(sys.executable).with_name("regulars"))
"""The ``regulars`` command of this environment."""


def build_store(engine: Engine, customers: int, orders: int) -> None:
    """Fill the migrated, empty store in SQL (each step printed with its time)."""
    steps = {
        "customers": (
            "INSERT INTO customers (customer_id, name, email, phone, attributes, created_at, "
            "updated_at) SELECT 'c' || lpad(g::text, 8, '0'), 'Customer ' || g, "
            "'c' || g || '@example.com', '+1555' || lpad(g::text, 8, '0'), '{}', "
            "now(), now() FROM generate_series(1, :customers) g"
        ),
        "orders": (
            "INSERT INTO orders (shop_id, order_id, customer_id, ordered_at, amount, "
            "refunded_amount, status, created_at, updated_at) "
            "SELECT 'default', 'o' || g, "
            "'c' || lpad((1 + floor(:customers * random() ^ 2))::bigint::text, 8, '0'), "
            "CAST(:end AS timestamptz) - random() * interval '1095 days', "
            "round((5 + random() * 195)::numeric, 2), 0, "
            "CASE WHEN random() < 0.03 THEN 'cancelled' ELSE 'completed' END, now(), now() "
            "FROM generate_series(1, :orders) g"
        ),
        "scores": (
            "INSERT INTO customer_scores (customer_id, segment, kind, stage, active, p_alive, "
            "clv_12m, churn_risk, computed_at) "
            "SELECT b.customer_id, "
            "(CAST(:segments AS text[]))[1 + floor(random() * :n_segments)::int], "
            "(CAST(:kinds AS text[]))[1 + floor(random() * 3)::int], "
            "(CAST(:stages AS text[]))[1 + floor(random() * 4)::int], "
            "b.last_at > CAST(:end AS timestamptz) - interval '365 days', b.p, "
            "round((random() * 600)::numeric, 2), 1 - b.p, now() "
            "FROM (SELECT customer_id, max(ordered_at) AS last_at, random() AS p FROM orders "
            "GROUP BY customer_id) b"
        ),
        "program": (
            "INSERT INTO loyalty_programs (code, name, type, config, active, starts_at, "
            "shared_household, shortfall_policy, created_at) VALUES ('club', 'Club', "
            '\'points\', \'{"earn_per_unit": "1", "point_value": "0.01"}\', true, '
            "CAST(:end AS timestamptz) - interval '400 days', false, 'allow_negative', now())"
        ),
        "members": (
            "INSERT INTO loyalty_accounts (program_id, customer_id, state, balance, debt, "
            "enrolled_at) SELECT p.id, c.customer_id, 'active', 100, 0, "
            "CAST(:end AS timestamptz) - interval '300 days' FROM customers c, "
            "loyalty_programs p WHERE p.code = 'club' AND c.id % 5 < 2"
        ),
        "earnings": (
            "INSERT INTO loyalty_entries (account_id, kind, points, idempotency_key, actor, "
            "occurred_at, created_at) SELECT a.id, 'earn', 100, 'bench-' || a.id, 'bench', "
            "a.enrolled_at, now() FROM loyalty_accounts a"
        ),
    }
    params = {
        "customers": customers,
        "orders": orders,
        "end": END,
        "segments": list(SEGMENTS),
        "n_segments": len(SEGMENTS),
        "kinds": [ONE_TIME, OCCASIONAL, REGULAR],
        "stages": list(CUSTOMER_STAGES),
    }
    for name, sql in steps.items():
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text(sql), params)
        print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    with session_scope(engine) as session:
        create_user(session, "owner", PASSWORD, "owner", actor="benchmark")


def is_built(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM users)")).scalar())


def has_snapshot(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(text("SELECT EXISTS (SELECT 1 FROM dashboard_snapshots)")).scalar()
        )


def schema_of(url: str) -> str:
    found = re.search(r"search_path%3D(\w+)", url)
    assert found is not None
    return found.group(1)


@contextmanager
def store_url(url: str, keep: str | None) -> Iterator[str]:
    """The URL of the benchmark's schema: ``keep``'s (created when missing) or a scratch one."""
    if keep is None:
        with scratch_schema(url, "web_bench") as scratch:
            yield scratch
        return
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", keep):
        raise SystemExit("--keep takes a lower-case schema name")
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {keep}"))
    admin.dispose()
    separator = "&" if "?" in url else "?"
    yield f"{url}{separator}options=-csearch_path%3D{keep}"


SAMPLE_SCHEMA = "web_bench_sample"


def refresh_dashboard(url: str, schema: str) -> None:
    """Store a dashboard snapshot in the benchmark's store, as the nightly refresh does.

    A page reads one snapshot row whose size does not grow with the shop (fixed periods,
    12 months of trend and cohorts, the 5 × 5 RFM grid, one count per segment, kind and
    stage), so the page times do not depend on how many orders the snapshot summarised.
    The refresh itself (``regulars scores refresh``, timed here and printed) runs on a
    1 % sample of the store — every 100th customer and their orders, copied into a schema
    of its own — and its snapshot is copied over; the refresh at full scale is the scores
    refresh benchmark's subject (docs/benchmarks.md).
    """
    admin = make_engine(url.split("?", maxsplit=1)[0])
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SAMPLE_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SAMPLE_SCHEMA}"))
    sample_url = url.replace(schema, SAMPLE_SCHEMA)
    sample = make_engine(sample_url)
    upgrade(sample)
    with sample.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO customers SELECT * FROM {schema}.customers WHERE id % 100 = 0; "
                f"INSERT INTO orders SELECT o.* FROM {schema}.orders o "
                f"JOIN {schema}.customers c ON c.customer_id = o.customer_id "
                "WHERE c.id % 100 = 0"
            )
        )
    sample.dispose()
    command = [REGULARS, "scores", "refresh", "--url", sample_url, "--as-of", END, "--quiet"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the scores refresh failed: {done.stderr.strip()[-400:]}")
    print(f"  scores refresh of the 1 % sample: {time.perf_counter() - started:.1f} s")
    with admin.begin() as conn:
        conn.execute(text(f"DELETE FROM {schema}.dashboard_snapshots"))
        conn.execute(
            text(
                f"INSERT INTO {schema}.dashboard_snapshots "
                f"SELECT * FROM {SAMPLE_SCHEMA}.dashboard_snapshots"
            )
        )
        conn.execute(text(f"DROP SCHEMA {SAMPLE_SCHEMA} CASCADE"))
    admin.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(url: str) -> Iterator[str]:
    """``regulars serve`` on the store, as a user starts it; its base URL."""
    port = free_port()
    env = {**os.environ, "REGULARS_SECRET_KEY": SECRET}
    command = [REGULARS, "serve", "--url", url, "--port", str(port)]
    process = subprocess.Popen([*command, "--no-access-log"], env=env, stderr=subprocess.DEVNULL)
    base = f"http://{HOST}:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(30)


def logged_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    data = {"username": "owner", "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}
    answer = client.post("/login", data=data)
    assert answer.status_code == 303, answer.text
    return client


def pages(customers: int) -> dict[str, str]:
    """Every page, with the heaviest filters a user picks."""
    some = f"c{customers // 2:08d}"
    return {
        "dashboard, 30 days": "/",
        "dashboard, 12 months": "/?days=365",
        "segments": "/segments",
        "customers": "/customers",
        "customers, last page": f"/customers?page={customers // 25}",
        "customers, search by name": f"/customers?q=Customer+{customers // 3}",
        "customers, search by email": f"/customers?q=c{customers // 3}%40example.com",
        "customers, at risk": "/customers?risk=at_risk",
        "customers, segment": "/customers?segment=Champions",
        "customers, by CLV": "/customers?sort=-clv",
        "customer 360": f"/customers/{some}",
        "loyalty": "/loyalty",
        "loyalty program": "/loyalty/club",
        "settings, API keys": "/settings/keys",
        "settings, users": "/settings/users",
        "settings, shop": "/settings/shop",
        "settings, webhooks": "/settings/webhooks",
    }


def time_pages(client: httpx.Client, paths: dict[str, str], requests: int, warmup: int) -> None:
    print("\n| page | median (ms) | p99 (ms) | max (ms) | KiB |\n|---|---:|---:|---:|---:|")
    for name, path in paths.items():
        first = client.get(path)
        if first.status_code != 200:
            print(f"| {name} `{path}` | answered {first.status_code} | | | |")
            continue
        for _ in range(warmup):
            client.get(path)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        print(
            f"| {name} `{path}` | {statistics.median(times):.0f} | {p99:.0f} | "
            f"{times[-1]:.0f} | {len(first.content) / 1024:.0f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="A PostgreSQL database URL.")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--keep", help="Keep (and reuse) the store in this schema.")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    with store_url(args.url, args.keep) as url:
        engine = make_engine(url)
        upgrade(engine)
        if not is_built(engine):
            print(f"building {args.customers:,} customers, {args.orders:,} orders:")
            build_store(engine, args.customers, args.orders)
        if not has_snapshot(engine):
            refresh_dashboard(url, schema_of(url))
        engine.dispose()
        with served(url) as base:
            client = logged_in(base)
            time_pages(client, pages(args.customers), args.requests, args.warmup)
            client.close()


if __name__ == "__main__":
    main()
