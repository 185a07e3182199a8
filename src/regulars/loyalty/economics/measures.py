"""Economics of a points program: liability, breakage, reward cost, break-even and ROI.

The functions read **ledger-shaped entries**, an Ibis table with this minimal contract
(the simulator writes exactly this; the live ledger's entries table can be mapped onto
it with a ``select``):

* ``customer_id`` (string): whose account;
* ``kind`` (string): ``earn``, ``spend``, ``expire``, ``reverse_earn`` (a return takes
  back what an order earned), ``reverse_spend`` (a return re-credits what an order
  spent) or ``adjust`` (manual);
* ``points`` (int64): signed, credits > 0 and debits < 0; **balance = Σ points**;
* ``created_at`` (timestamp): when the entry took effect (shop time);
* ``lot_id`` (string): the earn lot — an ``earn`` entry's own lot, the lot an ``expire``
  or ``reverse_earn`` entry takes from; NULL otherwise;
* ``expires_at`` (timestamp): on ``earn`` entries, when the lot's unspent points expire
  (NULL: never).

Definitions (worked examples in ``tests/loyalty/test_economics.py``):

* **Outstanding points** at a moment ``t`` = Σ ``points`` of the entries before ``t``;
  **liability** = outstanding points × ``point_value`` (money owed to customers if every
  point were redeemed; IFRS 15 then defers revenue for the share expected to be redeemed).
* **Breakage rate** of a period: over the earn lots whose validity **ended** in the
  period (``expires_at`` in ``[start, end)``), ``expired / (expired + redeemed)``, where
  a lot's ``expired`` = −Σ its ``expire`` entries and ``redeemed`` = earned − reversed −
  expired (what of the lot was neither taken back by a return nor expired was spent).
  This is the usual industry notion — the share of issued points never redeemed
  ("breakage", IFRS 15 B44–B47 *customers' unexercised rights*) — measured on lots whose
  fate is final, so still-open lots do not make it look better or worse; points taken
  back by returns are in neither part. Lots that never expire never end and are not
  counted. Run it after the period's expiry has been booked.
* **Reward cost** of a period = points redeemed (−Σ ``spend``) × ``point_value``
  (+ tier discounts where a program grants them, which are not in the ledger).
* **ROI** = (incremental revenue × margin − cost) / cost: the program pays for itself
  when the incremental gross profit covers the cost (ROI ≥ 0). Incremental revenue
  comes from a control group (:mod:`regulars.loyalty.economics.holdout`).
* **Break-even** (before launch, :func:`break_even`): the incremental revenue needed,
  ``R* = cost / margin`` (``= cost`` when no margin is known: then the answer is on
  revenue, not profit), and the same in other units — see :func:`break_even`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import ibis
import ibis.expr.types as ir

from regulars.analytics.periods import PeriodUnit, calendar_periods, truncate
from regulars.analytics.validation import AnalysisArgumentError, require_period
from regulars.loyalty.economics.results import Breakage, FlowRow

ENTRY_KINDS = ("earn", "spend", "expire", "reverse_earn", "reverse_spend", "adjust")
ENTRY_COLUMNS = ("customer_id", "kind", "points", "created_at", "lot_id", "expires_at")
CENT = Decimal("0.01")


def _require_entries(entries: ir.Table) -> None:
    missing = [c for c in ENTRY_COLUMNS if c not in entries.columns]
    if missing:
        raise AnalysisArgumentError(f"entries table lacks column(s): {', '.join(missing)}")


def _points_of(entries: ir.Table, kind: str) -> ir.IntegerScalar:
    """Σ points of the entries of one kind (0 when there are none)."""
    return ibis.ifelse(entries.kind == kind, entries.points, 0).sum().coalesce(0)


def outstanding_points(entries: ir.Table, at: date) -> int:
    """Points owed to customers at the start of day ``at``: Σ points of earlier entries."""
    _require_entries(entries)
    before = entries.filter(entries.created_at.date() < at)
    return int(before.points.sum().coalesce(0).execute())


def liability(entries: ir.Table, at: date, point_value: Decimal) -> Decimal:
    """Outstanding points at ``at`` × ``point_value``, exact."""
    return outstanding_points(entries, at) * point_value


def points_flow(
    entries: ir.Table,
    start: date,
    end: date,
    point_value: Decimal,
    period: PeriodUnit = "month",
) -> list[FlowRow]:
    """Issued, redeemed, expired… per whole calendar period intersecting ``[start, end)``
    and the outstanding points and liability at each period's end (one query).

    ``outstanding_end`` = Σ points of every entry before the period's end (history before
    ``start`` included), so it reconciles: outstanding_end = previous outstanding_end +
    issued − redeemed − expired − reversed + recredited + adjusted.
    """
    _require_entries(entries)
    require_period(start, end)
    bounds = calendar_periods(start, end, period)
    first, last = bounds[0][0], bounds[-1][1]
    day = entries.created_at.date()
    opening = int(entries.filter(day < first).points.sum().coalesce(0).execute())
    rows = entries.filter(day >= first, day < last).mutate(period_start=truncate(day, period))
    grouped = rows.group_by("period_start").aggregate(
        issued=_points_of(rows, "earn"),
        spend=_points_of(rows, "spend"),
        expire=_points_of(rows, "expire"),
        reverse_earn=_points_of(rows, "reverse_earn"),
        recredited=_points_of(rows, "reverse_spend"),
        adjusted=_points_of(rows, "adjust"),
        net=rows.points.sum(),
    )
    found = {r["period_start"]: r for r in grouped.to_pyarrow().to_pylist()}
    result: list[FlowRow] = []
    balance = opening
    for period_start, _ in bounds:
        r = found.get(period_start)
        balance += int(r["net"]) if r else 0
        result.append(
            FlowRow(
                period_start=period_start,
                issued=int(r["issued"]) if r else 0,
                redeemed=-int(r["spend"]) if r else 0,
                expired=-int(r["expire"]) if r else 0,
                reversed=-int(r["reverse_earn"]) if r else 0,
                recredited=int(r["recredited"]) if r else 0,
                adjusted=int(r["adjusted"]) if r else 0,
                outstanding_end=balance,
                liability_end=balance * point_value,
            )
        )
    return result


def breakage(entries: ir.Table, start: date, end: date) -> Breakage:
    """Breakage rate of the earn lots whose ``expires_at`` falls in ``[start, end)``."""
    _require_entries(entries)
    require_period(start, end)
    lots = entries.filter(
        entries.kind == "earn",
        entries.expires_at.date() >= start,
        entries.expires_at.date() < end,
    ).select("lot_id", earned="points")
    taken = entries.filter(entries.kind.isin(("expire", "reverse_earn")), entries.lot_id.notnull())
    per_lot = taken.group_by("lot_id").aggregate(
        expired=-_points_of(taken, "expire"), reversed=-_points_of(taken, "reverse_earn")
    )
    joined = lots.left_join(per_lot, lots.lot_id == per_lot.lot_id)
    expired, reversed_ = joined.expired.coalesce(0), joined.reversed.coalesce(0)
    row = (
        joined.aggregate(
            lots=joined.count(),
            earned=joined.earned.sum().coalesce(0),
            expired=expired.sum().coalesce(0),
            reversed=reversed_.sum().coalesce(0),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    earned, expired_pts = int(row["earned"]), int(row["expired"])
    reversed_pts = int(row["reversed"])
    redeemed = earned - reversed_pts - expired_pts
    ended = expired_pts + redeemed
    return Breakage(
        lots=int(row["lots"]),
        earned=earned,
        expired=expired_pts,
        redeemed=redeemed,
        reversed=reversed_pts,
        rate=expired_pts / ended if ended else None,
    )


def reward_cost(entries: ir.Table, start: date, end: date, point_value: Decimal) -> Decimal:
    """Points redeemed in ``[start, end)`` (net of re-credits by returns) × point value."""
    _require_entries(entries)
    require_period(start, end)
    day = entries.created_at.date()
    rows = entries.filter(day >= start, day < end)
    spent = -(_points_of(rows, "spend") + _points_of(rows, "reverse_spend"))
    return int(spent.execute()) * point_value


@dataclass(frozen=True)
class Roi:
    """A live program's return: incremental gross profit against its cost."""

    cost: Decimal
    incremental_revenue: Decimal
    margin: Decimal | None
    basis: Literal["profit", "revenue"]
    incremental_profit: Decimal  # incremental revenue × margin (× 1 without a margin)
    net_benefit: Decimal  # incremental profit − cost
    roi: float | None  # net benefit / cost; None when the program cost nothing

    @property
    def pays_for_itself(self) -> bool:
        return self.net_benefit >= 0


