"""Time: now in UTC, the shop's time zone, its calendar days and wall clock.

The store keeps every moment as an aware UTC datetime; "today", "this month", a birthday
or a nightly job are the shop's (or the customer's) local calendar. These are the few
conversions between the two that the rest of the code shares.

**Which local day an order falls on** (:func:`to_local_time`, described by
:class:`LocalDays`): with the shop's time zone given, every order is read on its clock.
Without one, an order whose time was written with a UTC offset (Shopify's
``2024-03-01 22:15:00 -0500``) is read on the writer's wall clock — the shop's own day,
22:15 on 1 March, not 03:15 UTC on 2 March — and an order written without one is read
as UTC, which the report then says it assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def to_local_time(
    orders: pa.Table, timezone: str | None, offsets: pa.Array | None = None
) -> pa.Table:
    """Replace UTC ``ordered_at`` by the shop's local wall-clock time (naive).

    Periods, weekdays and "same day" are the shop's, not UTC's: an order at 23:30 in
    Berlin belongs to that Berlin day. ``timezone`` is the shop's, when given; without
    it, ``offsets`` (minutes east of UTC per order, null where unknown) give each order
    the wall clock it was written with, and the others stay UTC (module docstring).
    """
    # Imported here: the API uses this module and must start without PyArrow.
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = orders.schema.get_field_index("ordered_at")
    utc = orders.column(idx)
    if timezone is not None:
        local = pc.local_timestamp(utc.cast(pa.timestamp("us", tz=timezone)))
    else:
        local = utc.cast(pa.timestamp("us"))
        if offsets is not None:
            minutes = pc.cast(pc.fill_null(offsets, 0), pa.int64())
            shift = pc.cast(pc.multiply(minutes, 60_000_000), pa.duration("us"))
            local = pc.add(local, shift)
    return orders.set_column(idx, "ordered_at", local)


@dataclass(frozen=True)
class LocalDays:
    """How the orders' times were turned into the shop's local days, for people.

    ``timezone``: the shop's time zone, when one was given (then every order is on its
    clock); otherwise ``offsets`` are the distinct UTC offsets (minutes east) the
    ``orders_with_offset`` orders were written with, and ``orders_without_offset`` were
    read as UTC.
    """

    timezone: str | None
    offsets: tuple[int, ...] = ()
    orders_with_offset: int = 0
    orders_without_offset: int = 0

    @classmethod
    def of(cls, timezone: str | None, offsets: pa.Array | None, n_orders: int) -> LocalDays:
        """The description of :func:`to_local_time` with the same arguments."""
        if timezone is not None:
            return cls(timezone)
        if offsets is None:
            return cls(None, (), 0, n_orders)
        import pyarrow.compute as pc

        known = offsets.drop_null()
        distinct = tuple(sorted(int(v) for v in pc.unique(known).to_pylist()))
        return cls(None, distinct, len(known), n_orders - len(known))

    @property
    def assumed_utc(self) -> bool:
        """No time zone was given and some orders had no offset: they are UTC days."""
        return self.timezone is None and self.orders_without_offset > 0

    def offset_labels(self) -> list[str]:
        """The offsets as people write them: ``UTC−05:00``, ``UTC+01:00``."""
        return [format_offset(minutes) for minutes in self.offsets]


def format_offset(minutes: int) -> str:
    """``UTC+01:00`` for 60, ``UTC−05:30`` for −330, ``UTC`` for 0."""
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "\u2212"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"
