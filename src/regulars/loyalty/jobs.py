"""The loyalty engine's background jobs, all of them (:data:`JOBS`, contributed to the
composition root by :mod:`regulars.loyalty.contribution`; ``regulars worker`` runs them).

* ``loyalty.expire``: every day at :data:`EXPIRE_HOUR`:00 in the shop's time zone, expire
  the due lots (:func:`~regulars.loyalty.points.expiry.expire_due`; set-based, a rerun finds
  nothing left to expire) and, while an endpoint subscribes, record a ``points_expired``
  event per account that lost points.
* ``loyalty.expiry_warnings``: every day at :data:`WARN_HOUR`:00 shop time, after the
  expiry, one ``points_expiring`` event per account with lots expiring within
  :data:`WARN_DAYS` (:func:`~regulars.loyalty.points.expiry.emit_expiry_warnings`; once per
  account and day, in the job's transaction).
* ``loyalty.webhooks``: every :data:`DELIVERY_MINUTES` minutes on a UTC grid
  (:class:`~regulars.worker.schedule.Every`: no daylight saving time), POST the due
  webhook deliveries (:func:`~regulars.loyalty.webhooks.deliver_due`: batches of
  concurrent POSTs until none is due or :data:`DELIVERY_BUDGET_S` has passed, so a night's
  million ``points_expired`` events drain run after run; the worker's heartbeat renews the
  job's lease meanwhile; never re-sent after a 2xx).
* ``loyalty.gifts``: every day at 01:00 **UTC**, the birthday and holiday gifts due on each
  customer's local date (:func:`~regulars.loyalty.program_store.gifts.grant_due_gifts`).
* ``loyalty.memberships``, ``loyalty.referrals`` and ``loyalty.tiers``: every day at 01:00
  shop time, renew the paid memberships, reward the referrals that are due and store the
  tier downgrades whose window and grace ended (without waiting for the customer's next
  order).
"""

from __future__ import annotations

import httpx

from regulars.config import Settings
from regulars.loyalty.points.expiry import emit_expiry_warnings, expire_due
from regulars.loyalty.program_store.gifts import grant_due_gifts
from regulars.loyalty.program_store.membership import renew_all
from regulars.loyalty.program_store.referrals import evaluate_all
from regulars.loyalty.program_store.tier_clubs import evaluate_all_clubs
from regulars.loyalty.webhooks import TIMEOUT_S, deliver_due
from regulars.worker.registry import JobContext, Registration
from regulars.worker.schedule import Daily, Every

EXPIRE = "loyalty.expire"
EXPIRY_WARNINGS = "loyalty.expiry_warnings"
WEBHOOKS = "loyalty.webhooks"
LOYALTY_GIFTS = "loyalty.gifts"
MEMBERSHIPS_RENEW = "loyalty.memberships"
REFERRALS_EVALUATE = "loyalty.referrals"
TIERS_EVALUATE = "loyalty.tiers"

EXPIRE_HOUR = 2
WARN_HOUR = 4
WARN_DAYS = 30
DELIVERY_MINUTES = 5
DELIVERY_BUDGET_S = DELIVERY_MINUTES * 60 - 60.0
"""A run stops starting batches a minute before the next one is due."""


def expire_schedule(settings: Settings) -> Daily:
    return Daily(hour=EXPIRE_HOUR, timezone=settings.timezone)


def warning_schedule(settings: Settings) -> Daily:
    return Daily(hour=WARN_HOUR, timezone=settings.timezone)


def delivery_schedule(_settings: Settings) -> Every:
    return Every(minutes=DELIVERY_MINUTES)


def expire_job(ctx: JobContext) -> dict[str, int]:
    """Expire the lots due at the job's run time; returns the points expired."""
    return {"points_expired": expire_due(ctx.engine, ctx.now)}


def expiry_warnings_job(ctx: JobContext) -> dict[str, int]:
    """Queue the ``points_expiring`` events of the next :data:`WARN_DAYS` days."""
    return {"lots_expiring": emit_expiry_warnings(ctx.session, ctx.now, WARN_DAYS)}


def webhooks_job(ctx: JobContext) -> dict[str, int]:
    """POST the due deliveries; failed ones wait for their backoff, not for this job."""
    with httpx.Client(timeout=TIMEOUT_S) as client:
        report = deliver_due(ctx.engine, client, now=ctx.now, budget_s=DELIVERY_BUDGET_S)
    return {"delivered": report.delivered, "retrying": report.retrying, "failed": report.failed}


def gifts_schedule(_settings: Settings) -> Daily:
    """01:00 UTC, not the shop's wall clock: runs exactly 24 h apart (a 25 h gap on a DST
    day could step over a customer's whole local day)."""
    return Daily(hour=1, timezone="UTC")


def gifts_job(ctx: JobContext) -> dict[str, int]:
    """Birthday and holiday gifts due today, in one transaction with the job."""
    return grant_due_gifts(ctx.session, ctx.now)


def early_morning(settings: Settings) -> Daily:
    """Every day at 01:00 in the shop's time zone."""
    return Daily(hour=1, timezone=settings.timezone)


def renew_memberships(ctx: JobContext) -> dict[str, int]:
    """Charge every membership period that has started and end the memberships cancelled at
    period end (:func:`regulars.loyalty.program_store.membership.renew_all`); idempotent:
    each period is charged under its own key."""
    return {"memberships_running": renew_all(ctx.session, ctx.now)}


def evaluate_referrals(ctx: JobContext) -> dict[str, int]:
    """Reward the referrals whose first order is past its return window
    (:func:`regulars.loyalty.program_store.referrals.evaluate_all`); idempotent by the
    reward keys."""
    return evaluate_all(ctx.session, ctx.now)


def evaluate_tiers(ctx: JobContext) -> dict[str, int]:
    """Evaluate every held tier on to now and store downgrades
    (:func:`regulars.loyalty.program_store.tier_clubs.evaluate_all_clubs`); idempotent by the
    tier change keys."""
    return evaluate_all_clubs(ctx.session, ctx.now)


JOBS = (
    Registration(EXPIRE, expire_job, schedule=expire_schedule, max_attempts=3),
    Registration(EXPIRY_WARNINGS, expiry_warnings_job, schedule=warning_schedule, max_attempts=3),
    Registration(WEBHOOKS, webhooks_job, schedule=delivery_schedule, max_attempts=3),
    Registration(LOYALTY_GIFTS, gifts_job, schedule=gifts_schedule, max_attempts=3),
    Registration(MEMBERSHIPS_RENEW, renew_memberships, schedule=early_morning),
    Registration(REFERRALS_EVALUATE, evaluate_referrals, schedule=early_morning),
    Registration(TIERS_EVALUATE, evaluate_tiers, schedule=early_morning),
)
"""Every loyalty job with its schedule and attempts."""
