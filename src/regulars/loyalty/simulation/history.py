"""The replayed history: the enrolled members' purchases in the window as sorted arrays
(:class:`History`), with the local days and UTC instants the rules need.

Days are counted since 1970-01-01 (:func:`day_number`); who joins and who redeems is drawn
with the control group's salted hash
(:func:`~regulars.loyalty.accounting.control.assignment_units`), so a rerun gives the same
members.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Literal

import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from regulars.analytics.transactions import purchases
from regulars.loyalty.accounting.control import assignment_units
from regulars.loyalty.simulation.proposal import Assumptions

Ints = npt.NDArray[np.int64]
Side = Literal["left", "right"]
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class History:
    """Members' purchases sorted by (customer, time), as arrays; days since 1970-01-01."""

    customer_ids: pa.Array  # one per member, in order
    order_ids: pa.Array
    ordered_at: pa.Array
    cust: Ints  # member index of each order
    day: Ints
    cents: Ints  # net amount
    at_us: Ints  # the order's UTC instant, µs since 1970 (its local time in the shop's zone)
    first: Ints  # index of each member's first order
    redeemer: npt.NDArray[np.bool_]  # per member
    customers_seen: int  # buyers in the window, members or not

    @property
    def n(self) -> int:
        return len(self.day)

    @property
    def weekday(self) -> Ints:
        """Local ISO weekday of each order (1970-01-01 was a Thursday, 4)."""
        return np.asarray((self.day + 3) % 7 + 1, dtype=np.int64)

    def search(self, target_day: Ints, side: Side) -> Ints:
        """Index in the sorted orders of ``(cust, target_day)`` for each order's member."""
        return self.search_for(self.cust, target_day, side)

    def search_for(self, cust: Ints, target_day: Ints, side: Side) -> Ints:
        """The same for members ``cust``; a target outside the days seen is clipped so that
        it can never reach into a neighbouring member's orders."""
        span = self._span
        clipped = np.clip(target_day, -1, span - 1)
        found = np.searchsorted(self._keys, cust * span + clipped, side=side)
        return np.asarray(found, dtype=np.int64)

    @cached_property
    def _span(self) -> int:
        return int(self.day.max(initial=0)) + 2

    @cached_property
    def _keys(self) -> Ints:
        """``member × span + day``: sorted, because the orders are sorted by member, time."""
        return self.cust * self._span + self.day


def _purchases_arrow(orders: ir.Table, start: date, end: date) -> pa.Table:
    bought = purchases(orders)
    bought = bought.filter(bought.order_date >= start, bought.order_date < end)
    return (
        bought.select(
            "customer_id",
            "order_id",
            "ordered_at",
            "order_date",
            cents=(bought.net_amount * 100).cast("int64"),
        )
        .order_by(["customer_id", "ordered_at", "order_id"])
        .to_pyarrow()
    )


def _member_draw(
    customer_ids: pa.Array, assumptions: Assumptions
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per customer: joins? redeems? Two independent words of one salted hash (the control
    group's recipe with the salt ``simulate:<program_code>``)."""
    units = assignment_units(customer_ids.to_pylist(), f"simulate:{assumptions.program_code}")
    return units[:, 0] < assumptions.enrolment_share, units[:, 1] < assumptions.redeemer_share


def utc_instants(local: pa.Array, timezone: str) -> Ints:
    """µs since 1970 (UTC) of naive local times in ``timezone``; a time a DST change makes
    ambiguous is its first occurrence, one it skips the first instant after the gap."""
    naive = local.cast(pa.timestamp("us"))
    if timezone != "UTC":
        naive = pc.assume_timezone(naive, timezone, ambiguous="earliest", nonexistent="latest")
    return np.asarray(naive.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def local_midnights_us(days: Ints, timezone: str) -> Ints:
    """UTC µs at which each local day (days since 1970) starts in ``timezone``."""
    return utc_instants(midnights(days), timezone)


def load_history(
    orders: ir.Table, start: date, end: date, assumptions: Assumptions, timezone: str = "UTC"
) -> History:
    """The enrolled customers' purchases in ``[start, end)``, sorted, as arrays
    (``ordered_at`` is local time in ``timezone``)."""
    table = _purchases_arrow(orders, start, end)
    ids = table.column("customer_id").combine_chunks()
    n = len(ids)
    new_customer = np.ones(n, dtype=bool)
    if n > 1:
        new_customer[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
    cust_all = np.cumsum(new_customer) - 1
    first_all = np.flatnonzero(new_customer)
    unique_ids = ids.take(pa.array(first_all))
    enrolled, redeemer = _member_draw(unique_ids, assumptions)
    keep = enrolled[cust_all]
    rows = np.flatnonzero(keep)
    member_index = np.cumsum(enrolled) - 1
    cust = member_index[cust_all[rows]].astype(np.int64)
    days = table.column("order_date").cast(pa.int32()).to_numpy(zero_copy_only=False)
    first = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]]) if len(cust) else cust
    take = pa.array(rows)
    ordered_at = table.column("ordered_at").take(take).combine_chunks()
    return History(
        customer_ids=unique_ids.filter(pa.array(enrolled)),
        order_ids=table.column("order_id").take(take).combine_chunks(),
        ordered_at=ordered_at,
        cust=cust,
        day=days[rows].astype(np.int64),
        cents=table.column("cents").to_numpy(zero_copy_only=False)[rows].astype(np.int64),
        at_us=utc_instants(ordered_at, timezone),
        first=first.astype(np.int64),
        redeemer=redeemer[enrolled],
        customers_seen=len(unique_ids),
    )


def midnights(days: Ints) -> pa.Array:
    return pa.array(days.astype(np.int32), pa.date32()).cast(pa.timestamp("us"))


def day_number(day: date) -> int:
    return (day - EPOCH).days
