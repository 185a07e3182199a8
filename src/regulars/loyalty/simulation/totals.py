"""The simulation by month and in total: revenue, points issued, redeemed, expired and
outstanding, liability, reward cost, members per tier, and the program's cost by part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from regulars.loyalty.economics import measures
from regulars.loyalty.economics.results import Breakage, FlowRow
from regulars.loyalty.program_types.earning import PointsRules
from regulars.loyalty.program_types.tiers import TierClubConfig
from regulars.loyalty.simulation.history import History, Ints, day_number, local_midnights_us
from regulars.loyalty.simulation.proposal import Assumptions, ProposedProgram
from regulars.loyalty.simulation.replay import Replayed
from regulars.loyalty.simulation.rules import Earned, TierTimeline, tier_mix

BASE_TIER = "base"


@dataclass(frozen=True)
class MonthRow:
    month: date
    revenue: Decimal  # members' net revenue
    points_issued: int
    points_redeemed: int
    points_expired: int
    points_outstanding: int  # at the month's end
    liability: Decimal  # outstanding × point value, at the month's end
    redeemed_value: Decimal
    tier_discounts: Decimal
    reward_cost: Decimal  # redeemed value + tier discounts
    members: int  # members who had joined by the month's end
    tiers: dict[str, int]  # members per tier at the month's end (``base``: no tier)


@dataclass(frozen=True)
class CostPart:
    """One part of the program's cost: ``points`` it issued (None for money given as
    discounts) and its ``cost``."""

    name: str
    points: int | None
    cost: Decimal


@dataclass(frozen=True)
class Totals:
    points_issued: int
    points_redeemed: int
    points_expired: int
    points_outstanding: int
    liability: Decimal
    redeemed_value: Decimal
    tier_discounts: Decimal
    fixed_costs: Decimal
    expected_outstanding_cost: Decimal  # liability × (1 − expected breakage)
    program_cost: Decimal  # redeemed + discounts + fixed + expected outstanding
    breakage_rate: float | None  # of lots that ended in the window
    expected_breakage: float  # used for the outstanding points
    points_base: int = 0  # issued at multiplier 1 (no tier, no bonus)
    points_tier: int = 0  # issued by the tier multipliers
    points_bonus: int = 0  # issued by bonuses (multipliers and first-purchase points)


def cost_parts(t: Totals) -> list[CostPart]:
    """The cost of each part. Points are fungible (FIFO lots), so the cost of the points
    — redeemed value + expected cost of the outstanding ones — is shared by the parts in
    proportion to the points each issued (cents half-up; the bonus part takes the rounding
    rest); tier discounts and fixed costs are their own parts."""
    points_cost = t.redeemed_value + t.expected_outstanding_cost
    issued = t.points_issued

    def share(points: int) -> Decimal:
        if issued == 0:
            return Decimal("0.00")
        return (points_cost * points / issued).quantize(measures.CENT, rounding=ROUND_HALF_UP)

    base, tier = share(t.points_base), share(t.points_tier)
    bonus = (points_cost - base - tier).quantize(measures.CENT, rounding=ROUND_HALF_UP)
    return [
        CostPart("base points", t.points_base, base),
        CostPart("tier multiplier points", t.points_tier, tier),
        CostPart("bonus points", t.points_bonus, bonus),
        CostPart("tier discounts", None, t.tier_discounts),
        CostPart("fixed costs", None, t.fixed_costs),
    ]


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _bincount_int(index: Ints, values: Ints, size: int) -> Ints:
    """Exact integer group sums (np.bincount would go through float64)."""
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, index, values)
    return out


def _month_index(days: Ints, first_month: date) -> Ints:
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months - (first_month.year - 1970) * 12 - (first_month.month - 1)


def tier_counts(
    club: TierClubConfig | None,
    history: History,
    timeline: TierTimeline,
    moments: Ints,
    timezone: str,
) -> list[dict[str, int]]:
    """Members per tier at the start of each day ``moments`` (days since 1970): members
    who joined before it, by their tier at that instant (the last change effective
    strictly before it); ``base`` = no tier."""
    members = np.arange(len(history.first), dtype=np.int64)
    held = (
        tier_mix(club, timeline, local_midnights_us(moments, timezone))
        if club
        else np.zeros((len(moments), 0), dtype=np.int64)
    )
    names = [t.name for t in club.tiers] if club else []
    counts = []
    for row, moment in enumerate(moments.tolist()):
        end = history.search_for(members, np.full(len(members), moment, dtype=np.int64), "left")
        joined = int((end > history.first).sum())
        tiered = {name: int(held[row, k]) for k, name in enumerate(names)}
        counts.append({BASE_TIER: joined - sum(tiered.values())} | tiered)
    return counts


def member_baseline(history: History) -> measures.Baseline:
    orders_per_member = np.bincount(history.cust, minlength=len(history.first))
    repeaters = orders_per_member >= 2
    return measures.Baseline(
        buyers=int((orders_per_member > 0).sum()),
        orders=history.n,
        revenue=_money(int(history.cents.sum())),
        repeat_buyers=int(repeaters.sum()),
        repeat_orders=int((orders_per_member[repeaters] - 1).sum()),
    )


def month_rows(
    program: ProposedProgram,
    history: History,
    replayed: Replayed,
    flows: list[FlowRow],
    timezone: str,
) -> list[MonthRow]:
    first_month = flows[0].period_start
    n_months = len(flows)
    month = _month_index(history.day, first_month)
    revenue = _bincount_int(month, history.cents, n_months)
    discounts = _bincount_int(month, replayed.discount_micros, n_months)
    ends = [
        flows[i + 1].period_start if i + 1 < n_months else _next_month(first_month, i)
        for i in range(n_months)
    ]
    moments = np.array([day_number(e) for e in ends], dtype=np.int64)
    counts = tier_counts(program.tiers, history, replayed.tiers, moments, timezone)
    rows = []
    for i, flow in enumerate(flows):
        redeemed_value = flow.redeemed * program.rules.point_value
        discount = Decimal(int(discounts[i])) / 10**6
        rows.append(
            MonthRow(
                month=flow.period_start,
                revenue=_money(int(revenue[i])),
                points_issued=flow.issued,
                points_redeemed=flow.redeemed,
                points_expired=flow.expired,
                points_outstanding=flow.outstanding_end,
                liability=flow.liability_end,
                redeemed_value=redeemed_value,
                tier_discounts=discount,
                reward_cost=redeemed_value + discount,
                members=sum(counts[i].values()),
                tiers=counts[i],
            )
        )
    return rows


def _next_month(first_month: date, index: int) -> date:
    months = first_month.year * 12 + first_month.month - 1 + index + 1
    return date(months // 12, months % 12 + 1, 1)


def program_totals(
    rules: PointsRules,
    assumptions: Assumptions,
    months: list[MonthRow],
    breakage: Breakage,
    earned: Earned,
) -> Totals:
    last = months[-1]
    redeemed = sum(m.points_redeemed for m in months)
    discounts = sum((m.tier_discounts for m in months), Decimal(0)).quantize(
        measures.CENT, rounding=ROUND_HALF_UP
    )
    fixed = assumptions.fixed_cost_per_month * len(months)
    expected = (
        assumptions.expected_breakage
        if assumptions.expected_breakage is not None
        else (breakage.rate or 0.0)
    )
    outstanding_cost = (last.liability * (1 - Decimal(str(expected)))).quantize(
        measures.CENT, rounding=ROUND_HALF_UP
    )
    redeemed_value = redeemed * rules.point_value
    return Totals(
        points_issued=sum(m.points_issued for m in months),
        points_redeemed=redeemed,
        points_expired=sum(m.points_expired for m in months),
        points_outstanding=last.points_outstanding,
        liability=last.liability,
        redeemed_value=redeemed_value,
        tier_discounts=discounts,
        fixed_costs=fixed,
        expected_outstanding_cost=outstanding_cost,
        program_cost=(redeemed_value + discounts + fixed + outstanding_cost).quantize(
            measures.CENT, rounding=ROUND_HALF_UP
        ),
        breakage_rate=breakage.rate,
        expected_breakage=expected,
        points_base=int(earned.base.sum()),
        points_tier=int(earned.tier.sum()),
        points_bonus=int(earned.bonus.sum()),
    )
