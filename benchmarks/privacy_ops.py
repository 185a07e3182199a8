"""Benchmark: export and erasure of one customer on the demo store with a long audit log.

    PYTHONPATH=src .venv/bin/python benchmarks/privacy_ops.py [--transactions 30000] \\
        [--audit-entries 100000]

Builds the demo store (SQLite), appends ``--audit-entries`` audit entries that mention
other customers, then times ``export_customer`` and ``erase_customer`` for the customer with
the most orders. The mention search scans the text columns of ``audit_log`` and ``jobs``, so
their size is what the time depends on; the customer tables are found by indexed keys.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from regulars.clock import utcnow
from regulars.demo_store import prepare_demo_store
from regulars.privacy import erase_customer, export_customer, server_secret
from regulars.store.session import make_engine, session_scope
from regulars.store.tables import AuditEntry, Order
from regulars.wiring import customer_plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=30_000)
    parser.add_argument("--audit-entries", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = prepare_demo_store(Path(folder) / "demo.db", transactions=args.transactions)
        engine = make_engine(store.url)
        now = utcnow()
        with engine.begin() as conn:
            conn.execute(
                insert(AuditEntry),
                [
                    {
                        "occurred_at": now,
                        "actor": "cli",
                        "action": "customer.update",
                        "target_type": "customer",
                        "target_id": f"C{i % 9999:06d}",
                        "details": {"email": {"old": f"user{i}@example.com", "new": None}},
                    }
                    for i in range(args.audit_entries)
                ],
            )
        with session_scope(engine) as session:
            customer_id, orders = session.execute(
                select(Order.customer_id, func.count())
                .group_by(Order.customer_id)
                .order_by(func.count().desc())
                .limit(1)
            ).one()
        secret = server_secret(store.url)
        print(f"customer {customer_id} with {orders} orders; {args.audit_entries:,} audit entries")
        print("| operation | seconds |")
        print("|---|---:|")
        for label, action in (("export", export_customer), ("erase", erase_customer)):
            started = time.perf_counter()
            with session_scope(engine) as session:
                action(session, customer_id, actor="benchmark", secret=secret, plan=customer_plan())
            print(f"| {label} | {time.perf_counter() - started:.2f} |")
        engine.dispose()


if __name__ == "__main__":
    main()
