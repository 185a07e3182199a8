"""Bonus events of a live points program: order bonuses through the pure rules, their
reversal on returns, action bonuses, the quote's breakdown, the one config registry
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from loyalty_helpers import add_customer, add_order, add_return, check_ledger, make_program
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.loyalty.accounting.control import in_control_group
from regulars.loyalty.accounting.enrolment import set_opted_out
from regulars.loyalty.catalogue import points_config, program_config, validate_config
from regulars.loyalty.errors import ProgramError
from regulars.loyalty.points.action_bonuses import on_profile_saved, on_review_recorded
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.returns import on_return_recorded
from regulars.loyalty.points.views import QuotePart, account_view, quote
from regulars.loyalty.program_store.history import review_subject
from regulars.loyalty.program_types import PROGRAM_TYPES, PointsProgramConfig
from regulars.loyalty.program_types.history import OrderLine
from regulars.loyalty.tables import LoyaltyEntry, LoyaltyEvent, LoyaltyLot
from regulars.store.tables import Order

MONDAY = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)  # Tuesday 00:30 in Tokyo
WEDNESDAY = datetime(2026, 1, 7, 10, tzinfo=UTC)
BONUSES: list[dict[str, Any]] = [
    {"kind": "period", "code": "tuesdays", "multiplier": "2", "weekdays": [2]},
    {"kind": "first_purchase", "code": "welcome", "points": 100, "multiplier": "1.5"},
    {"kind": "review_written", "code": "review", "points": 20},
    {"kind": "profile_completed", "code": "profile", "points": 50},
]
CONFIG: dict[str, Any] = {"category_multipliers": {"tea": "2"}, "bonuses": BONUSES}
TEA_AND_BREAD = [("T1", "tea", "20.00"), ("B1", "bakery", "5.50")]
FULL_PROFILE = {"name": "Ann", "email": "ann@example.com", "phone": "+49 1", "birthday": "1990"}


def _entries(session: Session) -> list[tuple[str, str, int, str | None]]:
    rows = session.execute(
        select(
            LoyaltyEntry.kind,
            LoyaltyEntry.idempotency_key,
            LoyaltyEntry.points,
            LoyaltyEntry.reason,
        ).order_by(LoyaltyEntry.id)
    )
    return [(kind, key, points, reason) for kind, key, points, reason in rows]


def _first_order(
    session: Session, customer: str = "ann", time_zone: str | None = "Asia/Tokyo"
) -> Order:
    add_customer(session, customer, time_zone=time_zone)
    order_id = f"{customer}-1"
    return add_order(session, order_id, customer, "25.50", at=MONDAY, lines=TEA_AND_BREAD)


# -- one registry -------------------------------------------------------------------------


def test_one_registry_validates_stored_flat_configs_and_names_errors(session: Session) -> None:
    flat = {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 14}
    config = validate_config("points", flat)
    assert isinstance(config, PointsProgramConfig)
    assert (config.bonuses, config.default_time_zone) == ([], "UTC")
    assert sorted(PROGRAM_TYPES) == sorted({*PROGRAM_TYPES})  # the union's types, once each
    with pytest.raises(ProgramError, match="unknown program type 'pyramid'; known: badges"):
        validate_config("pyramid", {})
    with pytest.raises(ProgramError, match=r"config\.type 'tiers' is not the program type"):
        validate_config("points", {**flat, "type": "tiers"})
    with pytest.raises(ValidationError) as info:
        validate_config("points", {**flat, "bonuses": [{"kind": "period", "code": "x"}]})
    assert info.value.errors()[0]["loc"] == ("bonuses", 0, "period", "multiplier")
    program = make_program(session, config=CONFIG)
    stored = program.config
    assert (stored["type"], stored["bonuses"][0]["code"]) == ("points", "tuesdays")
    # The live dispatcher and the accounts read the same model off the same union.
    assert program_config(program) == points_config(program)


def test_a_household_section_needs_a_shared_household_card(session: Session) -> None:
    household = {"household": {"spend_policy": "owner_only"}}
    with pytest.raises(ProgramError, match=r"config\.household only applies with shared_household"):
        make_program(session, config=household)
    assert make_program(session, "shared", config=household, shared_household=True)


# -- orders ------------------------------------------------------------------------------


def test_first_order_earns_base_best_multiplier_and_welcome_points(session: Session) -> None:
    """Monday 15:30 UTC is Tuesday in Tokyo. 20.00 tea (×2) + 5.50 bread:
    base floor(40 + 5.5) = 45; ×2 (tuesdays) beats ×1.5 (welcome): floor(45.5 × 2) = 91,
    +46; welcome points +100; 191 in three lots, each pending 14 days, expiring 365 days
    after the order."""
    program = make_program(session, config=CONFIG)
    order = _first_order(session)
    posted = on_order_recorded(session, order)
    session.commit()
    assert [p.points for p in posted] == [45, 46, 100]
    assert _entries(session) == [
        ("earn", "order:default:ann-1", 45, None),
        ("earn", "order:default:ann-1:bonus:tuesdays", 46, "bonus tuesdays x2"),
        ("earn", "bonus:welcome:ann:points", 100, "bonus welcome"),
    ]
    lots = session.scalars(select(LoyaltyLot)).all()
    assert {(lot.available_at, lot.expires_at) for lot in lots} == {
        (MONDAY + timedelta(days=14), MONDAY + timedelta(days=365))
    }
    assert session.scalars(select(LoyaltyEntry.order_id)).all() == ["ann-1"] * 3
    view = account_view(session, program, "ann", now=MONDAY + timedelta(days=14))
    assert (view.balance, view.available) == (191, 191)
    events = session.execute(select(LoyaltyEvent.kind, LoyaltyEvent.payload)).all()
    assert [(kind, data["points"]) for kind, data in events] == [
        ("bonus_awarded", 46),
        ("bonus_awarded", 100),
    ]

    assert all(p.replay for p in on_order_recorded(session, order))  # a replay earns nothing
    later = add_order(session, "ann-2", "ann", "10.00", at=WEDNESDAY)
    assert [p.points for p in on_order_recorded(session, later)] == [10]  # not a first order
    session.commit()
    assert len(_entries(session)) == 4
    assert len(session.scalars(select(LoyaltyEvent)).all()) == 2  # nor emits anything
    check_ledger(session)


def test_weekday_bonus_without_a_customer_zone_uses_the_program_default(session: Session) -> None:
    """The same order by a customer without a time zone: Monday in UTC, no Tuesday bonus;
    welcome ×1.5 is the best multiplier: floor(45.5 × 1.5) = floor(68.25) = 68, +23; +100.
    With ``default_time_zone`` Asia/Tokyo it is Tuesday there: +46 instead."""
    make_program(session, config=CONFIG)
    make_program(session, "tokyo", config={**CONFIG, "default_time_zone": "Asia/Tokyo"})
    on_order_recorded(session, _first_order(session, "bob", time_zone=None))
    session.commit()
    assert _entries(session) == [
        ("earn", "order:default:bob-1", 45, None),
        ("earn", "bonus:welcome:bob", 23, "bonus welcome x1.5"),
        ("earn", "bonus:welcome:bob:points", 100, "bonus welcome"),
        ("earn", "order:default:bob-1", 45, None),
        ("earn", "order:default:bob-1:bonus:tuesdays", 46, "bonus tuesdays x2"),
        ("earn", "bonus:welcome:bob:points", 100, "bonus welcome"),
    ]


def test_first_purchase_is_the_first_paid_order_in_the_store(session: Session) -> None:
    """An order from before the program started makes a later one not the first; a
    cancelled earlier order does not count."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    make_program(session, config=CONFIG, starts_at=start)
    add_order(session, "old", "cyd", "30.00", at=start - timedelta(days=90))
    cancelled = add_order(session, "void", "dee", "30.00", at=start - timedelta(days=90))
    cancelled.status = "cancelled"
    on_order_recorded(session, add_order(session, "c1", "cyd", "10.00", at=WEDNESDAY))
    on_order_recorded(session, add_order(session, "d1", "dee", "10.00", at=WEDNESDAY))
    session.commit()
    assert [(key, points) for _, key, points, _ in _entries(session)] == [
        ("order:default:c1", 10),
        ("order:default:d1", 10),
        ("bonus:welcome:dee", 5),  # floor(10 × 1.5) − 10
        ("bonus:welcome:dee:points", 100),
    ]


