"""Tier downgrades without a new order: the nightly ``loyalty.tiers`` evaluation stores them
(with their ``tier_changed`` event) and the tier views, the account view and the quote agree
before and after it (SQLite file and PostgreSQL).

The club: silver from 50.00 spent in 30 days, gold from 100.00, no grace; the points program
earns 1 point per 1.00."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from loyalty_helpers import T0, add_order, make_program
from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.loyalty.catalogue import ProgramSpec, create_program, find_program
from regulars.loyalty.jobs import TIERS_EVALUATE, evaluate_tiers
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.views import quote
from regulars.loyalty.program_store.quote import quote_programs
from regulars.loyalty.program_store.rewards import tier_views
from regulars.loyalty.program_store.tables import LoyaltyTierState
from regulars.loyalty.program_store.tier_clubs import evaluate_all_clubs
from regulars.loyalty.tables import LoyaltyEvent
from regulars.wiring import job_registry

CLUB = {
    "code": "vip",
    "tiers": [{"name": "silver", "threshold": "50"}, {"name": "gold", "threshold": "100"}],
    "window_days": 30,
    "grace_days": 0,
}


def _views(session: Session, at: datetime) -> tuple[str | None, ...]:
    """(the tier view's, the club quote's, the points quote's tier) for customer 'c'."""
    (view,) = tier_views(session, "c", now=at)
    quotes = quote_programs(session, "c", Decimal("1.00"), [], at)
    (club,) = [q for q in quotes if q.program == "vip"]
    points = find_program(session, "points")
    assert points is not None
    return view.tier, club.tier, quote(session, points, "c", Decimal("1.00"), [], now=at).tier


def _changes(session: Session) -> list[tuple[str | None, str | None]]:
    events = session.scalars(
        select(LoyaltyEvent).where(LoyaltyEvent.kind == "tier_changed").order_by(LoyaltyEvent.id)
    )
    return [(e.payload.get("from"), e.payload.get("to")) for e in events]


def test_a_tier_is_lost_at_night_without_a_new_order(session: Session) -> None:
    make_program(session)
    create_program(
        session, ProgramSpec("vip", "VIP", "tiers", CLUB, starts_at=T0 - timedelta(days=1))
    )
    on_order_recorded(session, add_order(session, "O1", "c", "60.00", at=T0))
    session.commit()
    assert _views(session, T0 + timedelta(days=1)) == ("silver", "silver", "silver")

    later = T0 + timedelta(days=300)  # the window ended 270 days ago
    # Before the night's run the stored state still says silver; every view says none.
    assert session.scalars(select(LoyaltyTierState.tier)).one() == "silver"
    assert _views(session, later) == (None, None, None)

    assert evaluate_all_clubs(session, later) == {"evaluated": 1, "tier_changes": 1}
    session.commit()
    assert session.scalars(select(LoyaltyTierState.tier)).one() is None
    assert _changes(session) == [(None, "silver"), ("silver", None)]
    # A second night (or a retried job) changes nothing.
    assert evaluate_all_clubs(session, later + timedelta(days=1)) == {
        "evaluated": 0,
        "tier_changes": 0,
    }
    assert _views(session, later) == (None, None, None)
    assert _changes(session) == [(None, "silver"), ("silver", None)]


def test_the_nightly_job_is_registered() -> None:
    registration = job_registry().get(TIERS_EVALUATE)
    assert registration is not None
    assert registration.handler is evaluate_tiers
