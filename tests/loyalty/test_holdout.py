"""Control-group assignment and the effect estimates, against hand-computed numbers,
a published example and a coverage simulation."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import ibis
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from regulars.analytics.validation import AnalysisArgumentError
from regulars.data.schema import MONEY
from regulars.loyalty.accounting.control import (
    assignment_unit,
    assignment_units,
    control_mask,
    in_control_group,
)
from regulars.loyalty.economics.holdout import (
    GroupOutcome,
    compare_groups,
    measure_effect,
    newcombe_difference,
    welch_difference,
)

IDS = [f"customer-{i}" for i in range(100_000)]


@pytest.mark.parametrize("share", [0.05, 0.1, 0.5])
def test_share_of_100k_ids_within_tolerance(share: float) -> None:
    """Binomial sd of the share at n = 100,000 is ≤ 0.0016; allow 0.005 (> 3 sd)."""
    held = sum(in_control_group(c, "spring-points", share) for c in IDS)
    assert abs(held / len(IDS) - share) < 0.005


def test_assignment_is_stable_monotone_and_independent_between_programs() -> None:
    # SHA-256("holdout:p:c1")[0:8] / 2^64, computed once: a change here moves customers.
    assert assignment_unit("c1", "holdout:p") == pytest.approx(0.044914354417980154, abs=1e-15)
    assert in_control_group("c1", "p", 0.05)
    assert not in_control_group("c1", "p", 0.04)
    small = {c for c in IDS[:20_000] if in_control_group(c, "a", 0.1)}
    large = {c for c in IDS[:20_000] if in_control_group(c, "a", 0.2)}
    assert small <= large
    other = {c for c in IDS[:20_000] if in_control_group(c, "b", 0.1)}
    # independent draws overlap on ≈ 0.1 × 0.1 × 20,000 = 200 customers
    assert 140 < len(small & other) < 260


def test_vectorised_assignment_equals_the_scalar_one() -> None:
    ids = IDS[:5_000]
    mask = control_mask(ids, "spring-points", 0.3)
    assert mask.tolist() == [in_control_group(c, "spring-points", 0.3) for c in ids]
    units = assignment_units(ids[:3], "salt")
    assert units[:, 0].tolist() == [assignment_unit(c, "salt") for c in ids[:3]]
    # the other words of the digest are independent draws: about uncorrelated
    many = assignment_units(ids, "salt")
    assert abs(np.corrcoef(many[:, 0], many[:, 1])[0, 1]) < 0.05


def test_share_out_of_range_is_refused() -> None:
    with pytest.raises(AnalysisArgumentError, match="control share"):
        in_control_group("c1", "p", 1.5)


def test_two_by_two_by_hand() -> None:
    """Members 300 of 1,000 bought again, control 250 of 1,000: Δp = 0.05, lift 20 %.

    z = 1.95996. Wilson, members: centre (0.3 + z²/2000) / (1 + z²/1000) = 0.300766,
    half-width z·sqrt(0.21/1000 + z²/4·10⁶) / 1.003841 = 0.028359 → [0.272407, 0.329124];
    control → [0.224153, 0.277760]. Newcombe:
    L = 0.05 − sqrt(0.027593² + 0.027760²) = 0.05 − 0.039141 = 0.010859,
    U = 0.05 + sqrt(0.029124² + 0.025847²) = 0.05 + 0.038939 = 0.088939.
    """
    members = GroupOutcome(1000, 300, 0.0, 0.0)
    control = GroupOutcome(1000, 250, 0.0, 0.0)
    diff = newcombe_difference(members, control, 0.95)
    assert diff.estimate == pytest.approx(0.05)
    assert diff.low == pytest.approx(0.010859, abs=1e-6)
    assert diff.high == pytest.approx(0.088939, abs=1e-6)
    assert diff.lift_pct == pytest.approx(20.0)


def test_newcombe_published_example() -> None:
    """Newcombe (1998), example (a): 56/70 − 48/80 = 0.2000, method 10: 0.0524 to 0.3339."""
    diff = newcombe_difference(GroupOutcome(70, 56, 0, 0), GroupOutcome(80, 48, 0, 0), 0.95)
    assert (round(diff.low or 0, 4), round(diff.high or 0, 4)) == (0.0524, 0.3339)


def test_welch_by_hand_and_against_scipy() -> None:
    """Revenues 1, 2, 3, 4 (mean 2.5, s² = 5/3) vs 2, 4, 6 (mean 4, s² = 4): Δ = −1.5,
    se = sqrt(5/12 + 4/3) = sqrt(1.75) = 1.3229, ν = 1.75² / ((5/12)²/3 + (4/3)²/2)
    = 3.0625 / 0.94676 = 3.2347; t(0.975, 3.2347) = 3.0552 → [−5.5423, 2.5423]."""
    members = GroupOutcome(4, 4, 2.5, 5 / 3)
    control = GroupOutcome(3, 3, 4.0, 4.0)
    diff = welch_difference(members, control, 0.95)
    se, dof = math.sqrt(1.75), 1.75**2 / ((5 / 12) ** 2 / 3 + (4 / 3) ** 2 / 2)
    assert dof == pytest.approx(3.2347, abs=1e-4)
    t = stats.t.ppf(0.975, dof)
    assert (diff.low, diff.high) == pytest.approx((-1.5 - t * se, -1.5 + t * se))
    assert diff.low == pytest.approx(-5.5423, abs=1e-4)
    scipy_ci = stats.ttest_ind([1, 2, 3, 4], [2, 4, 6], equal_var=False).confidence_interval()
    assert (diff.low, diff.high) == pytest.approx((scipy_ci.low, scipy_ci.high))
    assert diff.lift_pct == pytest.approx(-37.5)


def test_measure_effect_in_the_engine(load: Callable[[pa.Table], ibis.Table]) -> None:
    """March 2024. Members: m1 buys 10 + 20, m2 buys 10, m3 nothing, m4 only in February →
    n 4, buyers 2, revenue 30, 10, 0, 0 (mean 10, s² = (400 + 0 + 100 + 100) / 3 = 200).
    Control: c1 buys 20, c2 nothing, c3's order is cancelled → n 3, buyers 1, revenue
    20, 0, 0 (mean 6.667, s² = 133.33)."""
    rows = [
        ("m1", "2024-03-02", "10.00", "completed"),
        ("m1", "2024-03-20", "20.00", "completed"),
        ("m2", "2024-03-05", "10.00", "completed"),
        ("m4", "2024-02-05", "99.00", "completed"),
        ("c1", "2024-03-31", "20.00", "completed"),
        ("c3", "2024-03-10", "50.00", "cancelled"),
    ]
    orders = load(
        pa.table(
            {
                "customer_id": [r[0] for r in rows],
                "order_id": [f"o{i}" for i in range(len(rows))],
                "ordered_at": pa.array(
                    [datetime.fromisoformat(r[1]) for r in rows], pa.timestamp("us")
                ),
                "amount": pa.array([Decimal(r[2]) for r in rows], MONEY),
                "status": [r[3] for r in rows],
            }
        )
    )
    groups = load(
        pa.table(
            {
                "customer_id": ["m1", "m2", "m3", "m4", "c1", "c2", "c3"],
                "group": ["member"] * 4 + ["control"] * 3,
            }
        )
    )
    effect = measure_effect(orders, groups, date(2024, 3, 1), date(2024, 4, 1))
    assert (effect.members.customers, effect.members.buyers) == (4, 2)
    assert effect.members.revenue_mean == pytest.approx(10.0)
    assert effect.members.revenue_variance == pytest.approx(200.0)
    assert effect.control.customers == 3
    assert effect.control.buyers == 1
    assert effect.control.revenue_mean == pytest.approx(20 / 3)
    assert effect.control.revenue_variance == pytest.approx(400 / 3)
    assert effect.repeat_rate_diff.estimate == pytest.approx(0.5 - 1 / 3)
    assert effect.incremental_revenue == pytest.approx((10 - 20 / 3) * 4)
    only_members = groups.filter(groups.group == "member")
    with pytest.raises(AnalysisArgumentError, match="control group"):
        measure_effect(orders, only_members, date(2024, 3, 1), date(2024, 4, 1))


def test_intervals_cover_the_true_effect_about_95_percent() -> None:
    """1,000 synthetic experiments (500 members at p = 0.32, 500 controls at p = 0.27;
    a buyer spends Gamma(2, 25), mean 50): the true Δp = 0.05 and Δm = 0.05 × 50 = 2.5
    must lie inside ≈ 95 % of the intervals (binomial sd of the coverage: 0.7 points)."""
    rng = np.random.default_rng(20261201)
    draws, n = 1_000, 500
    covered_p = covered_m = 0
    for _ in range(draws):
        outcomes = []
        for p in (0.32, 0.27):
            bought = rng.random(n) < p
            revenue = np.where(bought, rng.gamma(2.0, 25.0, n), 0.0)
            outcomes.append(
                GroupOutcome(
                    n, int(bought.sum()), float(revenue.mean()), float(revenue.var(ddof=1))
                )
            )
        effect = compare_groups(outcomes[0], outcomes[1])
        rate, money = effect.repeat_rate_diff, effect.revenue_per_customer_diff
        assert rate.low is not None
        assert rate.high is not None
        assert money.low is not None
        assert money.high is not None
        covered_p += rate.low <= 0.05 <= rate.high
        covered_m += money.low <= 2.5 <= money.high
    assert 0.93 <= covered_p / draws <= 0.97
    assert 0.93 <= covered_m / draws <= 0.97


def test_bad_confidence_or_empty_group() -> None:
    group = GroupOutcome(10, 2, 1.0, 1.0)
    with pytest.raises(AnalysisArgumentError, match="confidence"):
        compare_groups(group, group, 1.0)
    with pytest.raises(AnalysisArgumentError, match="need customers"):
        compare_groups(group, GroupOutcome(0, 0, 0.0, 0.0))