def test_full_return_of_a_first_order_takes_back_the_bonuses_too(session: Session) -> None:
    """Returning all 25.50 reverses each of the three lots in full: −45, −46, −100; each
    reversal under its own key, so nothing is skipped; the return again changes nothing."""
    program = make_program(session, config=CONFIG)
    order = _first_order(session)
    on_order_recorded(session, order)
    on_order_recorded(session, add_order(session, "ann-2", "ann", "10.00", at=WEDNESDAY))
    ret = add_return(session, "R1", order, "25.50", at=WEDNESDAY)
    outcomes = on_return_recorded(session, ret, now=WEDNESDAY)
    session.commit()
    assert [o.reversal.posted.points for o in outcomes if o.reversal] == [-45, -46, -100]
    reversals = [(key, points) for kind, key, points, _ in _entries(session) if kind != "earn"]
    assert reversals == [
        ("return:default:R1:reverse", -45),
        ("return:default:R1:reverse:order:default:ann-1:bonus:tuesdays", -46),
        ("return:default:R1:reverse:bonus:welcome:ann:points", -100),
    ]
    assert on_return_recorded(session, ret, now=WEDNESDAY)[0].reversal is None  # a retry
    assert account_view(session, program, "ann").balance == 10  # only the second order
    check_ledger(session)


