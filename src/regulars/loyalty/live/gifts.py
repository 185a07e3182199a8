"""The daily worker job ``loyalty.gifts``: birthday and holiday gifts due today.

For every running ``gifts`` program and every customer it can concern (with a birthday
when the program has no holidays), :func:`~regulars.loyalty.program_types.gifts.due_gifts`
decides on the customer's local date (``customers.time_zone``, else the program's
``default_time_zone``) and :func:`~regulars.loyalty.live.apply.apply_outcomes` grants them:
a named gift becomes a reward (voucher), points a ledger credit in the customer's account
of the oldest running points program. The keys (``birthday:<customer>:<year>``,
``holiday:<code>:<customer>:<date>``) make a rerun, or a run on each day of a gift's
validity, grant each gift once. Runs daily at 01:00 UTC: a fixed UTC instant falls into exactly
one local date of every time zone, so every customer's day is seen by exactly one run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.config import Settings
from regulars.loyalty.catalogue import program_config
from regulars.loyalty.live.apply import apply_outcomes
from regulars.loyalty.program_cache import running_programs
from regulars.loyalty.program_types import GiftsConfig
from regulars.loyalty.program_types.gifts import GiftCustomer, due_gifts
from regulars.store.tables import Customer
from regulars.worker.registry import JobContext, registry
from regulars.worker.schedule import Daily

LOYALTY_GIFTS = "loyalty.gifts"


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


def _daily(settings: Settings) -> Daily:
    """01:00 UTC, not the shop's wall clock: runs exactly 24 h apart (a 25 h gap on a DST
    day could step over a customer's whole local day)."""
    return Daily(hour=1, timezone="UTC")


@registry.handler(LOYALTY_GIFTS, schedule=_daily, max_attempts=3)
def gifts_job(ctx: JobContext) -> dict[str, int]:
    """Birthday and holiday gifts due today, in one transaction with the job."""
    return grant_due_gifts(ctx.session, ctx.now)
