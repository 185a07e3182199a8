"""Bad rows the CSV orders export carries on purpose, for the importer to catch.

Real exports are never clean. Each defect row is *added* next to a genuine order (the
genuine row is untouched and comes first), so dropping every defect row gives back
exactly the clean orders. Kinds:

* ``unparseable_date``: ``ordered_at`` is not an ISO timestamp (day 30 of February, month
  13, a spreadsheet error, 'n/a'); the row has a fresh order id.
* ``empty_customer_id``: no customer id; fresh order id.
* ``non_numeric_amount``: 'N/A', '19.90O' (letter O for a zero), '19.99.1' or '--'; fresh id.
* ``exact_duplicate``: the genuine row again, byte for byte.
* ``conflicting_duplicate``: the genuine row's order id with a different amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

KINDS = (
    "unparseable_date",
    "empty_customer_id",
    "non_numeric_amount",
    "exact_duplicate",
    "conflicting_duplicate",
)
_BAD_DATES = ("2025-02-30T10:15:00+01:00", "2025-13-01T09:00:00+01:00", "#VALUE!", "n/a")
_BAD_AMOUNTS = ("N/A", "{amount}O", "{amount}.1", "--")
_ORDERS_PER_EXTRA_DEFECT = 25_000
_MAX_PER_KIND = 20


@dataclass(frozen=True)
class DefectPlan:
    """Which genuine rows (global order positions, sorted) get a defect row after them."""

    position: NDArray[np.int64]
    kind: NDArray[np.int64]  # index into KINDS

    def __len__(self) -> int:
        return len(self.position)

    def within(self, lo: int, hi: int) -> DefectPlan:
        keep = (self.position >= lo) & (self.position < hi)
        return DefectPlan(self.position[keep], self.kind[keep])


def plan_defects(rng: np.random.Generator, n_orders: int) -> DefectPlan:
    """One of each kind, plus one more of each per 25,000 orders (at most 20 per kind)."""
    per_kind = min(1 + n_orders // _ORDERS_PER_EXTRA_DEFECT, _MAX_PER_KIND)
    total = min(per_kind * len(KINDS), n_orders)
    position = np.sort(rng.choice(n_orders, size=total, replace=False)).astype(np.int64)
    kind = rng.permutation(np.resize(np.arange(len(KINDS)), total)).astype(np.int64)
    return DefectPlan(position, kind)


def defect_row(kind: int, genuine: dict[str, str], fresh_id: str, variant: int) -> dict[str, str]:
    """The bad row for one defect, built from the genuine row it follows."""
    row = dict(genuine)
    name = KINDS[kind]
    if name in ("unparseable_date", "empty_customer_id", "non_numeric_amount"):
        row["order_id"] = fresh_id
    if name == "unparseable_date":
        row["ordered_at"] = _BAD_DATES[variant % len(_BAD_DATES)]
    elif name == "empty_customer_id":
        row["customer_id"] = ""
    elif name == "non_numeric_amount":
        row["amount"] = _BAD_AMOUNTS[variant % len(_BAD_AMOUNTS)].format(amount=row["amount"])
    elif name == "conflicting_duplicate":
        row["amount"] = str(Decimal(row["amount"]) + Decimal("10.00"))
    return row


def needs_fresh_id(kind: int) -> bool:
    return KINDS[kind] in ("unparseable_date", "empty_customer_id", "non_numeric_amount")


def interleave(
    table: pa.Table, plan: DefectPlan, offset: int, fresh_ids: list[str]
) -> list[pa.Table]:
    """Pieces of ``table`` (orders ``offset…``) with each defect row after its genuine row.

    ``fresh_ids`` supplies the order ids of defect rows that need one, in plan order.
    """
    pieces: list[pa.Table] = []
    cursor = 0
    fresh = iter(fresh_ids)
    for variant, (position, kind) in enumerate(zip(plan.position, plan.kind, strict=True)):
        at = int(position) - offset + 1
        pieces.append(table.slice(cursor, at - cursor))
        genuine = table.slice(at - 1, 1).to_pylist()[0]
        new_id = next(fresh) if needs_fresh_id(int(kind)) else ""
        bad = defect_row(int(kind), genuine, new_id, variant + int(position))
        pieces.append(pa.Table.from_pylist([bad], schema=table.schema))
        cursor = at
    pieces.append(table.slice(cursor))
    return pieces
