"""Tier clubs whatever order orders are recorded in (SQLite file and PostgreSQL): an order
(or return) dated at or before the club's stored ``as_of`` re-evaluates the customer's
whole history with ``tiers.evaluate``; the order earns at the tier of its own time in that
history; ``tier_changed`` events are only sent under keys never used, and a correction
makes the last event name the stored tier.

The club of every test: silver from 50.00 spent in 30 days (×1.5), gold from 100.00 (×2),
no grace; the points program earns 1 point per 1.00 (``earn_per_unit`` 1)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loyalty_helpers import T0, add_customer, add_order, add_return, check_ledger, make_program
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.returns import on_return_recorded
from regulars.loyalty.program_store.tables import LoyaltyTierState
from regulars.loyalty.program_types import TierClubConfig, tiers
from regulars.loyalty.program_types.tiers import QualifyingEvent, TierState
from regulars.loyalty.tables import LoyaltyEvent
from regulars.store.tables import Order

DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=T0.tzinfo)
CLUB: dict[str, Any] = {
    "code": "vip",
    "tiers": [
        {"name": "silver", "threshold": "50", "earn_multiplier": "1.5"},
        {"name": "gold", "threshold": "100", "earn_multiplier": "2"},
    ],
    "window_days": 30,
    "grace_days": 0,
}
MULTIPLIER = {None: Decimal(1), "silver": Decimal("1.5"), "gold": Decimal(2)}


def _setup(session: Session, club_starts: datetime = T0 - DAY, **club: Any) -> None:
    make_program(session)
    config = {**CLUB, **club}
    create_program(session, ProgramSpec("vip", "VIP", "tiers", config, starts_at=club_starts))
    session.commit()


def _record(session: Session, order_id: str, customer: str, amount: str, at: datetime) -> int:
    """Record an order as the order hook does; the points it earned."""
    posted = on_order_recorded(session, add_order(session, order_id, customer, amount, at=at))
    session.commit()
    return sum(p.points for p in posted)


def _state(session: Session, customer: str) -> tuple[Any, ...] | None:
    row = session.scalars(
        select(LoyaltyTierState)
        .where(LoyaltyTierState.customer_id == customer)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        return None
    return (row.tier, row.since, row.window_start, row.grace_until, row.as_of)


def _events(session: Session, customer: str) -> list[tuple[Any, ...]]:
    """(from, to, effective_at, key) of the customer's tier_changed events, in emission order."""
    rows = session.scalars(
        select(LoyaltyEvent).where(LoyaltyEvent.kind == "tier_changed").order_by(LoyaltyEvent.id)
    ).all()
    return [
        (e.payload["from"], e.payload["to"], e.payload["effective_at"], e.event_key)
        for e in rows
        if e.payload["customer_id"] == customer
    ]


def _order(session: Session, order_id: str) -> Order:
    return session.scalars(select(Order).where(Order.order_id == order_id)).one()


def _key(customer: str, at: datetime) -> str:
    return f"tier:vip:{customer}:{at.isoformat()}"


def test_two_orders_at_the_same_instant_count_together(session: Session) -> None:
    """A 60.00 and B 50.00, both at T0. Recording A: 60 ≥ 50 → silver at T0, A earns
    floor(60 × 1.5) = 90, event ``tier:vip:ann:T0`` (None → silver). Recording B: T0 is not
    after the stored as_of (T0), so the history is evaluated from the start: at T0 the window
    holds 110 ≥ 100 → gold at T0. That change's key is taken (it announced silver), so a
    correction goes out: silver → gold at T0, key ``tier:vip:ann:T0:order:default:B``. B
    earns at gold, 50 × 2 = 100. Before the fix B was never evaluated (silver, 75 points).

    Bob records the same two orders the other way round: B first (50 → silver, 75), then A
    (gold, 60 × 2 = 120). Both end in the same state: gold since T0, window from T0."""
    _setup(session)
    assert _record(session, "A", "ann", "60.00", T0) == 90
    assert _record(session, "B", "ann", "50.00", T0) == 100
    assert _record(session, "B2", "bob", "50.00", T0) == 75
    assert _record(session, "A2", "bob", "60.00", T0) == 120
    gold_since_t0 = ("gold", T0, T0, None, T0)
    assert _state(session, "ann") == _state(session, "bob") == gold_since_t0
    t0 = T0.isoformat()
    assert _events(session, "ann") == [
        (None, "silver", t0, _key("ann", T0)),
        ("silver", "gold", t0, f"{_key('ann', T0)}:order:default:B"),
    ]
    # Recording B again changes nothing and sends nothing.
    assert all(p.replay for p in on_order_recorded(session, _order(session, "B")))
    session.commit()
    assert len(_events(session, "ann")) == 2
    check_ledger(session)


