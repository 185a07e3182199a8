"""Birthday and holiday gifts due today, granted by the daily worker job ``loyalty.gifts``
(:mod:`regulars.loyalty.jobs`).

For every running ``gifts`` program and every customer it can concern (with a birthday
when the program has no holidays), :func:`~regulars.loyalty.program_types.gifts.due_gifts`
decides on the customer's local date (``customers.time_zone``, else the program's
``default_time_zone``) and :func:`~regulars.loyalty.program_store.apply.apply_outcomes` grants them:
a named gift becomes a reward (voucher), points a ledger credit in the customer's account
of the oldest running points program. The keys (``birthday:<customer>:<year>``,
``holiday:<code>:<customer>:<date>``) make a rerun, or a run on each day of a gift's
validity, grant each gift once. The job runs daily at 01:00 UTC: a fixed UTC instant falls
into exactly one local date of every time zone, so every customer's day is seen by exactly
one run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.loyalty.catalogue import program_config
from regulars.loyalty.program_cache import running_programs
from regulars.loyalty.program_store.apply import apply_outcomes
from regulars.loyalty.program_types import GiftsConfig
from regulars.loyalty.program_types.gifts import GiftCustomer, due_gifts
from regulars.store.tables import Customer


def _customers(session: Session, config: GiftsConfig) -> list[GiftCustomer]:
    query = select(Customer.customer_id, Customer.birthday, Customer.time_zone)
    if not config.holidays:
        query = query.where(Customer.birthday.is_not(None))
    rows = session.execute(query.order_by(Customer.customer_id)).all()
    return [GiftCustomer(cid, birthday, tz) for cid, birthday, tz in rows]


def grant_due_gifts(session: Session, now: datetime) -> dict[str, int]:
    """Grant every gift due at ``now``; returns how many rewards and points were new."""
    granted = {"rewards": 0, "points": 0}
    for program in running_programs(session, ("gifts",), now):
        config = program_config(program)
        assert isinstance(config, GiftsConfig)  # running_programs filtered the type
        for customer in _customers(session, config):
            due = due_gifts(config, customer, now)
            if due:
                applied = apply_outcomes(session, program, customer.customer_id, due, now=now)
                granted["rewards"] += applied.rewards
                granted["points"] += applied.earned
    return granted