def test_partial_returns_reverse_every_lot_proportionally(session: Session) -> None:
    """Lots 45, 46, 100 on 25.50. Returning 10.20 keeps 15.30 / 25.50 = 0.6 of each:
    45 − floor(27) = 18, 46 − floor(27.6) = 19, 100 − floor(60) = 40: 77 reversed (114 kept).
    Returning the other 15.30 reverses the rest: 27 + 27 + 60 = 114; nothing is left."""
    program = make_program(session, config=CONFIG)
    order = _first_order(session)
    on_order_recorded(session, order)
    first = on_return_recorded(session, add_return(session, "R1", order, "10.20"), now=WEDNESDAY)
    assert [o.reversal.posted.points for o in first if o.reversal] == [-18, -19, -40]
    assert account_view(session, program, "ann").balance == 114
    second = on_return_recorded(session, add_return(session, "R2", order, "15.30"), now=WEDNESDAY)
    assert [o.reversal.posted.points for o in second if o.reversal] == [-27, -27, -60]
    session.commit()
    assert account_view(session, program, "ann").balance == 0
    check_ledger(session)


def test_control_group_and_opted_out_accounts_earn_no_bonus(session: Session) -> None:
    program = make_program(session, config={**CONFIG, "control_share": "0.5"})
    customers = [f"k{i:02d}" for i in range(40)]
    held = next(c for c in customers if in_control_group(c, program.code, 0.5))
    member = next(c for c in customers if not in_control_group(c, program.code, 0.5))
    add_customer(session, held)
    add_customer(session, member)
    set_opted_out(session, program, member, True)
    for customer in (held, member):
        on_order_recorded(session, add_order(session, f"{customer}-1", customer, "25.50"))
        on_review_recorded(session, customer, "SKU-1", {}, WEDNESDAY)
        on_profile_saved(session, customer, None, FULL_PROFILE, now=WEDNESDAY)
    session.commit()
    assert _entries(session) == []
    assert account_view(session, program, held).state == "control"


