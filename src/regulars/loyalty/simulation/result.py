"""What the proposed program would have cost on the shop's history (:class:`Simulation`)
and the "is it worth it?" answer in one sentence (:func:`verdict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from regulars.loyalty.economics import measures
from regulars.loyalty.program_types.bonus import PointsProgramConfig
from regulars.loyalty.program_types.tiers import TierClubConfig
from regulars.loyalty.simulation.proposal import Assumptions
from regulars.loyalty.simulation.totals import CostPart, MonthRow, Totals, cost_parts


@dataclass(frozen=True)
class Simulation:
    """What the proposed program would have cost on the shop's history."""

    rules: PointsProgramConfig
    tiers: TierClubConfig | None
    assumptions: Assumptions
    start: date
    end: date
    customers: int
    members: int
    redeemers: int
    baseline: measures.Baseline
    months: list[MonthRow]
    totals: Totals
    break_even: measures.BreakEven
    notes: list[str] = field(default_factory=list)
    entries: pa.Table | None = None
    tier_candidates: int = 0  # members the tier state machine ran for

    def verdict(self) -> str:
        """The "is it worth it?" answer in one sentence."""
        return verdict(self)

    @property
    def cost_parts(self) -> list[CostPart]:
        """The program cost by part (see :func:`~regulars.loyalty.simulation.totals.cost_parts`)."""
        return cost_parts(self.totals)


def verdict(sim: Simulation) -> str:
    """One sentence: what the program costs and the gain it needs (see docs)."""
    t, b = sim.totals, sim.break_even
    months = len(sim.months)
    basis = (
        f"at a {b.margin * 100:.0f} % margin"
        if b.margin is not None
        else "counting revenue, not profit (no margin given)"
    )
    need = f"members must buy {b.required_revenue:,.2f} more"
    if b.required_revenue_lift_pct is not None:
        need += f" (+{b.required_revenue_lift_pct:.1f} % revenue"
        if b.required_repeat_rate_points is not None:
            need += f", or +{b.required_repeat_rate_points:.1f} points of repeat purchase rate"
        need += ")"
    sentence = (
        f"Over {months} months the program would cost {t.program_cost:,.2f}; {basis}, {need} "
        "to pay for it"
    )
    lift = sim.assumptions.expected_lift_pct
    if lift is not None and b.required_revenue_lift_pct is not None:
        if b.margin is None:
            # Revenue is not profit: no verdict on whether the program pays without a margin.
            sentence += (
                f" — no verdict on the expected +{lift:.1f} % without a margin: revenue is "
                "not profit; give one (--margin) for the verdict"
            )
        else:
            answer = "pays for itself" if lift >= b.required_revenue_lift_pct else "does not pay"
            sentence += f" — with the expected +{lift:.1f} % it {answer}"
    return sentence + "."
