"""The program simulator: hand-computed worked examples, and the columnar replay against
a lot-by-lot FIFO replay written with the live rules — ``bonus.earn_for_purchase`` (base
points, SKU/category multipliers, period and first-purchase bonuses), ``tiers.evaluate``
run order by order as the live engine does, ``max_redeemable`` — on random histories."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pyarrow as pa
import pytest

from regulars.data.schema import MONEY
from regulars.engine import connect, table_from_arrow
from regulars.errors import RegularsError
from regulars.loyalty.program_types import tiers
from regulars.loyalty.program_types.bonus import (
    FirstPurchaseBonus,
    PeriodBonus,
    PointsProgramConfig,
    ProfileBonus,
    earn_for_purchase,
)
from regulars.loyalty.program_types.earning import PointsRules, Tier, max_redeemable, points_earned
from regulars.loyalty.program_types.history import OrderLine, Purchase
from regulars.loyalty.program_types.tiers import TierClubConfig
from regulars.loyalty.simulation.history import History, load_history, local_midnights_us
from regulars.loyalty.simulation.lots import redeem_caps, replay_lots, threshold_points
from regulars.loyalty.simulation.proposal import Assumptions, ProposedProgram, load_program
from regulars.loyalty.simulation.replay import Replayed, earn_base, first_purchases, replay_rules
from regulars.loyalty.simulation.rules import EarnBase, bonus_multipliers, earn, floor_times
from regulars.loyalty.simulation.simulator import simulate_program
from regulars.loyalty.simulation.totals import tier_counts

D = Decimal
ALL_IN = Assumptions(enrolment_share=1.0, redeemer_share=1.0, redeem_threshold_value=D(5))
RULES = PointsProgramConfig(earn_per_unit=D(1), point_value=D("0.01"))  # pending 14, expiry 365


def orders_arrow(rows: Sequence[tuple[str, str, str]]) -> pa.Table:
    """(customer, 'YYYY-MM-DD[ HH:MM]', amount) rows; order ids o1, o2, …"""
    return pa.table(
        {
            "customer_id": pa.array([r[0] for r in rows], pa.string()),
            "order_id": pa.array([f"o{i + 1}" for i in range(len(rows))], pa.string()),
            "ordered_at": pa.array(
                [datetime.fromisoformat(r[1] if " " in r[1] else r[1] + " 12:00") for r in rows],
                pa.timestamp("us"),
            ),
            "amount": pa.array([D(r[2]) for r in rows], MONEY),
        }
    )


@pytest.fixture
def orders_on(load: Callable[[pa.Table], ibis.Table]) -> Callable[..., ibis.Table]:
    return lambda rows: load(orders_arrow(rows))


def test_worked_example_points_redemption_expiry_liability(
    orders_on: Callable[..., ibis.Table],
) -> None:
    """One member, 1 point per unit, point value 0.01, pending 14 days, expiry 365 days,
    redemption cap 50 %, redeems once 500 points (5.00) are available:

    | day | order | available before | redeemed | earned (lot expires) |
    |---|---|---|---|---|
    | 2024-01-01 | 300.00 | 0 | 0 | 300 (2024-12-31) |
    | 2024-01-10 | 400.00 | 0 (lot 1 matures 01-15) | 0 | 400 (2025-01-09) |
    | 2024-02-01 | 100.00 | 700 ≥ 500; cap 5,000 | 700 | 100 (2025-01-31) |
    | 2024-03-01 | 50.00 | 100 < 500 | 0 | 50 (2025-03-01) |

    Window [2024-01-01, 2025-02-15): lot 3 expires on 2025-01-31 with its 100 points
    unspent; lot 4 is still open. Issued 850, redeemed 700, expired 100, outstanding 50 →
    liability 0.50. Breakage of the lots that ended (1, 2, 3: 800 earned) = 100 / (100 +
    700) = 12.5 %. Cost = 7.00 redeemed + 0.50 × (1 − 0.125) = 0.4375 → 0.44 → 7.44.
    Margin 40 % → R* = 7.44 / 0.4 = 18.60: +18.60 / 850 = 2.188 % revenue; AOV 212.50 →
    0.0875 orders; one repeat buyer with 3 repeat orders → v = 637.50 → 18.60 / 637.50 /
    1 buyer = +2.918 points of repeat purchase rate.
    """
    orders = orders_on(
        [
            ("a", "2024-01-01", "300.00"),
            ("a", "2024-01-10", "400.00"),
            ("a", "2024-02-01", "100.00"),
            ("a", "2024-03-01", "50.00"),
        ]
    )
    program = ProposedProgram(rules=RULES, assumptions=ALL_IN)
    sim = simulate_program(
        orders, program, start=date(2024, 1, 1), end=date(2025, 2, 15), margin=D("0.4")
    )
    t = sim.totals
    assert (t.points_issued, t.points_redeemed, t.points_expired) == (850, 700, 100)
    assert t.points_outstanding == 50
    assert t.liability == D("0.50")
    assert t.breakage_rate == pytest.approx(0.125)
    assert t.program_cost == D("7.44")
    by_month = {m.month: m for m in sim.months}
    assert len(sim.months) == 14  # 2024-01 … 2025-02
    assert by_month[date(2024, 1, 1)].points_outstanding == 700
    assert by_month[date(2024, 2, 1)].points_redeemed == 700
    assert by_month[date(2024, 2, 1)].points_outstanding == 100
    assert by_month[date(2024, 2, 1)].reward_cost == D("7.00")
    assert by_month[date(2024, 12, 1)].liability == D("1.50")
    assert by_month[date(2025, 1, 1)].points_expired == 100
    assert by_month[date(2025, 1, 1)].liability == D("0.50")
    b = sim.break_even
    assert b.required_revenue == D("18.60")
    assert b.required_revenue_lift_pct == pytest.approx(18.60 / 850 * 100)
    assert b.required_orders == pytest.approx(18.60 / 212.50)  # 0.0875
    assert b.required_repeat_rate_points == pytest.approx(18.60 / 637.5 * 100)
    assert "7.44" in sim.verdict()
    assert "40 % margin" in sim.verdict()


CLUB = TierClubConfig(
    code="vip",
    tiers=[
        Tier(name="silver", threshold=D(500), earn_multiplier=D("1.5"), discount_pct=D(10)),
        Tier(name="gold", threshold=D(1000), earn_multiplier=D(2)),
    ],
    window_days=365,
    grace_days=30,
)


def test_worked_example_tier_club_upgrade_grace_downgrade() -> None:
    """Silver from 500.00 in 365 days (×1.5 points, 10 % off), gold from 1,000; grace 30 d.

    b buys 600.00 on 2024-01-01 12:00: 600 ≥ 500, silver at once and this order counts →
    600 × 1.5 = 900 points; the discount is the tier held before it (none). 100.00 on
    01-02: silver, 150 points, 10.00 off. Silver's window ends 2024-12-31 12:00 holding
    (2024-01-01 12:00, 2024-12-31 12:00] = 100 < 500 → grace to 2025-01-30 12:00. 100.00
    on 2025-01-03 (in grace, window value 100): still silver, 150 points, 10.00 off. At the
    grace end the value is 100 → no tier. Points 1,200 = 800 base + 400 tier part;
    discounts 20.00. Month ends: January 2024 silver; December 2024 silver (grace);
    January 2025 base (the downgrade of 01-30).
    """
    orders = table_from_arrow(
        connect(),
        orders_arrow(
            [
                ("b", "2024-01-01", "600.00"),
                ("b", "2024-01-02", "100.00"),
                ("b", "2025-01-03", "100.00"),
            ]
        ),
    )
    no_redeem = Assumptions(enrolment_share=1.0, redeemer_share=0.0)
    program = ProposedProgram(rules=RULES, tiers=CLUB, assumptions=no_redeem)
    sim = simulate_program(orders, program, end=date(2025, 3, 1))
    t = sim.totals
    assert (t.points_issued, t.points_base, t.points_tier, t.points_bonus) == (1200, 800, 400, 0)
    assert t.tier_discounts == D("20.00")
    months = {m.month: m for m in sim.months}
    assert months[date(2024, 1, 1)].tiers == {"base": 0, "silver": 1, "gold": 0}
    assert months[date(2024, 1, 1)].tier_discounts == D(10)
    assert months[date(2024, 12, 1)].tiers == {"base": 0, "silver": 1, "gold": 0}
    assert months[date(2025, 1, 1)].tiers == {"base": 1, "silver": 0, "gold": 0}
    assert sim.tier_candidates == 1
    assert sim.break_even.basis == "revenue"
    assert any("No margin" in note for note in sim.notes)
    parts = {p.name: p for p in sim.cost_parts}
    assert parts["tier discounts"].cost == D("20.00")
    assert (parts["base points"].points, parts["tier multiplier points"].points) == (800, 400)


def test_worked_example_cost_parts_of_bonuses() -> None:
    """1 point per unit, 0.01 a point; double points in March 2024; 50 points and ×3 on a
    first purchase. a: 100.00 on 2024-02-01 (first: ×3 → 300, +50) and 100.00 on
    2024-03-05 (double → 200). c bought 10.00 on 2023-12-01, before the window: their
    100.00 on 2024-02-10 is no first purchase → 100. Base 300, bonus 200 + 100 + 50 = 350;
    nobody redeems, no expiry: the points cost is the outstanding 650 points × 0.01 =
    6.50, shared 3.00 base / 3.50 bonus."""
    rules = PointsProgramConfig(
        earn_per_unit=D(1),
        point_value=D("0.01"),
        expiry_days=None,
        bonuses=[
            PeriodBonus(
                code="march",
                multiplier=D(2),
                starts_at=datetime(2024, 3, 1, tzinfo=UTC),
                ends_at=datetime(2024, 4, 1, tzinfo=UTC),
            ),
            FirstPurchaseBonus(code="welcome", points=50, multiplier=D(3)),
        ],
    )
    orders = table_from_arrow(
        connect(),
        orders_arrow(
            [
                ("c", "2023-12-01", "10.00"),
                ("a", "2024-02-01", "100.00"),
                ("a", "2024-03-05", "100.00"),
                ("c", "2024-02-10", "100.00"),
            ]
        ),
    )
    no_redeem = Assumptions(enrolment_share=1.0, redeemer_share=0.0)
    sim = simulate_program(
        orders,
        ProposedProgram(rules=rules, assumptions=no_redeem),
        start=date(2024, 1, 1),
        end=date(2024, 6, 1),
    )
    t = sim.totals
    assert (t.points_issued, t.points_base, t.points_tier, t.points_bonus) == (650, 300, 0, 350)
    assert [(p.name, p.points, p.cost) for p in sim.cost_parts[:3]] == [
        ("base points", 300, D("3.00")),
        ("tier multiplier points", 0, D("0.00")),
        ("bonus points", 350, D("3.50")),
    ]


def test_worked_example_lines_multipliers_and_a_partial_refund(
    orders_on: Callable[..., ibis.Table], load: Callable[[pa.Table], ibis.Table]
) -> None:
    """Tea ×2 by category, SKU CAKE ×1.5 (beats its category tea), 1 point per unit.
    o1 100.00 with lines tea 60.00 + other 40.00, 40.00 refunded: B = (120 + 40) × 60/100 =
    96 → 96 points. o2 10.00 with CAKE (tea) 10.00: 15. o3 20.00 without lines: 20
    (net amount). Without the lines table every order earns on its net amount: 60 + 10 + 20."""
    rules = PointsProgramConfig(
        earn_per_unit=D(1),
        point_value=D("0.01"),
        category_multipliers={"tea": D(2)},
        sku_multipliers={"CAKE": D("1.5")},
    )
    table = orders_arrow(
        [("a", "2024-01-01", "100.00"), ("a", "2024-01-02", "10.00"), ("b", "2024-01-03", "20.00")]
    )
    table = table.append_column("refunded_amount", pa.array([D(40), D(0), D(0)], MONEY))
    lines = lines_arrow([("o1", "T1", "tea", "60.00"), ("o1", None, None, "40.00")])
    lines = pa.concat_tables([lines, lines_arrow([("o2", "CAKE", "tea", "10.00")])])
    orders = load(table)
    assumptions = Assumptions(enrolment_share=1.0, redeemer_share=0.0)
    program = ProposedProgram(rules=rules, assumptions=assumptions)
    with_lines = simulate_program(orders, program, order_lines=load(lines))
    assert with_lines.entries is not None
    earned = with_lines.entries.filter(pa.compute.equal(with_lines.entries.column("kind"), "earn"))
    assert sorted(earned.column("points").to_pylist()) == [15, 20, 96]
    assert not any("no lines" in note for note in with_lines.notes)
    without = simulate_program(orders, program)
    assert without.totals.points_issued == 60 + 10 + 20
    assert any("no lines" in note for note in without.notes)


def test_columnar_floor_equals_points_earned_on_a_sample() -> None:
    rng = random.Random(5)
    cents = np.array([rng.randint(0, 5_000_000) for _ in range(5_000)], dtype=np.int64)
    for rate, multiplier in [("1", "1"), ("0.37", "1.25"), ("2.5", "3"), ("0.000001", "7")]:
        rules = PointsRules(earn_per_unit=D(rate), point_value=D("0.01"))
        got = floor_times(cents, Fraction(D(rate) * D(multiplier)) / 100)
        want = [points_earned(rules, D(int(c)) / 100, tier_multiplier=D(multiplier)) for c in cents]
        assert got.tolist() == want


def test_columnar_caps_equal_max_redeemable() -> None:
    rules = PointsRules(earn_per_unit=D(1), point_value=D("0.003"), max_redeem_share=D("0.3333"))
    cents = np.array([0, 1, 99, 12_345, 1_000_000, -500], dtype=np.int64)
    big_balance = 10**12
    want = [max_redeemable(rules, D(int(c)) / 100, big_balance) for c in cents]
    assert redeem_caps(rules, cents).tolist() == want


# ---- the oracle: lot-by-lot FIFO with the live rules -----------------------------------


@dataclass(frozen=True)
class Bought:
    """One order of the reference replay: day, the rules' Purchase (UTC instant, lines)."""

    day: date
    purchase: Purchase


