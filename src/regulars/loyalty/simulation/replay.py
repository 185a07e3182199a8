"""The program's rules replayed over every member's purchases: tiers, points and tier
discounts per order (definitions and exactness: :mod:`regulars.loyalty.simulation.rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from regulars.loyalty.program_types.bonus import FirstPurchaseBonus
from regulars.loyalty.program_types.earning import PointsRules
from regulars.loyalty.program_types.tiers import TierClubConfig
from regulars.loyalty.simulation.history import History, Ints
from regulars.loyalty.simulation.proposal import ProposedProgram
from regulars.loyalty.simulation.rules import (
    EarnBase,
    Earned,
    TierTimeline,
    bonus_multipliers,
    earn,
    line_scale,
    tier_timeline,
)


def first_purchases(orders: ir.Table, history: History) -> npt.NDArray[np.bool_]:
    """Per order: the customer's first paid order (``bonus.is_first_purchase``: no order
    with a positive amount that is not cancelled comes before it, by time then order id —
    orders before the window and fully refunded ones count)."""
    paid = orders.filter(orders.amount > 0)
    if "status" in orders.columns:
        paid = paid.filter(paid.status.isnull() | (paid.status != "cancelled"))
    ranked = paid.mutate(
        rank=ibis.row_number().over(
            group_by=paid.customer_id, order_by=[paid.ordered_at, paid.order_id]
        )
    )
    firsts = ranked.filter(ranked["rank"] == 0).select("order_id").to_pyarrow()
    found = pc.is_in(history.order_ids, value_set=firsts.column("order_id").combine_chunks())
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def earn_base(
    rules: PointsRules, orders: ir.Table, order_lines: ir.Table | None, history: History
) -> EarnBase:
    """What each order earns on (:class:`~regulars.loyalty.simulation.rules.EarnBase`): its
    lines with a positive amount, each × ``line_multiplier``, when it has some; else its
    net amount. The multipliers are applied in the engine through two small join tables."""
    if order_lines is None:
        return EarnBase.of_net(history.cents)
    scale = line_scale(rules)
    lines = order_lines.filter(order_lines.line_amount > 0)
    lines = lines.select(
        "order_id", "sku", "category", cents=(lines.line_amount * 100).cast("int64")
    )
    lines = _with_multiplier(lines, "sku", rules.sku_multipliers, scale)
    lines = _with_multiplier(lines, "category", rules.category_multipliers, scale)
    factor = ibis.coalesce(lines.m_sku, lines.m_category, scale)
    per_order = lines.group_by("order_id").aggregate(units=(lines.cents * factor).sum())
    amounts = orders.select("order_id", amount_cents=(orders.amount * 100).cast("int64"))
    table = per_order.join(amounts, "order_id").to_pyarrow()
    position = pc.index_in(history.order_ids, value_set=table.column("order_id").combine_chunks())
    has_lines = np.asarray(position.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    index = np.asarray(position.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    units = table.column("units").to_numpy(zero_copy_only=False).astype(np.int64)
    amount = table.column("amount_cents").to_numpy(zero_copy_only=False).astype(np.int64)
    if len(units) == 0:
        return EarnBase.of_net(history.cents)
    return EarnBase.of_lines(
        scale,
        history.cents,
        np.where(has_lines, units[index], 0),
        has_lines,
        np.where(has_lines, amount[index], history.cents),
    )


def _with_multiplier(
    lines: ir.Table, key: str, multipliers: dict[str, Decimal], scale: int
) -> ir.Table:
    """``lines`` with ``m_<key>`` = multiplier × ``scale`` (an integer), NULL where unset."""
    column = f"m_{key}"
    if not multipliers:
        return lines.mutate(**{column: ibis.null("int64")})
    keys = list(multipliers)
    values = [int(Fraction(multipliers[k]) * scale) for k in keys]
    mapping = ibis.memtable(
        pa.table({key: pa.array(keys, pa.string()), column: pa.array(values, pa.int64())})
    )
    joined = lines.left_join(mapping, key)
    return joined.drop(f"{key}_right") if f"{key}_right" in joined.columns else joined


@dataclass(frozen=True)
class Replayed:
    """Per order: the points in parts, the tier timeline and the tier discount."""

    earned: Earned
    tiers: TierTimeline
    discount_micros: Ints


def replay_rules(
    program: ProposedProgram,
    orders: ir.Table,
    order_lines: ir.Table | None,
    history: History,
    end_us: int,
) -> Replayed:
    """Tiers, points and tier discounts of every member's purchases (package docstring)."""
    rules, club = program.rules, program.tiers
    timeline = (
        TierTimeline.none(history.n)
        if club is None
        else tier_timeline(club, history, history.at_us, end_us)
    )
    needs_first = any(isinstance(b, FirstPurchaseBonus) for b in rules.bonuses)
    first = first_purchases(orders, history) if needs_first else np.zeros(history.n, dtype=bool)
    earned = earn(
        rules,
        earn_base(rules, orders, order_lines, history),
        [t.earn_multiplier for t in club.tiers] if club else [],
        timeline.earn,
        bonus_multipliers(rules, history.at_us, history.weekday, first),
        first,
    )
    return Replayed(earned, timeline, tier_discount_micros(club, history, timeline))


def tier_discount_micros(
    club: TierClubConfig | None, history: History, timeline: TierTimeline
) -> Ints:
    """Per order: the discount of the tier held before it, in millionths of money, exactly:
    net cents × the discount in hundredths of a percent (10 % → 1,000)."""
    if club is None:
        return np.zeros(history.n, dtype=np.int64)
    hundredths = np.array([0] + [int(t.discount_pct * 100) for t in club.tiers], dtype=np.int64)
    return np.asarray(
        np.maximum(history.cents, 0) * hundredths[timeline.discount + 1], dtype=np.int64
    )
