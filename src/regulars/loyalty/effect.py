"""A live program's effect, measured against its control group on the store's orders.

**Who is compared.** The population is the customers with a purchase before ``start``
(so every purchase in ``[start, end)`` is a repeat purchase, as
:func:`~regulars.loyalty.holdout.measure_effect` assumes). Each is in the ``control`` group
when the program holds them out (:func:`~regulars.loyalty.holdout.control_mask` at the
program's ``control_share``) and they have no account, else in the ``member`` group —
whether or not they have enrolled yet: an *intent-to-treat* comparison by assignment, so
customers who chose to come back are not compared with a control group that includes those
who did not. The outcomes and intervals are :func:`~regulars.loyalty.holdout.measure_effect`'s
(incremental repeat rate with Newcombe's interval, revenue per customer with Welch's).
"""

from __future__ import annotations

from datetime import date

import ibis
from sqlalchemy import Engine, select

from regulars.analytics.transactions import purchases
from regulars.analytics.validation import require_period
from regulars.config import Settings
from regulars.errors import RegularsError
from regulars.loyalty.accounts import ProgramError, control_share, find_program
from regulars.loyalty.holdout import CONTROL, MEMBER, ProgramEffect, control_mask, measure_effect
from regulars.loyalty.models import LoyaltyAccount
from regulars.shop import Shop
from regulars.store.session import session_scope


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
        share = control_share(program)
        if share == 0:
            raise RegularsError(
                f"program '{program_code}' has no control group (config control_share is 0)"
            )
        enrolled = set(
            session.scalars(
                select(LoyaltyAccount.customer_id).where(
                    LoyaltyAccount.program_id == program.id,
                    LoyaltyAccount.customer_id.is_not(None),
                )
            )
        )
    shop = Shop.from_store(engine, settings=settings)
    try:
        bought = purchases(shop.orders)
        before = bought.filter(bought.order_date < start).select("customer_id").distinct()
        customers = sorted(before.to_pyarrow().column("customer_id").to_pylist())
        held = control_mask(customers, program_code, share).tolist() if customers else []
        groups = ibis.memtable(
            {
                "customer_id": customers,
                "group": [
                    CONTROL if out and c not in enrolled else MEMBER
                    for c, out in zip(customers, held, strict=True)
                ],
            },
            schema={"customer_id": "string", "group": "string"},
        )
        return measure_effect(shop.orders, groups, start, end, confidence)
    finally:
        shop.con.disconnect()
