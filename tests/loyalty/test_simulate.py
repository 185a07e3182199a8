"""The program simulator: hand-computed worked examples, and the columnar replay against
a lot-by-lot FIFO replay written with the shared rules (points_earned, tier_for,
max_redeemable) on random histories."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pytest

from regulars.data.schema import MONEY
from regulars.engine import connect, table_from_arrow
from regulars.errors import RegularsError
from regulars.loyalty.rules import PointsRules, Tier, max_redeemable, points_earned, tier_for
from regulars.loyalty.simulate import (
    Assumptions,
    ProgramConfig,
    earned_points,
    floor_times,
    load_history,
    load_program,
    redeem_caps,
    replay_lots,
    simulate_program,
    threshold_points,
    tier_index,
)

D = Decimal
ALL_IN = Assumptions(enrolment_share=1.0, redeemer_share=1.0, redeem_threshold_value=D(5))
RULES = PointsRules(earn_per_unit=D(1), point_value=D("0.01"))  # pending 14, expiry 365


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
    program = ProgramConfig(rules=RULES, assumptions=ALL_IN)
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


def test_worked_example_tiers_multiplier_discount_and_distribution() -> None:
    """Silver from 500.00 spent in 365 days: ×1.5 points and 10 % discount.

    b buys 600.00 on 2024-01-01 (no earlier spend: base, 600 points), 100.00 on
    2024-01-02 (600 in the window: silver, 150 points, 10.00 discount) and 100.00 on
    2025-01-03 (the window (2024-01-04, 2025-01-03] holds nothing earlier: base, 100
    points). At the end of January 2024 b is silver (700 spent); at the end of January 2025
    the window [2024-02-01, 2025-01-31] holds 100.00 only: base.
    """
    rules = RULES.model_copy(
        update={
            "tiers": [
                Tier(
                    name="silver",
                    threshold=D(500),
                    earn_multiplier=D("1.5"),
                    discount_pct=D(10),
                )
            ]
        }
    )
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
    sim = simulate_program(orders, ProgramConfig(rules=rules, assumptions=no_redeem))
    assert sim.totals.points_issued == 850
    assert sim.totals.tier_discounts == D("10.00")
    months = {m.month: m for m in sim.months}
    assert months[date(2024, 1, 1)].tiers == {"base": 0, "silver": 1}
    assert months[date(2024, 1, 1)].tier_discounts == D(10)
    assert months[date(2025, 1, 1)].tiers == {"base": 1, "silver": 0}
    assert sim.break_even.basis == "revenue"
    assert any("No margin" in note for note in sim.notes)


def test_columnar_floor_equals_points_earned_on_a_sample() -> None:
    rng = random.Random(5)
    cents = np.array([rng.randint(0, 5_000_000) for _ in range(5_000)], dtype=np.int64)
    for earn, multiplier in [("1", "1"), ("0.37", "1.25"), ("2.5", "3"), ("0.000001", "7")]:
        rules = PointsRules(earn_per_unit=D(earn), point_value=D("0.01"))
        got = floor_times(cents, Fraction(D(earn) * D(multiplier)) / 100)
        want = [points_earned(rules, D(int(c)) / 100, tier_multiplier=D(multiplier)) for c in cents]
        assert got.tolist() == want


def test_columnar_caps_equal_max_redeemable() -> None:
    rules = PointsRules(earn_per_unit=D(1), point_value=D("0.003"), max_redeem_share=D("0.3333"))
    cents = np.array([0, 1, 99, 12_345, 1_000_000, -500], dtype=np.int64)
    big_balance = 10**12
    want = [max_redeemable(rules, D(int(c)) / 100, big_balance) for c in cents]
    assert redeem_caps(rules, cents).tolist() == want


# ---- the oracle: lot-by-lot FIFO with the shared rules ---------------------------------


@dataclass
class Lot:
    index: int
    day: date
    remaining: int


def reference_replay(
    rules: PointsRules,
    orders: list[tuple[date, Decimal]],
    redeems: bool,
    threshold: int,
    end: date,
) -> tuple[list[int], list[int], list[int]]:
    """Earned, redeemed and expired points per order of one member, one order at a time."""
    earned, redeemed, expired = [0] * len(orders), [0] * len(orders), [0] * len(orders)
    lots: list[Lot] = []
    expiry = rules.expiry_days

    def expire_through(moment: date, inclusive: bool) -> None:
        for lot in lots:
            if expiry is None or lot.remaining == 0:
                continue
            expires = lot.day + timedelta(days=expiry)
            if expires < moment or (inclusive and expires == moment):
                expired[lot.index] += lot.remaining
                lot.remaining = 0

    for k, (day, amount) in enumerate(orders):
        expire_through(day, inclusive=True)
        window = sum(
            (a for d, a in orders[:k] if d > day - timedelta(days=rules.tier_window_days)),
            D(0),
        )
        tier = tier_for(rules, window)
        earned[k] = points_earned(
            rules, amount, tier_multiplier=tier.earn_multiplier if tier else D(1)
        )
        matured = [lot for lot in lots if lot.day + timedelta(days=rules.pending_days) <= day]
        available = sum(lot.remaining for lot in matured)
        if redeems and available >= threshold:
            take = max_redeemable(rules, amount, available)
            redeemed[k] = take
            for lot in matured:  # oldest first
                used = min(lot.remaining, take)
                lot.remaining -= used
                take -= used
        lots.append(Lot(k, day, earned[k]))
    expire_through(end, inclusive=False)
    return earned, redeemed, expired


def random_orders(rng: random.Random, customers: int) -> list[tuple[str, str, str]]:
    rows = []
    for c in range(customers):
        day = date(2024, 1, 1) + timedelta(days=rng.randint(0, 60))
        for _ in range(rng.choice([1, 1, 2, 3, 5, 8, 13])):
            minute = rng.randint(0, 1439)
            stamp = f"{day} {minute // 60:02d}:{minute % 60:02d}"
            rows.append((f"c{c}", stamp, f"{rng.randint(0, 40_000) / 100:.2f}"))
            day += timedelta(days=rng.choice([0, 1, 3, 10, 30, 90, 200]))
    return rows


@pytest.mark.parametrize(
    "rules",
    [
        RULES,
        PointsRules(
            earn_per_unit=D("2.5"),
            point_value=D("0.005"),
            pending_days=0,
            expiry_days=90,
            max_redeem_share=D("0.2"),
            tier_window_days=120,
            tiers=[
                Tier(name="silver", threshold=D(300), earn_multiplier=D("1.5")),
                Tier(name="gold", threshold=D(900), earn_multiplier=D(2)),
            ],
        ),
        PointsRules(earn_per_unit=D("0.1"), point_value=D("0.1"), expiry_days=None),
    ],
    ids=["default", "tiers-short-expiry", "no-expiry"],
)
@pytest.mark.parametrize("seed", [11, 12])
def test_columnar_replay_equals_lot_by_lot_fifo(rules: PointsRules, seed: int) -> None:
    rng = random.Random(seed)
    end = date(2025, 6, 1)
    rows = [r for r in random_orders(rng, 60) if r[1] < str(end)]
    assumptions = Assumptions(enrolment_share=1.0, redeemer_share=0.6, redeem_threshold_value=D(3))
    threshold = threshold_points(rules, assumptions)
    orders = table_from_arrow(connect(), orders_arrow(rows))
    history = load_history(orders, date(2024, 1, 1), end, assumptions)
    lots = replay_lots(
        rules, history, tier_index(rules, history), threshold, (end - date(1970, 1, 1)).days
    )
    redeemers = dict(zip(history.customer_ids.to_pylist(), history.redeemer.tolist(), strict=True))
    assert 0 < sum(redeemers.values()) < len(redeemers)
    want_earned, want_redeemed, want_expired = [], [], []
    by_customer: dict[str, list[tuple[str, str, str]]] = {}
    for i, (customer, stamp, amount) in enumerate(rows):
        by_customer.setdefault(customer, []).append((stamp, f"o{i + 1}", amount))
    for customer in sorted(by_customer):  # the history's order: customer, time, order id
        mine = sorted(by_customer[customer])
        parsed = [(datetime.fromisoformat(r[0]).date(), D(r[2])) for r in mine]
        e, r, x = reference_replay(rules, parsed, redeemers[customer], threshold, end)
        want_earned += e
        want_redeemed += r
        want_expired += x
    assert lots.points.tolist() == want_earned
    assert lots.redeemed.tolist() == want_redeemed
    assert lots.expired.tolist() == want_expired
    assert sum(want_redeemed) > 0
    if rules.expiry_days is not None:
        assert sum(want_expired) > 0


def test_tier_index_equals_tier_for() -> None:
    rules = PointsRules(
        earn_per_unit=D(1),
        point_value=D("0.01"),
        tier_window_days=30,
        tiers=[
            Tier(name="gold", threshold=D(900)),
            Tier(name="silver", threshold=D(300)),
        ],
    )
    rows = random_orders(random.Random(3), 40)
    orders = table_from_arrow(connect(), orders_arrow(rows))
    history = load_history(orders, date(2024, 1, 1), date(2026, 1, 1), ALL_IN)
    got = tier_index(rules, history)
    days, cents, cust = history.day, history.cents, history.cust
    for k in range(history.n):
        earlier = [j for j in range(k) if cust[j] == cust[k] and days[j] > days[k] - 30]
        spend = sum((D(int(cents[j])) / 100 for j in earlier), D(0))
        tier = tier_for(rules, spend)
        assert got[k] == (-1 if tier is None else rules.tiers.index(tier))


def test_enrolment_share_picks_members_deterministically() -> None:
    rows = [(f"c{i}", "2024-03-01", "10.00") for i in range(2_000)]
    orders = table_from_arrow(connect(), orders_arrow(rows))
    half = Assumptions(enrolment_share=0.5, redeemer_share=0.5)
    first = simulate_program(orders, ProgramConfig(rules=RULES, assumptions=half))
    again = simulate_program(orders, ProgramConfig(rules=RULES, assumptions=half))
    assert first.customers == 2_000
    assert 900 < first.members < 1_100
    assert first.members == again.members
    assert first.totals.points_issued == 10 * first.members
    earned = first.entries.filter(pa.compute.equal(first.entries.column("kind"), "earn"))
    assert earned.num_rows == first.members


def test_columnar_earning_zero_and_tiered_rates() -> None:
    rules = PointsRules(
        earn_per_unit=D("1.5"),
        point_value=D("0.01"),
        tiers=[Tier(name="vip", threshold=D(100), earn_multiplier=D("1.1"))],
    )
    cents = np.array([0, 999, 999, 12_345], dtype=np.int64)
    tiers = np.array([-1, -1, 0, 0], dtype=np.int64)
    # 0 → 0; 9.99 × 1.5 = 14.985 → 14; × 1.65 = 16.4835 → 16; 123.45 × 1.65 = 203.69 → 203
    assert earned_points(rules, cents, tiers).tolist() == [0, 14, 16, 203]


def test_program_toml_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "program.toml"
    good.write_text(
        '[rules]\nearn_per_unit = "2"\npoint_value = "0.005"\nexpiry_days = 180\n'
        '[[rules.tiers]]\nname = "gold"\nthreshold = "1000"\nearn_multiplier = "2"\n'
        "[assumptions]\nenrolment_share = 0.4\n"
    )
    program = load_program(good)
    assert program.rules.earn_per_unit == D(2)
    assert program.rules.tiers[0].name == "gold"
    assert program.assumptions.enrolment_share == 0.4
    bad = tmp_path / "bad.toml"
    bad.write_text('[rules]\nearn_per_unit = "1"\npoint_value = "0"\n')
    with pytest.raises(RegularsError, match=r"bad.toml: rules.point_value"):
        load_program(bad)
    with pytest.raises(RegularsError, match="cannot read"):
        load_program(tmp_path / "missing.toml")


def test_empty_window_is_a_clear_error() -> None:
    orders = table_from_arrow(connect(), orders_arrow([("a", "2024-01-01", "5.00")]))
    with pytest.raises(RegularsError, match="nothing to simulate"):
        simulate_program(
            orders,
            ProgramConfig(rules=RULES, assumptions=ALL_IN),
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
        ProgramConfig(rules=RULES, assumptions=assumptions),
        end=date(2025, 2, 15),
        margin=D("0.4"),
    )
    assert sim.verdict().endswith(f"with the expected +{lift:.1f} % it {answer}.")