def reference_tiers(
    club: TierClubConfig | None, orders: list[Bought]
) -> tuple[list[int], list[int], tiers.TierState | None]:
    """Per order, as the live engine does order after order: the tier index it earns at
    (the state evaluated on to the order with the order's spend, kept), and the tier of
    its discount (the same evaluation without the order, not kept)."""
    if club is None:
        return [-1] * len(orders), [-1] * len(orders), None
    names = [t.name for t in club.tiers]

    def index(state: tiers.TierState) -> int:
        return -1 if state.tier is None else names.index(state.tier)

    state = tiers.TierState("c", datetime(1970, 1, 1, tzinfo=UTC))
    earn_at, discount_at = [], []
    events: list[tiers.QualifyingEvent] = []
    for bought in orders:
        at = bought.purchase.at
        discount_at.append(index(tiers.evaluate(club, events, state, at).state))
        events.append(tiers.QualifyingEvent(at, bought.purchase.amount))
        state = tiers.evaluate(club, events, state, at).state
        earn_at.append(index(state))
    return earn_at, discount_at, state


@dataclass
class Lot:
    index: int
    day: date
    remaining: int


def reference_replay(
    program: ProposedProgram,
    orders: list[Bought],
    history: list[Purchase],
    redeems: bool,
    threshold: int,
    end: date,
    time_zone: str,
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Earned, redeemed and expired points and the discount tier per order of one member,
    one order at a time (``history``: all the customer's purchases, window or not)."""
    rules, club = program.rules, program.tiers
    n = len(orders)
    earned, redeemed, expired = [0] * n, [0] * n, [0] * n
    lots: list[Lot] = []
    expiry = rules.expiry_days
    earn_tier, discount_tier, _state = reference_tiers(club, orders)

    def expire_through(moment: date, inclusive: bool) -> None:
        for lot in lots:
            if expiry is None or lot.remaining == 0:
                continue
            expires = lot.day + timedelta(days=expiry)
            if expires < moment or (inclusive and expires == moment):
                expired[lot.index] += lot.remaining
                lot.remaining = 0

    for k, bought in enumerate(orders):
        day = bought.day
        expire_through(day, inclusive=True)
        tier = None if club is None or earn_tier[k] < 0 else club.tiers[earn_tier[k]]
        multiplier = D(1) if tier is None else tier.earn_multiplier
        lots_of_order = earn_for_purchase(rules, bought.purchase, history, time_zone, multiplier)
        earned[k] = sum(lot.points for lot in lots_of_order)
        matured = [lot for lot in lots if lot.day + timedelta(days=rules.pending_days) <= day]
        available = sum(lot.remaining for lot in matured)
        if redeems and available >= threshold:
            take = max_redeemable(rules, bought.purchase.amount, available)
            redeemed[k] = take
            for lot in matured:  # oldest first
                used = min(lot.remaining, take)
                lot.remaining -= used
                take -= used
        lots.append(Lot(k, day, earned[k]))
    expire_through(end, inclusive=False)
    return earned, redeemed, expired, discount_tier


Row = tuple[str, str, str]
LineRow = tuple[str, str | None, str | None, str]
SKUS = [("S1", "tea"), ("S2", "tea"), ("S3", "cake"), ("S4", None), (None, "cake"), (None, None)]


def random_shop(rng: random.Random, customers: int) -> tuple[list[Row], list[LineRow]]:
    """Orders (local times 04:00–23:59, one instant per customer per minute, so that no
    DST change makes a time ambiguous) and lines for about half of them; a customer in
    five also bought in 2023, before the window."""
    rows: list[Row] = []
    lines: list[LineRow] = []
    for c in range(customers):
        day = date(2024, 1, 1) + timedelta(days=rng.randint(0, 60))
        if rng.random() < 0.2:
            rows.append((f"c{c}", "2023-06-01 10:00", "25.00"))
        minute = 240
        for _ in range(rng.choice([1, 1, 2, 3, 5, 8, 13])):
            minute = rng.randint(minute + 1, 1439) if minute < 1439 else 1439
            order_id = f"o{len(rows) + 1}"
            stamp = f"{day} {minute // 60:02d}:{minute % 60:02d}"
            if rng.random() < 0.5:
                cents = [rng.randint(1, 20_000) for _ in range(rng.randint(1, 3))]
                for amount in cents:
                    sku, category = rng.choice(SKUS)
                    lines.append((order_id, sku, category, f"{amount / 100:.2f}"))
                extra = rng.choice([0, 0, 495])  # shipping outside the lines
                rows.append((f"c{c}", stamp, f"{(sum(cents) + extra) / 100:.2f}"))
            else:
                rows.append((f"c{c}", stamp, f"{rng.randint(0, 40_000) / 100:.2f}"))
            gap = rng.choice([0, 1, 3, 10, 30, 90, 200])
            day += timedelta(days=gap)
            minute = minute if gap == 0 else 240
            if minute >= 1439:
                day, minute = day + timedelta(days=1), 240
    return rows, lines


def lines_arrow(rows: Sequence[LineRow]) -> pa.Table:
    return pa.table(
        {
            "order_id": pa.array([r[0] for r in rows], pa.string()),
            "sku": pa.array([r[1] for r in rows], pa.string()),
            "category": pa.array([r[2] for r in rows], pa.string()),
            "quantity": pa.array([1] * len(rows), pa.int64()),
            "line_amount": pa.array([D(r[3]) for r in rows], MONEY),
        }
    )


BONUSES = [
    PeriodBonus(
        code="spring",
        multiplier=D(2),
        starts_at=datetime(2024, 3, 1, tzinfo=ZoneInfo("Europe/Berlin")),
        ends_at=datetime(2024, 5, 1, tzinfo=ZoneInfo("Europe/Berlin")),
    ),
    PeriodBonus(code="saturday", multiplier=D("1.5"), weekdays=frozenset({6})),
    FirstPurchaseBonus(code="welcome", points=50, multiplier=D("2.5")),
]
RICH = PointsProgramConfig(
    earn_per_unit=D("2.5"),
    point_value=D("0.005"),
    pending_days=0,
    expiry_days=90,
    max_redeem_share=D("0.2"),
    category_multipliers={"tea": D(2), "cake": D("1.25")},
    sku_multipliers={"S3": D(3)},
    bonuses=BONUSES,
)
SHORT_CLUB = TierClubConfig(
    code="vip",
    tiers=[
        Tier(name="silver", threshold=D(300), earn_multiplier=D("1.5"), discount_pct=D(5)),
        Tier(name="gold", threshold=D(900), earn_multiplier=D(2), discount_pct=D("7.5")),
    ],
    window_days=120,
    grace_days=20,
)


@pytest.mark.parametrize(
    ("program", "time_zone"),
    [
        (ProposedProgram(rules=RULES), "UTC"),
        (ProposedProgram(rules=RICH, tiers=SHORT_CLUB), "Europe/Berlin"),
        (ProposedProgram(rules=RICH, tiers=SHORT_CLUB.model_copy(update={"grace_days": 0})), "UTC"),
        (
            ProposedProgram(
                rules=PointsProgramConfig(
                    earn_per_unit=D("0.1"), point_value=D("0.1"), expiry_days=None
                )
            ),
            "UTC",
        ),
    ],
    ids=["default", "bonuses-lines-tiers-berlin", "tiers-no-grace", "no-expiry"],
)
@pytest.mark.parametrize("seed", [11, 12])
def test_columnar_replay_equals_lot_by_lot_fifo(
    program: ProposedProgram, time_zone: str, seed: int
) -> None:
    rng = random.Random(seed)
    end = date(2025, 6, 1)
    all_rows, line_rows = random_shop(rng, 60)
    rows = [r for r in all_rows if r[1] < str(end)]
    assumptions = Assumptions(enrolment_share=1.0, redeemer_share=0.6, redeem_threshold_value=D(3))
    threshold = threshold_points(program.rules, assumptions)
    con = connect()
    orders = table_from_arrow(con, orders_arrow(rows))
    lines = table_from_arrow(con, lines_arrow(line_rows))
    history = load_history(orders, date(2024, 1, 1), end, assumptions, time_zone)
    end_day = (end - date(1970, 1, 1)).days
    end_us = int(local_midnights_us(np.array([end_day]), time_zone)[0])
    replayed = replay_rules(program, orders, lines, history, end_us)
    lots = replay_lots(program.rules, history, replayed.earned.total, threshold, end_day)
    redeemers = dict(zip(history.customer_ids.to_pylist(), history.redeemer.tolist(), strict=True))
    assert 0 < sum(redeemers.values()) < len(redeemers)

    zone = ZoneInfo(time_zone)
    by_order: dict[str, list[OrderLine]] = {}
    for order_id, sku, category, amount in line_rows:
        by_order.setdefault(order_id, []).append(OrderLine(1, D(amount), sku, category))
    by_customer: dict[str, list[Purchase]] = {}
    for i, (customer, stamp, amount) in enumerate(rows):
        at = datetime.fromisoformat(stamp).replace(tzinfo=zone)
        lines_of = tuple(by_order.get(f"o{i + 1}", []))
        by_customer.setdefault(customer, []).append(
            Purchase(f"o{i + 1}", customer, at, D(amount), lines_of)
        )
    want: dict[str, list[int]] = {"earned": [], "redeemed": [], "expired": [], "discount": []}
    for customer in sorted(by_customer):  # the history's order: customer, time, order id
        mine = sorted(by_customer[customer], key=lambda p: (p.at, p.order_id))
        paid = [p for p in mine if p.amount > 0]
        window = [
            Bought(p.at.astimezone(zone).date(), p)
            for p in mine
            if p.at.astimezone(zone).date() >= date(2024, 1, 1)
        ]
        replayed_one = reference_replay(
            program, window, paid, redeemers[customer], threshold, end, time_zone
        )
        for name, values in zip(want, replayed_one, strict=True):
            want[name] += values
    assert lots.points.tolist() == want["earned"]
    assert lots.redeemed.tolist() == want["redeemed"]
    assert lots.expired.tolist() == want["expired"]
    assert replayed.tiers.discount.tolist() == want["discount"]
    assert sum(want["redeemed"]) > 0
    if program.rules.expiry_days is not None:
        assert sum(want["expired"]) > 0
    if program.tiers is not None:
        assert set(want["discount"]) >= {-1, 0, 1}
        assert replayed.tiers.candidates < len(history.first)
        assert replayed.earned.bonus.sum() > 0
        _check_month_end_tiers(program.tiers, history, replayed, by_customer, time_zone)


def _check_month_end_tiers(
    club: TierClubConfig,
    history: History,
    replayed: Replayed,
    by_customer: dict[str, list[Purchase]],
    time_zone: str,
) -> None:
    """Members per tier at a few local midnights = ``tiers.evaluate`` of each member's
    window purchases up to just before that instant."""
    days = np.array([(date(2024, m, 1) - date(1970, 1, 1)).days for m in (2, 4, 7, 11)])
    got = tier_counts(club, history, replayed.tiers, days, time_zone)
    zone = ZoneInfo(time_zone)
    for day, counts in zip(days.tolist(), got, strict=True):
        moment = datetime.combine(date(1970, 1, 1) + timedelta(days=day), datetime.min.time(), zone)
        want = {"base": 0} | {t.name: 0 for t in club.tiers}
        for purchases in by_customer.values():
            window = [p for p in purchases if p.at.astimezone(zone).date() >= date(2024, 1, 1)]
            if not window or window[0].at >= moment:
                continue  # not joined yet
            events = [tiers.QualifyingEvent(p.at, p.amount) for p in window if p.at < moment]
            start = tiers.TierState("c", datetime(1970, 1, 1, tzinfo=UTC))
            before = moment - timedelta(microseconds=1)
            tier = tiers.evaluate(club, events, start, before).state.tier
            want[tier or "base"] += 1
        assert counts == want


def test_earning_with_lines_and_bonuses_equals_earn_for_purchase_on_a_sample() -> None:
    """A sample of 300 orders with and without lines, in and out of bonus periods, at each
    tier multiplier: the columnar parts add up to ``earn_for_purchase``'s lots."""
    rng = random.Random(7)
    rows, line_rows = random_shop(rng, 80)
    con = connect()
    orders = table_from_arrow(con, orders_arrow(rows))
    lines = table_from_arrow(con, lines_arrow(line_rows))
    history = load_history(orders, date(2023, 1, 1), date(2026, 1, 1), ALL_IN)
    multipliers = [D("1.5"), D("1.25"), D(3)]
    tier_index = np.array([rng.randint(-1, 2) for _ in range(history.n)], dtype=np.int64)
    first = first_purchases(orders, history)
    parts = earn(
        RICH,
        earn_base(RICH, orders, lines, history),
        multipliers,
        tier_index,
        bonus_multipliers(RICH, history.at_us, history.weekday, first),
        first,
    )
    assert 0 < first.sum() < history.n
    by_order: dict[str, list[OrderLine]] = {}
    for order_id, sku, category, amount in line_rows:
        by_order.setdefault(order_id, []).append(OrderLine(1, D(amount), sku, category))
    purchases = {
        f"o{i + 1}": Purchase(
            f"o{i + 1}",
            c,
            datetime.fromisoformat(stamp).replace(tzinfo=UTC),
            D(amount),
            tuple(by_order.get(f"o{i + 1}", [])),
        )
        for i, (c, stamp, amount) in enumerate(rows)
    }
    paid = [p for p in purchases.values() if p.amount > 0]
    ids = history.order_ids.to_pylist()
    for k in rng.sample(range(history.n), 300):
        purchase = purchases[ids[k]]
        mine = [p for p in paid if p.customer_id == purchase.customer_id]
        t = D(1) if tier_index[k] < 0 else multipliers[tier_index[k]]
        lots = earn_for_purchase(RICH, purchase, mine, "UTC", t)
        assert int(parts.total[k]) == sum(lot.points for lot in lots), ids[k]
        plain = points_earned(
            RICH, purchase.amount, [line.as_rule_line() for line in purchase.lines]
        )
        assert int(parts.base[k]) == plain


def test_enrolment_share_picks_members_deterministically() -> None:
    rows = [(f"c{i}", "2024-03-01", "10.00") for i in range(2_000)]
    orders = table_from_arrow(connect(), orders_arrow(rows))
    half = Assumptions(enrolment_share=0.5, redeemer_share=0.5)
    first = simulate_program(orders, ProposedProgram(rules=RULES, assumptions=half))
    again = simulate_program(orders, ProposedProgram(rules=RULES, assumptions=half))
    assert first.customers == 2_000
    assert 900 < first.members < 1_100
    assert first.members == again.members
    assert first.totals.points_issued == 10 * first.members
    earned = first.entries.filter(pa.compute.equal(first.entries.column("kind"), "earn"))
    assert earned.num_rows == first.members


def test_columnar_earning_zero_and_tiered_rates() -> None:
    rules = PointsProgramConfig(earn_per_unit=D("1.5"), point_value=D("0.01"))
    cents = np.array([0, 999, 999, 12_345], dtype=np.int64)
    tier_index = np.array([-1, -1, 0, 0], dtype=np.int64)
    none = np.zeros(4, dtype=bool)
    parts = earn(
        rules,
        EarnBase.of_net(cents),
        [D("1.1")],
        tier_index,
        ([D(1)], np.zeros(4, dtype=np.int64)),
        none,
    )
    # 0 → 0; 9.99 × 1.5 = 14.985 → 14; × 1.65 = 16.4835 → 16; 123.45 × 1.65 = 203.69 → 203
    assert parts.total.tolist() == [0, 14, 16, 203]
    assert parts.base.tolist() == [0, 14, 14, 185]  # 123.45 × 1.5 = 185.175


def test_program_toml_and_its_errors(tmp_path: Path) -> None:
    """[rules] is a whole points program config (bonuses too), [tiers] a tiers program
    without a code of its own; a points-based club and the old [[rules.tiers]] are refused
    with the field named."""
    good = tmp_path / "program.toml"
    good.write_text(
        '[rules]\nearn_per_unit = "2"\npoint_value = "0.005"\nexpiry_days = 180\n'
        '[rules.category_multipliers]\ntea = "2"\n'
        '[[rules.bonuses]]\nkind = "first_purchase"\ncode = "welcome"\npoints = 100\n'
        '[[rules.bonuses]]\nkind = "review_written"\ncode = "review"\npoints = 20\n'
        "[tiers]\nwindow_days = 180\ngrace_days = 14\n"
        '[[tiers.tiers]]\nname = "gold"\nthreshold = "1000"\nearn_multiplier = "2"\n'
        "[assumptions]\nenrolment_share = 0.4\n"
    )
    program = load_program(good)
    assert program.rules.earn_per_unit == D(2)
    assert program.rules.bonuses[0].code == "welcome"
    assert program.tiers is not None
    assert (program.tiers.code, program.tiers.window_days, program.tiers.grace_days) == (
        "tiers",
        180,
        14,
    )
    assert program.tiers.tiers[0].name == "gold"
    assert program.assumptions.enrolment_share == 0.4
    for name, text, field in [
        ("bad.toml", '[rules]\nearn_per_unit = "1"\npoint_value = "0"\n', "rules.point_value"),
        (
            "old.toml",
            '[rules]\nearn_per_unit = "1"\npoint_value = "0.01"\n'
            '[[rules.tiers]]\nname = "gold"\nthreshold = "1"\n',
            "rules.tiers: Extra inputs",
        ),
        (
            "points.toml",
            '[rules]\nearn_per_unit = "1"\npoint_value = "0.01"\n[tiers]\nbasis = "points"\n'
            '[[tiers.tiers]]\nname = "gold"\nthreshold = "1"\n',
            "tiers: Value error, basis 'points' is not simulated",
        ),
    ]:
        bad = tmp_path / name
        bad.write_text(text)
        with pytest.raises(RegularsError, match=f"{name}: {field}"):
            load_program(bad)
    with pytest.raises(RegularsError, match="cannot read"):
        load_program(tmp_path / "missing.toml")


def test_action_bonuses_are_named_in_the_notes() -> None:
    profile = ProfileBonus(code="profile", points=30)
    rules = RULES.model_copy(update={"bonuses": [profile]})
    orders = table_from_arrow(connect(), orders_arrow([("a", "2024-01-01", "5.00")]))
    sim = simulate_program(orders, ProposedProgram(rules=rules, assumptions=ALL_IN))
    assert sim.totals.points_issued == 5  # the action's 30 points are not in orders
    assert any("Action bonuses (profile completed)" in note for note in sim.notes)


def test_empty_window_is_a_clear_error() -> None:
    orders = table_from_arrow(connect(), orders_arrow([("a", "2024-01-01", "5.00")]))
    with pytest.raises(RegularsError, match="nothing to simulate"):
        simulate_program(
            orders,
            ProposedProgram(rules=RULES, assumptions=ALL_IN),
            start=date(2025, 1, 1),
            end=date(2025, 2, 1),
        )


@pytest.mark.parametrize(("lift", "answer"), [(3.0, "pays for itself"), (1.0, "does not pay")])
def test_verdict_answers_for_an_expected_lift(lift: float, answer: str) -> None:
    """The worked example needs +2.19 % revenue: a 3 % lift pays, 1 % does not."""
    orders = table_from_arrow(
        connect(),
        orders_arrow(
            [
                ("a", "2024-01-01", "300.00"),
                ("a", "2024-01-10", "400.00"),
                ("a", "2024-02-01", "100.00"),
                ("a", "2024-03-01", "50.00"),
            ]
        ),
    )
    assumptions = ALL_IN.model_copy(update={"expected_lift_pct": lift})
    sim = simulate_program(
        orders,
        ProposedProgram(rules=RULES, assumptions=assumptions),
        end=date(2025, 2, 15),
        margin=D("0.4"),
    )
    assert sim.verdict().endswith(f"with the expected +{lift:.1f} % it {answer}.")


def test_no_verdict_without_a_margin() -> None:
    """Revenue is not profit: without a margin the expected lift gets no "pays" verdict."""
    orders = table_from_arrow(
        connect(), orders_arrow([("a", "2024-01-01", "300.00"), ("a", "2024-01-10", "400.00")])
    )
    assumptions = ALL_IN.model_copy(update={"expected_lift_pct": 50.0})
    sim = simulate_program(orders, ProposedProgram(rules=RULES, assumptions=assumptions))
    text = sim.verdict()
    assert "it pays for itself" not in text
    assert "does not pay" not in text
    assert "no verdict on the expected +50.0 % without a margin" in text
