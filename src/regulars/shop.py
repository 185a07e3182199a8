"""The notebook entry point: a shop's orders loaded into the analytics engine.

>>> from regulars import Shop
>>> shop = Shop.from_files(["orders.csv"])
>>> shop = Shop.from_store("sqlite:///regulars.db")   # or the operational store's orders
>>> shop.rfm().to_pandas()            # any analysis as a DataFrame …
>>> shop.cohorts().filter(...)        # … or as an Ibis table to keep composing

Every method returns a lazy Ibis table (or a small dataclass of numbers); nothing is
computed until it is materialised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis

from regulars.analytics.cohorts import cohort_matrix
from regulars.analytics.customer_table import customer_table
from regulars.analytics.expr import MONEY
from regulars.analytics.goal import RetentionGoal, retention_goal, suggest_target
from regulars.analytics.kinds import customer_kinds
from regulars.analytics.kpis import PeriodKPIs, kpi_series, period_kpis, period_kpis_many
from regulars.analytics.lifecycle import lifecycle
from regulars.analytics.lifetime import LifetimeValue, lifetime_value
from regulars.analytics.rfm import rfm_scores
from regulars.analytics.stages import loyalty_stages
from regulars.clock import LocalDays, to_local_time
from regulars.config import Period, Settings
from regulars.data.importers import ColumnMapping, ImportResult, read_orders
from regulars.data.schema import required_columns
from regulars.engine import connect, table_from_arrow
from regulars.errors import RegularsError

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass
class Shop:
    """A shop's canonical orders on an Ibis backend, plus the settings to analyse them.

    ``local_days`` says how order times became local days (:mod:`regulars.clock`); None
    for a table that was already local when given (:meth:`from_table`).
    """

    orders: ibis.Table
    settings: Settings = field(default_factory=Settings)
    import_result: ImportResult | None = None
    con: Any = None
    local_days: LocalDays | None = None

    @classmethod
    def from_files(
        cls,
        paths: Sequence[str | Path],
        *,
        mapping: ColumnMapping | None = None,
        settings: Settings | None = None,
        con: Any = None,
    ) -> Shop:
        """Import order exports (CSV/Parquet/XLSX, Shopify, WooCommerce) into the engine."""
        settings = settings or Settings()
        result = read_orders(paths, mapping=mapping, timezone=settings.shop_timezone)
        return cls.from_import(result, settings=settings, con=con)

    @classmethod
    def from_import(
        cls, result: ImportResult, *, settings: Settings | None = None, con: Any = None
    ) -> Shop:
        """Load an import into the engine on the shop's local days: the settings' time
        zone when set, else the import's (a mapping's), else the written offsets."""
        settings = settings or Settings()
        con = con or connect()
        zone = settings.shop_timezone or result.timezone
        local = to_local_time(result.orders, zone, result.utc_offsets)
        days = LocalDays.of(zone, result.utc_offsets, result.orders.num_rows)
        return cls(table_from_arrow(con, local), settings, result, con, days)

    @classmethod
    def from_store(
        cls,
        store: Engine | str,
        *,
        settings: Settings | None = None,
        shop_id: str | None = None,
        con: Any = None,
    ) -> Shop:
        """Load the operational store's orders (a database URL or an engine) into the
        engine: all shops, or the one ``shop_id`` names
        (:func:`regulars.store.arrow.read_store_orders`)."""
        from regulars.store.arrow import read_store_orders
        from regulars.store.session import make_engine

        settings = settings or Settings()
        engine = make_engine(store) if isinstance(store, str) else store
        try:
            orders = read_store_orders(engine, shop_id=shop_id)
        finally:
            if isinstance(store, str):
                engine.dispose()
        con = con or connect()
        zone = settings.shop_timezone
        local = to_local_time(orders, zone)
        days = LocalDays.of(zone, None, orders.num_rows)
        return cls(table_from_arrow(con, local), settings, None, con, days)

    @classmethod
    def from_table(cls, orders: ibis.Table, *, settings: Settings | None = None) -> Shop:
        """Analyse a canonical orders table already in an engine (warehouse, PostgreSQL…).

        ``ordered_at`` must already be the shop's local time.
        """
        return cls(orders, settings or Settings(), con=ibis.get_backend(orders))

    @classmethod
    def from_engine_table(cls, con: Any, name: str, *, settings: Settings | None = None) -> Shop:
        """Analyse the table ``name`` (``SCHEMA.TABLE`` or ``CATALOG.SCHEMA.TABLE``) that
        the engine ``con`` already holds: the canonical order columns, ``ordered_at`` in the
        shop's local time. Amounts become exact money; a missing table or column, or a
        column of the wrong kind, is a :class:`RegularsError` naming it."""
        *where, table_name = name.split(".")
        database = None if not where else where[0] if len(where) == 1 else tuple(where)
        try:
            orders = con.table(table_name, database=database)
        except Exception as exc:  # each backend raises its own "not found"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RegularsError(f"--table {name}: no such table on the engine ({first})") from None
        return cls.from_table(_canonical_orders(orders, name), settings=settings)

    # ---- dates -------------------------------------------------------------------------

    def date_range(self) -> tuple[date, date]:
        """First and last order date (local)."""
        row = self.orders.aggregate(
            first=self.orders.ordered_at.min().date(), last=self.orders.ordered_at.max().date()
        ).to_pyarrow()
        first, last = row.column("first")[0].as_py(), row.column("last")[0].as_py()
        if first is None or last is None:
            raise ValueError("no orders to analyse")
        return first, last

    def default_as_of(self) -> date:
        """The day after the last order: analyses then see the whole history."""
        return self.date_range()[1] + timedelta(days=1)

    # ---- analyses ----------------------------------------------------------------------

    def kpis(self, start: date, end: date) -> PeriodKPIs:
        s = self.settings
        return period_kpis(
            self.orders,
            start,
            end,
            activity_window_days=s.activity_window_days,
            definition=s.retention_definition,
        )

    def kpis_many(self, bounds: Sequence[tuple[date, date]]) -> list[PeriodKPIs]:
        """:meth:`kpis` of several periods (distinct starts) in one query."""
        s = self.settings
        return period_kpis_many(
            self.orders,
            bounds,
            activity_window_days=s.activity_window_days,
            definition=s.retention_definition,
        )

    def lifetime_value(self, as_of: date | None = None) -> LifetimeValue:
        """Historic CLTV as of ``as_of`` (default: the whole history), with the settings'
        margin and acquisition cost (:mod:`regulars.analytics.lifetime`)."""
        s = self.settings
        return lifetime_value(
            self.orders,
            as_of=as_of or self.default_as_of(),
            activity_window_days=s.activity_window_days,
            margin=s.margin,
            acquisition_cost=s.acquisition_cost,
        )

    def kpi_series(self, start: date, end: date, period: Period | None = None) -> ibis.Table:
        return kpi_series(
            self.orders,
            period=period or self.settings.period,
            start=start,
            end=end,
            activity_window_days=self.settings.activity_window_days,
        )

    def cohorts(
        self,
        cohort: Literal["week", "month", "quarter"] = "month",
        mode: Literal["exact", "cumulative"] = "exact",
        as_of: date | None = None,
    ) -> ibis.Table:
        return cohort_matrix(self.orders, cohort=cohort, mode=mode, as_of=as_of)

    def lifecycle(self, start: date, end: date, period: Period | None = None) -> ibis.Table:
        return lifecycle(self.orders, period=period or self.settings.period, start=start, end=end)

    def rfm(self, as_of: date | None = None) -> ibis.Table:
        return rfm_scores(self.orders, as_of=as_of or self.default_as_of())

    def kinds(self, as_of: date | None = None) -> ibis.Table:
        return customer_kinds(self.orders, as_of=as_of or self.default_as_of())

    def stages(self, as_of: date | None = None, visitors: int | None = None) -> ibis.Table:
        return loyalty_stages(self.orders, as_of=as_of or self.default_as_of(), visitors=visitors)

    def customers(self, as_of: date | None = None) -> ibis.Table:
        return customer_table(
            self.orders,
            as_of=as_of or self.default_as_of(),
            activity_window_days=self.settings.activity_window_days,
        )

    def goal(self, period_kpis: PeriodKPIs, target_crr: float | None = None) -> RetentionGoal:
        target = target_crr if target_crr is not None else self.settings.target_crr
        if target is None:
            target = suggest_target(period_kpis)
        return retention_goal(period_kpis, target)


def _canonical_orders(orders: ibis.Table, name: str) -> ibis.Table:
    """An engine table checked against the canonical orders columns: ids as strings, money
    as exact decimals; a missing column or one of the wrong kind names the column."""
    missing = [c for c in required_columns("orders") if c not in orders.columns]
    if missing:
        raise RegularsError(f"--table {name}: missing column(s) {', '.join(missing)}")
    kinds = orders.schema()
    if not kinds["ordered_at"].is_timestamp():
        raise RegularsError(f"--table {name}: ordered_at is {kinds['ordered_at']}, not a timestamp")
    for money in ("amount", "refunded_amount"):
        if money in kinds and not kinds[money].is_numeric():
            raise RegularsError(f"--table {name}: {money} is {kinds[money]}, not a number")
    casts: dict[str, Any] = {
        "customer_id": orders.customer_id.cast(str),
        "order_id": orders.order_id.cast(str),
        "amount": orders.amount.cast(MONEY),
    }
    if "refunded_amount" in kinds:
        casts["refunded_amount"] = orders.refunded_amount.cast(MONEY)
    return orders.mutate(**casts)