def test_an_order_recorded_late_upgrades_at_its_own_time_and_earns_there(
    session: Session,
) -> None:
    """P 10.00 on day 10 is recorded first: no tier, 10 points, as_of day 10. Q 60.00 on
    day 1 comes next: day 1 is before as_of, so the history is evaluated from the start:
    at day 1 the window holds 60 ≥ 50 → silver at day 1 (the window then runs to day 31:
    on day 10 it holds 70, still silver). Q earns at silver: floor(60 × 1.5) = 90; P keeps
    its 10 (points once earned are not recomputed: in time order P would have earned
    floor(10 × 1.5) = 15). The change at day 1 has a new key and is sent; it is also the
    stored tier, so no correction. Before the fix Q was never evaluated: no tier at all
    and 60 points."""
    _setup(session)
    assert _record(session, "P", "ann", "10.00", T0 + 10 * DAY) == 10
    assert _state(session, "ann") == (None, None, None, None, T0 + 10 * DAY)
    assert _record(session, "Q", "ann", "60.00", T0 + DAY) == 90
    assert _state(session, "ann") == ("silver", T0 + DAY, T0 + DAY, None, T0 + 10 * DAY)
    day1 = (T0 + DAY).isoformat()
    assert _events(session, "ann") == [(None, "silver", day1, _key("ann", T0 + DAY))]


def test_a_late_order_before_an_upgrade_sent_earlier_is_corrected(session: Session) -> None:
    """X 120.00 on day 5 → gold at day 5 (None → gold, key day 5), earns 240. Y 60.00 on
    day 1, recorded late: the history from the start is silver at day 1 (60 ≥ 50), then gold
    at day 5 (180 ≥ 100, from silver). Silver at day 1 has a new key and is sent; gold at
    day 5's key was used (None → gold), so the tier told is silver while the history ends
    at gold: a correction silver → gold at day 5, key ``…day 5:order:default:Y``. Y earns at
    silver (its own time): floor(60 × 1.5) = 90. The stored state is the one of time
    order (Y then X): gold since day 5, window from day 5."""
    _setup(session)
    day1, day5 = T0 + DAY, T0 + 5 * DAY
    assert _record(session, "X", "ann", "120.00", day5) == 240
    assert _record(session, "Y", "ann", "60.00", day1) == 90
    assert _record(session, "Y2", "bob", "60.00", day1) == 90  # bob: in time order
    assert _record(session, "X2", "bob", "120.00", day5) == 240
    assert _state(session, "ann") == _state(session, "bob") == ("gold", day5, day5, None, day5)
    d1, d5 = day1.isoformat(), day5.isoformat()
    assert _events(session, "ann") == [
        (None, "gold", d5, _key("ann", day5)),
        (None, "silver", d1, _key("ann", day1)),
        ("silver", "gold", d5, f"{_key('ann', day5)}:order:default:Y"),
    ]
    assert _events(session, "bob") == [
        (None, "silver", d1, _key("bob", day1)),
        ("silver", "gold", d5, _key("bob", day5)),
    ]


def test_a_late_return_before_the_upgrade_takes_the_tier_back(session: Session) -> None:
    """Gold alone, from 100.00. A 60.00 on day 1, B 50.00 on day 3 → 110: gold at day 3
    (sent). A return of 20.00 of A dated day 2 is recorded after B: dated before as_of
    (day 3), it re-evaluates the history: at day 3 the window holds 60 − 20 + 50 = 90 < 100,
    so the upgrade never happened (a return does not downgrade by itself; here there was no
    upgrade to keep). No change is left in the history, so the correction gold → None goes
    out effective at the return (day 2), key ``…day 2:return:default:R``; the stored state
    is no tier, as in time order (A, return, B). C 20.00 on day 4 then brings 110 → gold at
    day 4 (a new key)."""
    _setup(session, tiers=[{"name": "gold", "threshold": "100", "earn_multiplier": "2"}])
    day2, day3, day4 = T0 + 2 * DAY, T0 + 3 * DAY, T0 + 4 * DAY
    first = add_order(session, "A", "ann", "60.00", at=T0 + DAY)
    on_order_recorded(session, first)
    assert _record(session, "B", "ann", "50.00", day3) == 100
    on_return_recorded(session, add_return(session, "R", first, "20.00", at=day2), now=day2)
    session.commit()
    assert _state(session, "ann") == (None, None, None, None, day3)
    assert _events(session, "ann")[1:] == [
        ("gold", None, day2.isoformat(), f"{_key('ann', day2)}:return:default:R")
    ]
    assert _record(session, "C", "ann", "20.00", day4) == 40
    assert _state(session, "ann") == ("gold", day4, day4, None, day4)
    assert _events(session, "ann")[-1] == (None, "gold", day4.isoformat(), _key("ann", day4))
    check_ledger(session)


