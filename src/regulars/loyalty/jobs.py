"""The loyalty engine's background jobs (listed in
:data:`regulars.worker.registry.HANDLER_MODULES`, run by ``regulars worker``).

* ``loyalty.expire``: every day at :data:`EXPIRE_HOUR`:00 in the shop's time zone, expire
  the due lots (:func:`~regulars.loyalty.service.expire_due`; set-based, a rerun finds
  nothing left to expire) and, while an endpoint subscribes, record a ``points_expired``
  event per account that lost points.
* ``loyalty.expiry_warnings``: every day at :data:`WARN_HOUR`:00 shop time, after the
  expiry, a ``points_expiring`` event for every lot expiring within :data:`WARN_DAYS`
  (:func:`~regulars.loyalty.service.emit_expiry_warnings`; once per lot, in the job's
  transaction).
* ``loyalty.webhooks``: every :data:`DELIVERY_MINUTES` minutes on a UTC grid
  (:class:`~regulars.worker.schedule.Every`: no daylight saving time), POST the due
  webhook deliveries (:func:`~regulars.loyalty.webhooks.deliver_due`; each delivery is
  recorded in its own transaction and never re-sent after a 2xx).
"""

from __future__ import annotations

import httpx

from regulars.config import Settings
from regulars.loyalty.service import emit_expiry_warnings, expire_due
from regulars.loyalty.webhooks import TIMEOUT_S, deliver_due
from regulars.worker.registry import JobContext, registry
from regulars.worker.schedule import Daily, Every

EXPIRE = "loyalty.expire"
EXPIRY_WARNINGS = "loyalty.expiry_warnings"
WEBHOOKS = "loyalty.webhooks"

EXPIRE_HOUR = 2
WARN_HOUR = 4
WARN_DAYS = 30
DELIVERY_MINUTES = 5


def expire_schedule(settings: Settings) -> Daily:
    return Daily(hour=EXPIRE_HOUR, timezone=settings.timezone)


def warning_schedule(settings: Settings) -> Daily:
    return Daily(hour=WARN_HOUR, timezone=settings.timezone)


def delivery_schedule(_settings: Settings) -> Every:
    return Every(minutes=DELIVERY_MINUTES)


@registry.handler(EXPIRE, schedule=expire_schedule, max_attempts=3)
def expire_job(ctx: JobContext) -> dict[str, int]:
    """Expire the lots due at the job's run time; returns the points expired."""
    return {"points_expired": expire_due(ctx.engine, ctx.now)}


@registry.handler(EXPIRY_WARNINGS, schedule=warning_schedule, max_attempts=3)
def expiry_warnings_job(ctx: JobContext) -> dict[str, int]:
    """Queue the ``points_expiring`` events of the next :data:`WARN_DAYS` days."""
    return {"lots_expiring": emit_expiry_warnings(ctx.session, ctx.now, WARN_DAYS)}


@registry.handler(WEBHOOKS, schedule=delivery_schedule, max_attempts=3)
def webhooks_job(ctx: JobContext) -> dict[str, int]:
    """POST the due deliveries; failed ones wait for their backoff, not for this job."""
    with httpx.Client(timeout=TIMEOUT_S) as client:
        report = deliver_due(ctx.engine, client, now=ctx.now)
    return {"delivered": report.delivered, "retrying": report.retrying, "failed": report.failed}
