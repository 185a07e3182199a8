"""Economics of a running points program on its live ledger: the simulator's functions
(:mod:`regulars.loyalty.economics.measures`) applied to the store's entries.

**Mapping** (one ``SELECT`` over ``loyalty_entries`` ⋈ ``loyalty_accounts`` ⟕
``loyalty_lots``) onto the entries contract of :mod:`regulars.loyalty.economics.measures`:

=====================  ==========================================================
contract column        live ledger
=====================  ==========================================================
``customer_id``        the account's customer, or its household (shared card)
``kind``               ``earn``, ``spend``, ``expire``, ``reverse_earn``, ``adjust`` as
                       they are; ``recredit`` and ``cancel_spend`` → ``reverse_spend``
                       (a return or a cancellation gives back what a redemption
                       spent); ``claw_back`` → ``reverse_earn`` (points of a
                       later lot taken back for an earlier return); ``import`` →
                       ``earn`` (points earned before, loaded with ``regulars loyalty
                       import``: lots like any other, so they count as issued when they
                       were earned and in breakage when they end)
``points``             ``points`` (signed; Σ = the accounts' balances)
``created_at``         ``occurred_at``, in the shop's time zone
``lot_id``             ``lot_id`` (an earn's own lot, the lot an expiry or reversal takes
                       from)
``expires_at``         on ``earn`` and ``import`` entries the lot's ``expires_at``, shop
                       time
=====================  ==========================================================

So outstanding points, liability, the monthly flow, breakage and reward cost are computed
exactly as they are for a simulated program, and a simulation can be compared with what
the program then did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, String, case, cast, func, literal, null, select

from regulars.analytics.validation import require_period
from regulars.clock import utcnow
from regulars.config import Settings
from regulars.loyalty.catalogue import find_program, points_config
from regulars.loyalty.economics.results import Breakage, FlowRow
from regulars.loyalty.errors import ProgramError
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry, LoyaltyLot
from regulars.store.session import session_scope

if TYPE_CHECKING:
    import pyarrow as pa

KIND_MAP = {
    "recredit": "reverse_spend",
    "cancel_spend": "reverse_spend",
    "claw_back": "reverse_earn",
    "import": "earn",
}
"""Live entry kinds renamed to the contract's; the others keep their name."""


def _schema() -> pa.Schema:
    """The entries contract's Arrow schema (built on use: see :func:`program_economics`)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("customer_id", pa.string()),
            ("kind", pa.string()),
            ("points", pa.int64()),
            ("created_at", pa.timestamp("us", tz="UTC")),
            ("lot_id", pa.string()),
            ("expires_at", pa.timestamp("us", tz="UTC")),
        ]
    )


def _entries_query(program_id: int) -> Any:
    kind = case(
        *((LoyaltyEntry.kind == live, literal(name)) for live, name in KIND_MAP.items()),
        else_=LoyaltyEntry.kind,
    )
    earned = LoyaltyEntry.kind.in_(("earn", "import"))
    expires = case((earned, LoyaltyLot.expires_at), else_=null())
    return (
        select(
            func.coalesce(LoyaltyAccount.customer_id, LoyaltyAccount.household_id),
            kind,
            LoyaltyEntry.points,
            LoyaltyEntry.occurred_at,
            cast(LoyaltyEntry.lot_id, String),
            expires,
        )
        .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyEntry.account_id)
        .outerjoin(LoyaltyLot, LoyaltyLot.id == LoyaltyEntry.lot_id)
        .where(LoyaltyAccount.program_id == program_id)
        .order_by(LoyaltyEntry.id)
    )


def _local(table: pa.Table, column: str, timezone: str) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = table.schema.get_field_index(column)
    utc = table.column(idx)
    return table.set_column(
        idx, column, pc.local_timestamp(utc.cast(pa.timestamp("us", tz=timezone)))
    )


def live_entries(engine: Engine, program_id: int, timezone: str) -> pa.Table:
    """The program's ledger in the entries contract (module docstring), as Arrow."""
    import pyarrow as pa

    schema = _schema()
    with engine.connect() as conn:
        rows = conn.execute(_entries_query(program_id)).all()
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    table = pa.Table.from_arrays(
        [pa.array(list(values), type=f.type) for values, f in zip(columns, schema, strict=True)],
        schema=schema,
    )
    for column in ("created_at", "expires_at"):
        table = _local(table, column, timezone)
    return table


@dataclass(frozen=True)
class LiveEconomics:
    """A live program's economics over ``[start, end)`` (shop days)."""

    program: str
    point_value: Decimal
    start: date
    end: date
    outstanding_points: int  # at the start of ``end``
    liability: Decimal  # outstanding_points × point_value
    reward_cost: Decimal
    breakage: Breakage
    flow: list[FlowRow]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def program_economics(
    engine: Engine,
    program_code: str,
    start: date | None = None,
    end: date | None = None,
    *,
    settings: Settings | None = None,
) -> LiveEconomics:
    """Liability, monthly points flow, breakage and reward cost of ``program_code`` on the
    live ledger. ``start`` defaults to the first day of the program's first month, ``end``
    to tomorrow (shop time), so the outstanding points are today's."""
    # Here, not at the top: the API imports this module, and PyArrow, Ibis and the engine
    # cost ~0.8–1.7 s at every server and worker start; only this report needs them.
    from regulars.clock import local_day
    from regulars.engine import connect, table_from_arrow
    from regulars.loyalty.economics.measures import (
        breakage,
        outstanding_points,
        points_flow,
        reward_cost,
    )

    settings = settings or Settings()
    with session_scope(engine) as session:
        program = find_program(session, program_code)
        if program is None:
            raise ProgramError(f"no loyalty program '{program_code}'")
        point_value = points_config(program).point_value
        launched = local_day(program.starts_at, settings.timezone)
        program_id = program.id
    start = start or launched.replace(day=1)
    end = end or local_day(utcnow(), settings.timezone) + timedelta(days=1)
    require_period(start, end)
    con = connect()
    try:
        entries = table_from_arrow(con, live_entries(engine, program_id, settings.timezone))
        outstanding = outstanding_points(entries, end)
        return LiveEconomics(
            program=program_code,
            point_value=point_value,
            start=start,
            end=end,
            outstanding_points=outstanding,
            liability=outstanding * point_value,
            reward_cost=reward_cost(entries, start, end, point_value),
            breakage=breakage(entries, start, end),
            flow=points_flow(entries, start, end, point_value),
        )
    finally:
        con.disconnect()
