"""Time: now in UTC, the shop's time zone, its calendar days and wall clock.

The store keeps every moment as an aware UTC datetime; "today", "this month", a birthday
or a nightly job are the shop's (or the customer's) local calendar. These are the few
conversions between the two that the rest of the code shares.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from regulars.errors import RegularsError

if TYPE_CHECKING:
    import pyarrow as pa


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a clear error for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RegularsError(
            f"unknown time zone '{name}'; use an IANA name like Europe/Berlin"
        ) from None


def local_day(moment: datetime, timezone: str) -> date:
    """The calendar day in ``timezone`` at the aware ``moment``."""
    return moment.astimezone(zone(timezone)).date()


def to_local_time(orders: pa.Table, timezone: str) -> pa.Table:
    """Replace UTC ``ordered_at`` by the shop's local wall-clock time (naive).

    Periods, weekdays and "same day" are the shop's, not UTC's: an order at 23:30 in
    Berlin belongs to that Berlin day.
    """
    # Imported here: the API uses this module and must start without PyArrow.
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = orders.schema.get_field_index("ordered_at")
    utc = orders.column(idx)
    local = pc.local_timestamp(utc.cast(pa.timestamp("us", tz=timezone)))
    return orders.set_column(idx, "ordered_at", local)
