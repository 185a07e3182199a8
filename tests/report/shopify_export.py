"""A realistic Shopify orders export made from the demo shop, for a New York store.

The demo shop's day (its wall clock in Berlin: lunch bump, evening peak at 20 h) is moved
to New York, so evening orders fall after midnight UTC, as a US shop's do. Shopify writes
each time with the shop's offset (``2024-03-01 22:15:00 -0500`` in winter, ``-0400`` in
summer), keys customers by email (else phone), and marks refunds and voided orders in
``Financial Status``. One line item per order is enough for the analyses.
"""

from __future__ import annotations

import csv
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq

from regulars.data.demo import generate_demo

ZONE = ZoneInfo("America/New_York")
DEMO_ZONE = ZoneInfo("Europe/Berlin")
HEADER = [
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Currency",
    "Total",
    "Refunded Amount",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Billing Name",
    "Phone",
    "Source",
]
STATUS = {
    "completed": "paid",
    "refunded": "refunded",
    "partially_refunded": "partially_refunded",
    "cancelled": "voided",
}


def write_shopify_export(folder: Path, n_transactions: int = 3000, seed: int = 5) -> Path:
    """Write ``orders_export.csv`` in ``folder`` and return its path."""
    demo = generate_demo(folder / "demo", n_transactions=n_transactions, seed=seed, fmt="parquet")
    people = {r["customer_id"]: r for r in pq.read_table(demo.customers).to_pylist()}
    path = folder / "orders_export.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for number, order in enumerate(pq.read_table(demo.orders).to_pylist(), start=1001):
            if order["amount"] < 0:  # a till return document: Shopify has none
                continue
            who = people[order["customer_id"]]
            wall = order["ordered_at"].replace(tzinfo=UTC).astimezone(DEMO_ZONE)
            local = wall.replace(tzinfo=ZONE)
            stamp = local.strftime("%Y-%m-%d %H:%M:%S %z")
            writer.writerow(
                [
                    f"#{number}",
                    who["email"] or "",
                    STATUS[order["status"]],
                    "" if order["status"] == "cancelled" else stamp,
                    "USD",
                    f"{order['amount']:.2f}",
                    f"{order['refunded_amount']:.2f}",
                    stamp,
                    1,
                    "Basket",
                    f"{order['amount']:.2f}",
                    who["name"] or "",
                    "" if who["email"] else who["phone"] or "",
                    order["channel"],
                ]
            )
    return path
