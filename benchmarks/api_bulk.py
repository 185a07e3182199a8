"""Bulk ingestion against one request per item, through the HTTP API in process.

    python benchmarks/api_bulk.py [--orders 1000] [--url postgresql://…/db]

Writes N orders (2 lines each) once with N ``POST /v1/orders`` and once with
``POST /v1/bulk/orders`` in batches of 1,000, each on a fresh migrated store (a temporary
SQLite file, or a new schema of ``--url``), and prints orders per second for both.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from fastapi.testclient import TestClient
from scratch import scratch_store

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.api.schemas import MAX_BULK_ITEMS


def _orders(n: int) -> list[dict[str, Any]]:
    return [
        {
            "order_id": f"o-{i}",
            "customer_id": f"c-{i % (n // 3 + 1)}",
            "ordered_at": "2026-03-01T10:00:00Z",
            "amount": "25.00",
            "lines": [
                {"sku": "TEA-1", "quantity": 1, "unit_price": "15.00", "line_amount": "15.00"},
                {"sku": "MUG-2", "quantity": 1, "unit_price": "10.00", "line_amount": "10.00"},
            ],
        }
        for i in range(n)
    ]


def _run(url: str | None, orders: list[dict[str, Any]], bulk: bool) -> float:
    with scratch_store(url) as engine, TestClient(create_app(engine)) as client:
        _row, key = create_api_key(engine, "bench", ["orders:write"])
        headers = {"Authorization": f"Bearer {key}"}
        start = time.perf_counter()
        if bulk:
            for i in range(0, len(orders), MAX_BULK_ITEMS):
                batch = orders[i : i + MAX_BULK_ITEMS]
                response = client.post("/v1/bulk/orders", json=batch, headers=headers)
                assert response.json()["counts"]["created"] == len(batch)
        else:
            for order in orders:
                assert client.post("/v1/orders", json=order, headers=headers).status_code == 201
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--url", help="PostgreSQL URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    orders = _orders(args.orders)
    single = _run(args.url, orders, bulk=False)
    bulk = _run(args.url, orders, bulk=True)
    where = "PostgreSQL" if args.url else "SQLite"
    print(f"{where}, {args.orders} orders with 2 lines each")
    print(f"  one POST /v1/orders each: {single:7.2f} s  {args.orders / single:8.0f} orders/s")
    print(f"  POST /v1/bulk/orders:     {bulk:7.2f} s  {args.orders / bulk:8.0f} orders/s")
    print(f"  speed-up: {single / bulk:.1f}x")


if __name__ == "__main__":
    main()
