"""The simulator's run: read the purchases, replay the rules, redeem and expire the lots,
write the entries and compute the months, totals, break-even and notes
(:func:`simulate_program`; the method is the package docstring's).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import ibis.expr.types as ir
import numpy as np

from regulars.analytics.transactions import purchases
from regulars.engine import connect, table_from_arrow
from regulars.errors import RegularsError
from regulars.loyalty.economics import measures
from regulars.loyalty.economics.results import Breakage
from regulars.loyalty.program_types.bonus import PointsProgramConfig, ProfileBonus, ReviewBonus
from regulars.loyalty.simulation.entries import ledger_entries
from regulars.loyalty.simulation.history import day_number, load_history, local_midnights_us
from regulars.loyalty.simulation.lots import replay_lots, threshold_points
from regulars.loyalty.simulation.proposal import ProposedProgram
from regulars.loyalty.simulation.replay import replay_rules
from regulars.loyalty.simulation.result import Simulation
from regulars.loyalty.simulation.totals import member_baseline, month_rows, program_totals

Progress = Callable[[str], None]


def purchase_window(orders: ir.Table) -> tuple[date, date]:
    """First purchase day and the day after the last one."""
    bought = purchases(orders)
    row = bought.aggregate(first=bought.order_date.min(), last=bought.order_date.max())
    values = row.to_pyarrow().to_pylist()[0]
    if values["first"] is None:
        raise RegularsError("no purchases to simulate the program on")
    return values["first"], values["last"] + timedelta(days=1)


def simulate_program(
    orders: ir.Table,
    program: ProposedProgram,
    *,
    order_lines: ir.Table | None = None,
    timezone: str = "UTC",
    start: date | None = None,
    end: date | None = None,
    margin: Decimal | None = None,
    progress: Progress | None = None,
) -> Simulation:
    """Replay ``orders`` (canonical, local time in ``timezone``) under ``program`` over
    ``[start, end)`` (default: the whole purchase history); ``order_lines`` (canonical, in
    the same engine) make SKU/category multipliers count. See the package docstring."""
    step = progress or (lambda _name: None)
    rules, assumptions = program.rules, program.assumptions
    if start is None or end is None:
        first, after_last = purchase_window(orders)
        start, end = start or first, end or after_last
    if not start < end:
        raise RegularsError(f"the window [{start}, {end}) is empty: start must be before end")
    step("reading purchases")
    history = load_history(orders, start, end, assumptions, timezone)
    if history.n == 0:
        raise RegularsError("no member made a purchase in the window: nothing to simulate")
    step("tiers, earning, redeeming and expiring points")
    end_day = day_number(end)
    end_us = int(local_midnights_us(np.array([end_day], dtype=np.int64), timezone)[0])
    replayed = replay_rules(program, orders, order_lines, history, end_us)
    lots = replay_lots(
        rules, history, replayed.earned.total, threshold_points(rules, assumptions), end_day
    )
    entries = ledger_entries(history, lots)
    step("monthly flows and liability")
    table = table_from_arrow(connect(), entries)
    flows = measures.points_flow(table, start, end, rules.point_value, "month")
    months = month_rows(program, history, replayed, flows, timezone)
    breakage = measures.breakage(table, start, end)
    totals = program_totals(rules, assumptions, months, breakage, replayed.earned)
    baseline = member_baseline(history)
    return Simulation(
        rules=rules,
        tiers=program.tiers,
        assumptions=assumptions,
        start=start,
        end=end,
        customers=history.customers_seen,
        members=len(history.first),
        redeemers=int(history.redeemer.sum()),
        baseline=baseline,
        months=months,
        totals=totals,
        break_even=measures.break_even(totals.program_cost, margin, baseline),
        notes=_notes(rules, margin, breakage, has_lines=order_lines is not None),
        entries=entries,
        tier_candidates=replayed.tiers.candidates,
    )


def _notes(
    rules: PointsProgramConfig,
    margin: Decimal | None,
    breakage: Breakage,
    *,
    has_lines: bool,
) -> list[str]:
    notes = []
    if margin is None:
        notes.append(
            "No margin given: the break-even is the revenue that covers the cost, not profit; "
            "pass --margin (or set margin in regulars.toml) for the profit answer."
        )
    if (rules.sku_multipliers or rules.category_multipliers) and not has_lines:
        notes.append(
            "The orders have no lines, so SKU and category multipliers are not applied: "
            "points are earned on order totals."
        )
    actions = sorted({b.kind for b in rules.bonuses if isinstance(b, ReviewBonus | ProfileBonus)})
    if actions:
        notes.append(
            f"Action bonuses ({', '.join(a.replace('_', ' ') for a in actions)}) are granted "
            "on actions that are not in an order history: they are not simulated."
        )
    if rules.expiry_days is not None and breakage.lots == 0:
        notes.append(
            "No lot reached its expiry inside the window, so no breakage was observed; the "
            "outstanding points are costed as if all were redeemed unless expected_breakage is set."
        )
    return notes
