"""What one ``ingest`` call did, and its progress callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Progress = Callable[[str], None]


@dataclass
class IngestCounts:
    """What one ``ingest`` call did."""

    customers_inserted: int = 0
    customers_existing: int = 0
    products_inserted: int = 0
    products_existing: int = 0
    orders_inserted: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    lines_inserted: int = 0
    lines_deleted: int = 0

    def summary(self) -> str:
        return (
            f"Store: customers {self.customers_inserted:,} new, {self.customers_existing:,} "
            f"existing · products {self.products_inserted:,} new, {self.products_existing:,} "
            f"existing · orders {self.orders_inserted:,} new, {self.orders_updated:,} updated, "
            f"{self.orders_unchanged:,} unchanged · lines {self.lines_inserted:,} written, "
            f"{self.lines_deleted:,} replaced."
        )
