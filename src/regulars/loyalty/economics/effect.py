"""A live program's effect, measured against its control group on the store's orders.

**Who is compared.** The population is the customers with a purchase before ``start`` (so
every purchase in ``[start, end)`` is a repeat purchase, as
:func:`~regulars.loyalty.economics.holdout.measure_effect` assumes). Each is in the
``control`` group when the program holds them out
(:func:`~regulars.loyalty.accounting.control.control_mask` at the program's
``control_share``) and they have no account, else in the ``member`` group — whether or not
they have enrolled yet: an *intent-to-treat* comparison by assignment, so customers who
chose to come back are not compared with a control group that includes those who did not.
The outcomes and intervals are :func:`~regulars.loyalty.economics.holdout.measure_effect`'s
(incremental repeat rate with Newcombe's interval, revenue per customer with Welch's).

**Unit.** The comparison is made on what was drawn
(:func:`~regulars.loyalty.accounting.control.control_unit`): in a ``shared_household``
program a household (``household:<id>``) for its customers — all of them in one group, the
household in ``control`` when it is drawn and neither it nor any of its customers has an
account — and the customer otherwise. Counts, repeat rate and revenue are then per unit (a
household bought when one of its customers in the population did, its revenue is theirs
summed).
"""

from __future__ import annotations

from datetime import date

import ibis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.analytics.transactions import purchases
from regulars.analytics.validation import require_period
from regulars.clock import local_day
from regulars.config import Settings
from regulars.errors import RegularsError
from regulars.loyalty.accounting.control import control_mask, control_share, unit_of
from regulars.loyalty.catalogue import find_program
from regulars.loyalty.economics.holdout import CONTROL, MEMBER, ProgramEffect, measure_effect
from regulars.loyalty.errors import ProgramError
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyProgram
from regulars.shop import Shop
from regulars.store.session import session_scope
from regulars.store.tables import Customer


def program_effect(
    engine: Engine,
    program_code: str,
    start: date,
    end: date,
    *,
    settings: Settings | None = None,
    confidence: float = 0.95,
) -> ProgramEffect:
    """Members against the control group of ``program_code`` over ``[start, end)`` (shop
    days; see the module docstring). :class:`RegularsError` for an unknown program, one
    without a control group, or a group without customers."""
    require_period(start, end)
    with session_scope(engine) as session:
        program = find_program(session, program_code)
        if program is None:
            raise ProgramError(f"no loyalty program '{program_code}'")
        launched = local_day(program.starts_at, (settings or Settings()).timezone)
        if start < launched:
            raise RegularsError(
                f"the period starts on {start.isoformat()}, before program '{program_code}' "
                f"launched on {launched.isoformat()}: nothing it did can be measured there; "
                f"choose a start on or after {launched.isoformat()}"
            )
        share = control_share(program)
        if share == 0:
            raise RegularsError(
                f"program '{program_code}' has no control group (config control_share is 0)"
            )
        units_of = _units(session, program)
        enrolled = _enrolled_units(session, program, units_of)
    shop = Shop.from_store(engine, settings=settings)
    try:
        bought = purchases(shop.orders)
        before = bought.filter(bought.order_date < start).select("customer_id").distinct()
        customers = sorted(before.to_pyarrow().column("customer_id").to_pylist())
        units = [units_of.get(c, c) for c in customers]
        drawn = sorted(set(units))
        held = control_mask(drawn, program_code, share).tolist() if drawn else []
        group_of = {
            u: CONTROL if out and u not in enrolled else MEMBER
            for u, out in zip(drawn, held, strict=True)
        }
        groups = ibis.memtable(
            {"customer_id": customers, "unit": units, "group": [group_of[u] for u in units]},
            schema={"customer_id": "string", "unit": "string", "group": "string"},
        )
        return measure_effect(shop.orders, groups, start, end, confidence)
    finally:
        shop.con.disconnect()


def _units(session: Session, program: LoyaltyProgram) -> dict[str, str]:
    """``{customer_id: unit}`` for the customers whose unit is not their own id: those of
    a household in a ``shared_household`` program (as :func:`control_unit` draws them)."""
    if not program.shared_household:
        return {}
    rows = session.execute(
        select(Customer.customer_id, Customer.household_id).where(
            Customer.household_id.is_not(None)
        )
    )
    units = {customer: unit_of(True, customer, household) for customer, household in rows}
    return {customer: unit for customer, unit in units.items() if unit != customer}


def _enrolled_units(
    session: Session, program: LoyaltyProgram, units_of: dict[str, str]
) -> set[str]:
    """Units with an account in the program: a customer's own, or a household's."""
    rows = session.execute(
        select(LoyaltyAccount.customer_id, LoyaltyAccount.household_id).where(
            LoyaltyAccount.program_id == program.id
        )
    )
    return {
        units_of.get(customer, customer) if customer is not None else unit_of(True, "", household)
        for customer, household in rows
    }
