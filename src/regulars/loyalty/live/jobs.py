"""Background work of the live program types, run by ``regulars worker``."""

from __future__ import annotations

from regulars.config import Settings
from regulars.loyalty.live.membership import renew_all
from regulars.loyalty.live.referrals import evaluate_all
from regulars.worker.registry import JobContext, registry
from regulars.worker.schedule import Daily

MEMBERSHIPS_RENEW = "loyalty.memberships"
REFERRALS_EVALUATE = "loyalty.referrals"


def early_morning(settings: Settings) -> Daily:
    """Every day at 01:00 in the shop's time zone."""
    return Daily(hour=1, timezone=settings.timezone)


@registry.handler(MEMBERSHIPS_RENEW, schedule=early_morning)
def renew_memberships(ctx: JobContext) -> dict[str, int]:
    """Charge every membership period that has started and end the memberships cancelled at
    period end (:func:`regulars.loyalty.live.membership.renew_all`); idempotent: each period
    is charged under its own key."""
    return {"memberships_running": renew_all(ctx.session, ctx.now)}


@registry.handler(REFERRALS_EVALUATE, schedule=early_morning)
def evaluate_referrals(ctx: JobContext) -> dict[str, int]:
    """Reward the referrals whose first order is past its return window
    (:func:`regulars.loyalty.live.referrals.evaluate_all`); idempotent by the reward keys."""
    return evaluate_all(ctx.session, ctx.now)