def program_roi(cost: Decimal, incremental_revenue: Decimal, margin: Decimal | None) -> Roi:
    """ROI = (incremental revenue × margin − cost) / cost (margin 1 when unknown)."""
    profit = (incremental_revenue * (margin if margin is not None else 1)).quantize(CENT)
    net = profit - cost
    return Roi(
        cost=cost,
        incremental_revenue=incremental_revenue,
        margin=margin,
        basis="profit" if margin is not None else "revenue",
        incremental_profit=profit,
        net_benefit=net,
        roi=float(net / cost) if cost else None,
    )


@dataclass(frozen=True)
class Baseline:
    """What the members bought without the program, over the same horizon."""

    buyers: int  # members with at least one purchase
    orders: int
    revenue: Decimal
    repeat_buyers: int  # members with 2+ purchases
    repeat_orders: int  # Σ (orders − 1) over the repeat buyers


@dataclass(frozen=True)
class BreakEven:
    """The retention gain that pays for a program (see :func:`break_even`)."""

    program_cost: Decimal
    margin: Decimal | None
    basis: Literal["profit", "revenue"]
    required_revenue: Decimal  # R*
    required_revenue_lift_pct: float | None
    required_orders: float | None
    required_repeat_rate_points: float | None


def break_even(cost: Decimal, margin: Decimal | None, baseline: Baseline) -> BreakEven:
    """The incremental revenue and behaviour needed for the program to pay for itself.

    With cost ``C`` and margin ``m`` (1 when unknown: then on revenue, not profit):

    * ``R* = C / m`` — incremental revenue whose gross profit equals the cost;
    * revenue lift ``= R* / revenue × 100`` — % more than the members bought anyway;
    * extra orders ``= R* / AOV``, ``AOV = revenue / orders``;
    * repeat purchase rate (points) ``= R* / v / buyers × 100``, where
      ``v = AOV × repeat_orders / repeat_buyers`` is what one more repeat buyer brings
      (the average repeat buyer's orders beyond the first, at the average order value):
      the percentage points of one-time buyers who must be turned into repeat buyers.

    Example: C = 1,000.00, m = 0.40 → R* = 2,500.00; members bought 50,000.00 in 1,000
    orders (AOV 50) → +5 % revenue, 50 more orders; 200 repeat buyers made 300 repeat
    orders → v = 50 × 1.5 = 75, 2,500 / 75 = 33.3 more repeat buyers out of 800 buyers =
    +4.17 points of repeat purchase rate.
    """
    divisor = margin if margin is not None else Decimal(1)
    if divisor <= 0:
        raise AnalysisArgumentError(f"margin must be > 0; got {margin}")
    required = (cost / divisor).quantize(CENT, rounding=ROUND_HALF_UP)
    lift = float(required / baseline.revenue * 100) if baseline.revenue > 0 else None
    aov = baseline.revenue / baseline.orders if baseline.orders else None
    orders = float(required / aov) if aov else None
    points = None
    if aov and baseline.repeat_buyers and baseline.buyers:
        value_of_repeat_buyer = aov * baseline.repeat_orders / baseline.repeat_buyers
        points = float(required / value_of_repeat_buyer / baseline.buyers * 100)
    return BreakEven(
        program_cost=cost,
        margin=margin,
        basis="profit" if margin is not None else "revenue",
        required_revenue=required,
        required_revenue_lift_pct=lift,
        required_orders=orders,
        required_repeat_rate_points=points,
    )