# -- actions -----------------------------------------------------------------------------


def test_the_reviewed_subject() -> None:
    assert review_subject("SKU-1", {"product_id": "P9", "order_id": "O1"}) == "SKU-1"
    assert review_subject(None, {"sku": "SKU-2"}) == "SKU-2"
    assert review_subject(None, {"product_id": 42}) == "42"
    assert review_subject("", {"order_id": "O1"}) == "order:O1"
    assert review_subject(None, {"rating": 5}) is None


def test_reviews_earn_once_per_subject_at_once(session: Session) -> None:
    program = make_program(session, config=CONFIG)
    add_customer(session, "ann")
    assert [p.points for p in on_review_recorded(session, "ann", "SKU-1", {}, WEDNESDAY)] == [20]
    assert on_review_recorded(session, "ann", None, {"sku": "SKU-1"}, WEDNESDAY)[0].replay
    on_review_recorded(session, "ann", None, {"order_id": "O1"}, WEDNESDAY)
    assert on_review_recorded(session, "ann", None, {}, WEDNESDAY) == []  # no subject
    session.commit()
    assert [key for _, key, _, _ in _entries(session)] == [
        "bonus:review:ann:SKU-1",
        "bonus:review:ann:order:O1",
    ]
    view = account_view(session, program, "ann", now=WEDNESDAY)
    assert (view.balance, view.available) == (40, 40)  # spendable at once
    assert view.lots[0].expires_at == WEDNESDAY + timedelta(days=365)


def test_profile_bonus_when_a_save_completes_the_profile(session: Session) -> None:
    program = make_program(session, config=CONFIG)
    add_customer(session, "ann")
    partial = {**FULL_PROFILE, "phone": None}
    assert on_profile_saved(session, "ann", None, partial, now=WEDNESDAY) == []
    [posted] = on_profile_saved(session, "ann", partial, FULL_PROFILE, now=WEDNESDAY)
    assert posted.points == 50
    renamed = {**FULL_PROFILE, "name": "Anna"}
    assert on_profile_saved(session, "ann", FULL_PROFILE, renamed, now=WEDNESDAY) == []
    # Emptied and completed again: the bonus is once per customer.
    assert on_profile_saved(session, "ann", partial, FULL_PROFILE, now=WEDNESDAY)[0].replay
    session.commit()
    assert account_view(session, program, "ann", now=WEDNESDAY).available == 50


# -- quote -------------------------------------------------------------------------------


def test_quote_breaks_the_points_down_and_writes_nothing(session: Session) -> None:
    """A new customer's cart of 25.50 on a Tokyo Tuesday: base 45, tuesdays +46, welcome
    +100 (the first-purchase multiplier loses to ×2); a customer with an earlier order gets
    base and tuesdays only."""
    program = make_program(session, config=CONFIG)
    add_customer(session, "new", time_zone="Asia/Tokyo")
    add_customer(session, "old", time_zone="Asia/Tokyo")
    add_order(session, "old-1", "old", "5.00", at=MONDAY - timedelta(days=30))
    session.commit()
    lines = [OrderLine(1, Decimal(a), sku, category) for sku, category, a in TEA_AND_BREAD]
    fresh = quote(session, program, "new", Decimal("25.50"), lines, now=MONDAY)
    assert fresh.points_earned == 191
    assert fresh.earned_from == [
        QuotePart("base", None, 45),
        QuotePart("period", "tuesdays", 46),
        QuotePart("first_purchase", "welcome", 100),
    ]
    known = quote(session, program, "old", Decimal("25.50"), lines, now=MONDAY)
    assert [(p.code, p.points) for p in known.earned_from] == [(None, 45), ("tuesdays", 46)]
    assert not session.new
    assert not session.dirty
    assert _entries(session) == []
