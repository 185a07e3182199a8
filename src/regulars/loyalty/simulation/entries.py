"""The ledger entries the live program would hold (earn, spend, expire), in the entry
contract of :mod:`regulars.loyalty.economics.measures`, so that the simulation's flows,
liability and breakage are computed by the functions that read the live ledger.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from regulars.loyalty.simulation.history import History, midnights
from regulars.loyalty.simulation.lots import Lots

ENTRY_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("points", pa.int64(), nullable=False),
        pa.field("created_at", pa.timestamp("us"), nullable=False),
        pa.field("lot_id", pa.string()),
        pa.field("expires_at", pa.timestamp("us")),
    ]
)


def ledger_entries(history: History, lots: Lots) -> pa.Table:
    """The earn, spend and expire entries the live ledger would hold (entry contract of
    :mod:`regulars.loyalty.economics.measures`); ``lot_id`` is the earning order's id."""
    created = history.ordered_at.cast(pa.timestamp("us"))
    customers = history.customer_ids.take(pa.array(history.cust))
    parts = []
    earn = np.flatnonzero(lots.points > 0)
    spend = np.flatnonzero(lots.redeemed > 0)
    expire = np.flatnonzero(lots.expired > 0)
    for kind, rows, points, at in (
        ("earn", earn, lots.points, None),
        ("spend", spend, -lots.redeemed, None),
        ("expire", expire, -lots.expired, lots.expires_day),
    ):
        take = pa.array(rows, pa.int64())
        expires = (
            midnights(lots.expires_day[rows])
            if kind == "earn" and lots.expires_day is not None
            else pa.nulls(len(rows), pa.timestamp("us"))
        )
        parts.append(
            pa.table(
                {
                    "customer_id": customers.take(take),
                    "kind": pa.array([kind] * len(rows), pa.string()),
                    "points": pa.array(points[rows], pa.int64()),
                    "created_at": created.take(take) if at is None else midnights(at[rows]),
                    "lot_id": history.order_ids.take(take)
                    if kind != "spend"
                    else pa.nulls(len(rows), pa.string()),
                    "expires_at": expires,
                },
                schema=ENTRY_SCHEMA,
            )
        )
    return pa.concat_tables(parts)