def test_a_late_order_before_the_club_started_still_counts(session: Session) -> None:
    """The club starts on day 2 and counts the history before it. X 80.00 on day 3 (in the
    club, 80 ≥ 50 → silver at day 3). W 40.00 on day 1 is recorded late: the club did not
    run on day 1, so W earns ×1 (40), but its state was evaluated past day 1, so the club
    evaluates the history again: day 1 40 (nothing), day 3 120 ≥ 100 → gold at day 3; the
    key of day 3 announced silver, so a correction silver → gold. In time order (W, then X:
    the club's first evaluation covers day 1 too) the state is the same."""
    _setup(session, club_starts=T0 + 2 * DAY)
    day1, day3 = T0 + DAY, T0 + 3 * DAY
    assert _record(session, "X", "ann", "80.00", day3) == 120
    assert _record(session, "W", "ann", "40.00", day1) == 40
    assert _record(session, "W2", "bob", "40.00", day1) == 40
    assert _record(session, "X2", "bob", "80.00", day3) == 160
    assert _state(session, "ann") == _state(session, "bob") == ("gold", day3, day3, None, day3)
    assert [e[:2] for e in _events(session, "ann")] == [(None, "silver"), ("silver", "gold")]


def _expected(config: TierClubConfig, orders: list[tuple[int, int]], customer: str) -> Any:
    """The pure rule over the whole history: ``evaluate`` from no state to the last order."""
    events = [QualifyingEvent(T0 + d * DAY, Decimal(a)) for d, a in orders]
    now = max(e.at for e in events)
    return tiers.evaluate(config, events, TierState(customer, EPOCH), now)


def _tier_at(config: TierClubConfig, orders: list[tuple[int, int]], day: int) -> str | None:
    events = [QualifyingEvent(T0 + d * DAY, Decimal(a)) for d, a in orders]
    return tiers.evaluate(config, events, TierState("x", EPOCH), T0 + day * DAY).state.tier


_EXAMPLE = count()
ORDERS = st.lists(
    st.tuples(st.sampled_from(range(0, 91, 3)), st.sampled_from(range(10, 160, 10))),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(orders=ORDERS, seed=st.integers(0, 2**32 - 1))
def test_shuffled_recording_ends_in_the_state_of_time_order(
    session: Session, orders: list[tuple[int, int]], seed: int
) -> None:
    """Days from a grid of 3 (so orders share instants and fall on window ends), amounts
    10–150, a 30-day window with 9 days of grace, the club starting on day 12 (earlier
    orders count, but earn ×1). The same orders recorded in time order and in a random
    order end in the same stored state, and it is ``evaluate`` over the whole history.
    Every order earns at the tier of its own time in the history recorded so far (×1
    before the club starts), and the last tier_changed event names the stored tier."""
    if not session.info.get("club"):  # one club for all examples (a fresh customer each)
        _setup(session, club_starts=T0 + 12 * DAY, grace_days=9)
        session.info["club"] = True
    config = TierClubConfig.model_validate({**CLUB, "grace_days": 9})
    n = next(_EXAMPLE)
    shuffled = list(enumerate(orders))
    random.Random(seed).shuffle(shuffled)
    in_time = sorted(enumerate(orders), key=lambda item: item[1][0])
    for customer, sequence in ((f"t{n}", in_time), (f"s{n}", shuffled)):
        recorded: list[tuple[int, int]] = []
        for index, (day, amount) in sequence:
            recorded.append((day, amount))
            earned = _record(session, f"{customer}-{index}", customer, str(amount), T0 + day * DAY)
            tier = _tier_at(config, recorded, day) if day >= 12 else None
            assert earned == int(amount * MULTIPLIER[tier]), (customer, day, amount)
        state = _state(session, customer)
        if max(day for day, _ in orders) < 12:
            assert state is None  # the club never ran at an order
            continue
        expected = _expected(config, orders, customer)
        last_change = expected.changes[-1].effective_at if expected.changes else None
        assert state == (
            expected.state.tier,
            last_change,
            expected.state.window_start,
            expected.state.grace_until,
            expected.state.as_of,
        )
        events = _events(session, customer)
        assert (events[-1][1] if events else None) == expected.state.tier
    assert _state(session, f"t{n}") == _state(session, f"s{n}")


def test_concurrent_orders_of_one_customer_end_in_the_state_of_time_order(
    store_engine: Engine,
) -> None:
    """12 orders of one customer, several at one instant, recorded by concurrent
    transactions in any order (8 threads on SQLite, 12 on PostgreSQL): each evaluates under
    the customer's lock, so the stored state is ``evaluate`` over the whole history, and
    the last tier_changed event names it."""
    rng = random.Random(7)
    orders = [(rng.choice([0, 0, 3, 6, 30, 33]), rng.choice([20, 40, 70])) for _ in range(12)]
    with Session(store_engine, expire_on_commit=False) as session:
        _setup(session)
        add_customer(session, "cy")
        session.commit()

    def record(index: int) -> None:
        day, amount = orders[index]
        with Session(store_engine, expire_on_commit=False) as session:
            _record(session, f"O{index}", "cy", str(amount), T0 + day * DAY)

    workers = 8 if store_engine.dialect.name == "sqlite" else 12
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(record, range(len(orders))))
    config = TierClubConfig.model_validate(CLUB)
    expected = _expected(config, orders, "cy")
    with Session(store_engine) as session:
        state = _state(session, "cy")
        assert state is not None
        assert (state[0], state[2], state[4]) == (
            expected.state.tier,
            expected.state.window_start,
            expected.state.as_of,
        )
        assert _events(session, "cy")[-1][1] == expected.state.tier
        check_ledger(session)
