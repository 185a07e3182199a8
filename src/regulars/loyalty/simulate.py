"""The "is it worth it?" simulator: replay the shop's own orders under a proposed program.

Every purchase (``analytics.transactions.purchases``) of an enrolled customer in the
replay window ``[start, end)`` is run through the program's rules, and the simulator
writes the ledger entries the live program would have written (earn, spend, expire; see
:mod:`regulars.loyalty.economics.measures` for their contract). Monthly points flows, liability
and breakage are then computed *from those entries* with the same functions that run on
the live ledger.

**Behavioural assumptions** (:class:`Assumptions`, all documented defaults):

* *enrolment*: a share of the customers joins (at their first purchase in the window);
  who joins is a salted hash of the customer id, so a rerun gives the same members;
* *redeemers*: a share of the members ever redeems; the others only earn (their points
  expire or stay outstanding — breakage);
* *timing*: a redeemer redeems at a purchase as soon as the points available before it
  are worth at least ``redeem_threshold_value``; they then redeem as much as the rules
  allow (``max_redeemable``: the balance, and ``max_redeem_share`` of the order);
* *expected breakage* of the points still outstanding at the end (for the cost of the
  liability); by default the breakage the simulation itself produced.

**Rules applied, per purchase of a member** (the program file's ``[rules]`` is a whole
``points`` program config, :class:`~regulars.loyalty.program_types.bonus.PointsProgramConfig`,
and its optional ``[tiers]`` a ``tiers`` program,
:class:`~regulars.loyalty.program_types.tiers.TierClubConfig`; definitions in
:mod:`regulars.loyalty.simulate_rules`):

1. tier = the member's tier in the ``[tiers]`` club at the order's instant, this order
   included (upgrades are immediate), from the club's own ``tiers.evaluate`` — upgrade at
   once, evaluation at each window's end, grace, downgrade — on the member's purchases
   (value = net amount at the order); only members whose window spend reaches the lowest
   threshold are evaluated. ``basis = "points"`` is refused (a points-based tier depends on
   the points it multiplies);
2. points = ``floor(B × earn_per_unit × tier multiplier × M)`` + the first-purchase fixed
   points, exactly ``earn_for_purchase`` (``B``: Σ lines × SKU/category multiplier when the
   shop has order lines, else the net amount; ``M``: the largest period or first-purchase
   multiplier that applies, non-stacking), computed columnar with exact integer fractions;
   points are earned on the net amount (what a return took back is already deducted, as
   the ledger's ``reverse_earn`` would; with lines, every line is scaled by the kept
   share);
3. the lot becomes spendable ``pending_days`` after the order's day and expires
   ``expiry_days`` after it (at the start of that day);
4. the ``discount_pct`` of the tier held *before* the order (the discount is granted at
   checkout; an upgrade the order brings gives its discount from the next order) of the
   net amount is a reward cost too.

**FIFO without a per-order loop.** All lots of a member have the same life, so the
oldest-expiring lot is the oldest lot, and FIFO spending and expiry consume one prefix
of the member's lots. Let ``L_i`` be the cumulative points of lots ``1..i`` and ``S(t)``
the points spent before ``t``. The points consumed (spent or expired) by ``t`` are

    D(t) = S(t) + max(0, max_{i : e_i ≤ t} (L_i − S(e_i)))

(the running maximum is the points that have expired: every expiry at ``e_i`` lifts the
consumed total to at least ``L_i``). So the expiry of each lot is a grouped running
maximum over sorted arrays (numpy), once the spends are known; the spends themselves
need the available balance ``matured points − D(t)`` at each order, which is computed
rank by rank (every member's 1st purchase at once, then every 2nd…): a loop of
max-orders-per-member numpy steps, vectorised over members — not a loop over orders.
Not simulated: action bonuses (not in an order history; the notes say so), household
accounts, paid-membership multipliers. A pure-Python replay, order by order and lot by
lot, built on ``earn_for_purchase``, ``tiers.evaluate`` and ``max_redeemable`` is the
test oracle.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from regulars.analytics.transactions import purchases
from regulars.engine import connect, table_from_arrow
from regulars.errors import RegularsError
from regulars.loyalty.accounting.control import assignment_units
from regulars.loyalty.economics import measures as economics
from regulars.loyalty.economics.results import Breakage, FlowRow
from regulars.loyalty.program_types.bonus import (
    FirstPurchaseBonus,
    PointsProgramConfig,
    ProfileBonus,
    ReviewBonus,
)
from regulars.loyalty.program_types.earning import PointsRules
from regulars.loyalty.program_types.tiers import TierClubConfig
from regulars.loyalty.simulate_rules import (
    EarnBase,
    Earned,
    TierTimeline,
    bonus_multipliers,
    earn,
    floor_times,
    line_scale,
    tier_mix,
    tier_timeline,
)

Ints = npt.NDArray[np.int64]
Side = Literal["left", "right"]
Progress = Callable[[str], None]
EPOCH = date(1970, 1, 1)
BASE_TIER = "base"


class Assumptions(BaseModel):
    """How customers are assumed to behave under the program (see the module docstring).

    The defaults are deliberately middle-of-the-road guesses, not industry facts: change
    them to what the shop knows, and compare a cautious and an optimistic run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enrolment_share: float = Field(0.6, ge=0, le=1, description="Share of customers who join.")
    redeemer_share: float = Field(0.7, ge=0, le=1, description="Share of members who redeem.")
    redeem_threshold_value: Decimal = Field(
        Decimal(5), ge=0, description="A redeemer redeems once the points are worth this."
    )
    expected_breakage: float | None = Field(
        None, ge=0, le=1, description="Share of outstanding points never redeemed."
    )
    fixed_cost_per_month: Decimal = Field(Decimal(0), ge=0, description="Running costs.")
    expected_lift_pct: float | None = Field(
        None, ge=0, description="Revenue lift the owner expects, to answer yes or no."
    )
    program_code: str = Field("points", min_length=1, description="Salt of the member draw.")


DEFAULT_TIERS_CODE = "tiers"


class ProgramConfig(BaseModel):
    """A proposed program: the ``points`` program's whole config (the same JSON/TOML could
    create the live program), an optional ``tiers`` club and the behavioural assumptions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: PointsProgramConfig
    tiers: TierClubConfig | None = None
    assumptions: Assumptions = Field(default_factory=Assumptions)

    @field_validator("tiers", mode="before")
    @classmethod
    def _code_by_default(cls, value: object) -> object:
        """A simulated club needs no code of its own (default ``tiers``)."""
        if isinstance(value, dict) and "code" not in value:
            return {"code": DEFAULT_TIERS_CODE, **value}
        return value

    @field_validator("tiers")
    @classmethod
    def _spend_basis(cls, value: TierClubConfig | None) -> TierClubConfig | None:
        if value is not None and value.basis != "spend":
            raise ValueError(
                "basis 'points' is not simulated (a points-based tier depends on the points "
                "it multiplies); simulate basis = 'spend'"
            )
        return value


def load_program(path: Path) -> ProgramConfig:
    """A program from TOML: a ``[rules]`` table (a ``points`` program config:
    PointsRules, ``[[rules.bonuses]]``, ``[rules.household]``), an optional ``[tiers]``
    table (a ``tiers`` program: ``[[tiers.tiers]]``, ``window_days``, ``grace_days``) and
    an optional ``[assumptions]`` table. Errors name the file and the field."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegularsError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegularsError(f"{path}: not valid TOML ({exc})") from None
    try:
        return ProgramConfig.model_validate(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise RegularsError(f"{path}: {where}: {problem['msg']}") from None


# ---- the replayed history ------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """Members' purchases sorted by (customer, time), as arrays; days since 1970-01-01."""

    customer_ids: pa.Array  # one per member, in order
    order_ids: pa.Array
    ordered_at: pa.Array
    cust: Ints  # member index of each order
    day: Ints
    cents: Ints  # net amount
    at_us: Ints  # the order's UTC instant, µs since 1970 (its local time in the shop's zone)
    first: Ints  # index of each member's first order
    redeemer: npt.NDArray[np.bool_]  # per member
    customers_seen: int  # buyers in the window, members or not

    @property
    def n(self) -> int:
        return len(self.day)

    @property
    def weekday(self) -> Ints:
        """Local ISO weekday of each order (1970-01-01 was a Thursday, 4)."""
        return np.asarray((self.day + 3) % 7 + 1, dtype=np.int64)

    def search(self, target_day: Ints, side: Side) -> Ints:
        """Index in the sorted orders of ``(cust, target_day)`` for each order's member."""
        return self.search_for(self.cust, target_day, side)

    def search_for(self, cust: Ints, target_day: Ints, side: Side) -> Ints:
        """The same for members ``cust``; a target outside the days seen is clipped so that
        it can never reach into a neighbouring member's orders."""
        span = self._span
        clipped = np.clip(target_day, -1, span - 1)
        found = np.searchsorted(self._keys, cust * span + clipped, side=side)
        return np.asarray(found, dtype=np.int64)

    @cached_property
    def _span(self) -> int:
        return int(self.day.max(initial=0)) + 2

    @cached_property
    def _keys(self) -> Ints:
        """``member × span + day``: sorted, because the orders are sorted by member, time."""
        return self.cust * self._span + self.day


def _purchases_arrow(orders: ir.Table, start: date, end: date) -> pa.Table:
    bought = purchases(orders)
    bought = bought.filter(bought.order_date >= start, bought.order_date < end)
    return (
        bought.select(
            "customer_id",
            "order_id",
            "ordered_at",
            "order_date",
            cents=(bought.net_amount * 100).cast("int64"),
        )
        .order_by(["customer_id", "ordered_at", "order_id"])
        .to_pyarrow()
    )


def _member_draw(
    customer_ids: pa.Array, assumptions: Assumptions
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per customer: joins? redeems? Two independent words of one salted hash (holdout's
    recipe with the salt ``simulate:<program_code>``)."""
    units = assignment_units(customer_ids.to_pylist(), f"simulate:{assumptions.program_code}")
    return units[:, 0] < assumptions.enrolment_share, units[:, 1] < assumptions.redeemer_share


def utc_instants(local: pa.Array, timezone: str) -> Ints:
    """µs since 1970 (UTC) of naive local times in ``timezone``; a time a DST change makes
    ambiguous is its first occurrence, one it skips the first instant after the gap."""
    naive = local.cast(pa.timestamp("us"))
    if timezone != "UTC":
        naive = pc.assume_timezone(naive, timezone, ambiguous="earliest", nonexistent="latest")
    return np.asarray(naive.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def local_midnights_us(days: Ints, timezone: str) -> Ints:
    """UTC µs at which each local day (days since 1970) starts in ``timezone``."""
    return utc_instants(_midnights(days), timezone)


def load_history(
    orders: ir.Table, start: date, end: date, assumptions: Assumptions, timezone: str = "UTC"
) -> History:
    """The enrolled customers' purchases in ``[start, end)``, sorted, as arrays
    (``ordered_at`` is local time in ``timezone``)."""
    table = _purchases_arrow(orders, start, end)
    ids = table.column("customer_id").combine_chunks()
    n = len(ids)
    new_customer = np.ones(n, dtype=bool)
    if n > 1:
        new_customer[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
    cust_all = np.cumsum(new_customer) - 1
    first_all = np.flatnonzero(new_customer)
    unique_ids = ids.take(pa.array(first_all))
    enrolled, redeemer = _member_draw(unique_ids, assumptions)
    keep = enrolled[cust_all]
    rows = np.flatnonzero(keep)
    member_index = np.cumsum(enrolled) - 1
    cust = member_index[cust_all[rows]].astype(np.int64)
    days = table.column("order_date").cast(pa.int32()).to_numpy(zero_copy_only=False)
    first = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]]) if len(cust) else cust
    take = pa.array(rows)
    ordered_at = table.column("ordered_at").take(take).combine_chunks()
    return History(
        customer_ids=unique_ids.filter(pa.array(enrolled)),
        order_ids=table.column("order_id").take(take).combine_chunks(),
        ordered_at=ordered_at,
        cust=cust,
        day=days[rows].astype(np.int64),
        cents=table.column("cents").to_numpy(zero_copy_only=False)[rows].astype(np.int64),
        at_us=utc_instants(ordered_at, timezone),
        first=first.astype(np.int64),
        redeemer=redeemer[enrolled],
        customers_seen=len(unique_ids),
    )


# ---- rules, columnar (definitions: regulars.loyalty.simulate_rules) -----------------


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
    """What each order earns on (:class:`~regulars.loyalty.simulate_rules.EarnBase`): its
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
    program: ProgramConfig,
    orders: ir.Table,
    order_lines: ir.Table | None,
    history: History,
    end_us: int,
) -> Replayed:
    """Tiers, points and tier discounts of every member's purchases (module docstring)."""
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


def redeem_caps(rules: PointsRules, cents: Ints) -> Ints:
    """``max_redeemable``'s cap in points per order: floor(amount × share / point value)."""
    fraction = Fraction(rules.max_redeem_share) / Fraction(rules.point_value) / 100
    return np.where(cents > 0, floor_times(np.maximum(cents, 0), fraction), 0)


# ---- FIFO lots, columnar ------------------------------------------------------------


@dataclass(frozen=True)
class Lots:
    """Per order: points earned, redeemed at it, and expired from its lot."""

    points: Ints
    redeemed: Ints
    expired: Ints
    expires_day: Ints | None  # None: points never expire


def _within_member(values: Ints, history: History, index: Ints) -> Ints:
    """``prefix[index] − prefix[first order of the member]`` for a prefix-summed array."""
    prefix = np.concatenate([[0], np.cumsum(values)])
    return np.asarray(prefix[index] - prefix[history.first[history.cust]], dtype=np.int64)


def redemptions(rules: PointsRules, history: History, points: Ints, threshold_points: int) -> Ints:
    """Points each order redeems (the redeemer rule of :class:`Assumptions`)."""
    n = history.n
    position = np.arange(n, dtype=np.int64)
    matured_end = np.minimum(history.search(history.day - rules.pending_days, "right"), position)
    matured = _within_member(points, history, matured_end)
    if rules.expiry_days is None:
        expired_by = np.zeros(n, dtype=np.int64)
    else:
        expired_by = _within_member(
            points, history, history.search(history.day - rules.expiry_days, "right")
        )
    caps = redeem_caps(rules, history.cents)
    redeemed = np.zeros(n, dtype=np.int64)
    consumed = np.zeros(len(history.first), dtype=np.int64)  # D of the module docstring
    rank = position - history.first[history.cust]
    candidates = np.flatnonzero(history.redeemer[history.cust])
    by_rank = candidates[np.argsort(rank[candidates], kind="stable")]
    bounds = np.searchsorted(rank[by_rank], np.arange(int(rank.max(initial=0)) + 2))
    for lo, hi in itertools.pairwise(bounds):
        rows = by_rank[lo:hi]
        members = history.cust[rows]
        before = np.maximum(consumed[members], expired_by[rows])
        available = matured[rows] - before
        take = np.where(available >= threshold_points, np.minimum(available, caps[rows]), 0)
        consumed[members] = before + take
        redeemed[rows] = take
    return redeemed


def expiries(rules: PointsRules, history: History, points: Ints, redeemed: Ints, end: int) -> Ints:
    """Points expired from each order's lot before day ``end`` (grouped running max)."""
    if rules.expiry_days is None or history.n == 0:
        return np.zeros(history.n, dtype=np.int64)
    position = np.arange(history.n, dtype=np.int64)
    expires = history.day + rules.expiry_days
    lots_through = _within_member(points, history, position + 1)  # L_i
    spent_before = _within_member(redeemed, history, history.search(expires, "left"))
    gap = lots_through - spent_before
    offset = history.cust * (int(np.abs(gap).max()) * 2 + 1)
    expired_total = np.maximum(np.maximum.accumulate(gap + offset) - offset, 0)
    previous = np.where(position == history.first[history.cust], 0, np.roll(expired_total, 1))
    return np.where(expires < end, expired_total - previous, 0).astype(np.int64)


def replay_lots(
    rules: PointsRules, history: History, points: Ints, threshold_points: int, end: int
) -> Lots:
    """Redeem and expire every member's lots (see the module docstring); ``points`` per
    order from :func:`replay_rules`, ``end`` the first day after the window."""
    redeemed = redemptions(rules, history, points, threshold_points)
    expired = expiries(rules, history, points, redeemed, end)
    expires_day = None if rules.expiry_days is None else history.day + rules.expiry_days
    return Lots(points, redeemed, expired, expires_day)


def threshold_points(rules: PointsRules, assumptions: Assumptions) -> int:
    """Points worth ``redeem_threshold_value`` (rounded up), at least 1."""
    return max(1, math.ceil(assumptions.redeem_threshold_value / rules.point_value))


# ---- entries -------------------------------------------------------------------------

ENTRY_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("points", pa.int64(), nullable=False),
        pa.field("created_at", pa.timestamp("us"), nullable=False),
        pa.field("lot_id", pa.string()),
        pa.field("expires_at", pa.timestamp("us")),
    ]
)


def _midnights(days: Ints) -> pa.Array:
    return pa.array(days.astype(np.int32), pa.date32()).cast(pa.timestamp("us"))


def ledger_entries(history: History, lots: Lots) -> pa.Table:
    """The earn, spend and expire entries the live ledger would hold (entry contract of
    :mod:`regulars.loyalty.economics.measures`); ``lot_id`` is the earning order's id."""
    created = history.ordered_at.cast(pa.timestamp("us"))
    customers = history.customer_ids.take(pa.array(history.cust))
    parts = []
    earn = np.flatnonzero(lots.points > 0)
    spend = np.flatnonzero(lots.redeemed > 0)
    expire = np.flatnonzero(lots.expired > 0)
    for kind, rows, points, at in (
        ("earn", earn, lots.points, None),
        ("spend", spend, -lots.redeemed, None),
        ("expire", expire, -lots.expired, lots.expires_day),
    ):
        take = pa.array(rows, pa.int64())
        expires = (
            _midnights(lots.expires_day[rows])
            if kind == "earn" and lots.expires_day is not None
            else pa.nulls(len(rows), pa.timestamp("us"))
        )
        parts.append(
            pa.table(
                {
                    "customer_id": customers.take(take),
                    "kind": pa.array([kind] * len(rows), pa.string()),
                    "points": pa.array(points[rows], pa.int64()),
                    "created_at": created.take(take) if at is None else _midnights(at[rows]),
                    "lot_id": history.order_ids.take(take)
                    if kind != "spend"
                    else pa.nulls(len(rows), pa.string()),
                    "expires_at": expires,
                },
                schema=ENTRY_SCHEMA,
            )
        )
    return pa.concat_tables(parts)


# ---- the simulation ------------------------------------------------------------------


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
    baseline: economics.Baseline
    months: list[MonthRow]
    totals: Totals
    break_even: economics.BreakEven
    notes: list[str] = field(default_factory=list)
    entries: pa.Table | None = None
    tier_candidates: int = 0  # members the tier state machine ran for

    def verdict(self) -> str:
        """The "is it worth it?" answer in one sentence."""
        return verdict(self)

    @property
    def cost_parts(self) -> list[CostPart]:
        """The program cost by part (see :func:`cost_parts`)."""
        return cost_parts(self.totals)


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
        return (points_cost * points / issued).quantize(economics.CENT, rounding=ROUND_HALF_UP)

    base, tier = share(t.points_base), share(t.points_tier)
    bonus = (points_cost - base - tier).quantize(economics.CENT, rounding=ROUND_HALF_UP)
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


def _day_number(day: date) -> int:
    return (day - EPOCH).days


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


def _baseline(history: History) -> economics.Baseline:
    orders_per_member = np.bincount(history.cust, minlength=len(history.first))
    repeaters = orders_per_member >= 2
    return economics.Baseline(
        buyers=int((orders_per_member > 0).sum()),
        orders=history.n,
        revenue=_money(int(history.cents.sum())),
        repeat_buyers=int(repeaters.sum()),
        repeat_orders=int((orders_per_member[repeaters] - 1).sum()),
    )


def _months(
    program: ProgramConfig,
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
    moments = np.array([_day_number(e) for e in ends], dtype=np.int64)
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


def _totals(
    rules: PointsRules,
    assumptions: Assumptions,
    months: list[MonthRow],
    breakage: Breakage,
    earned: Earned,
) -> Totals:
    last = months[-1]
    redeemed = sum(m.points_redeemed for m in months)
    discounts = sum((m.tier_discounts for m in months), Decimal(0)).quantize(
        economics.CENT, rounding=ROUND_HALF_UP
    )
    fixed = assumptions.fixed_cost_per_month * len(months)
    expected = (
        assumptions.expected_breakage
        if assumptions.expected_breakage is not None
        else (breakage.rate or 0.0)
    )
    outstanding_cost = (last.liability * (1 - Decimal(str(expected)))).quantize(
        economics.CENT, rounding=ROUND_HALF_UP
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
            economics.CENT, rounding=ROUND_HALF_UP
        ),
        breakage_rate=breakage.rate,
        expected_breakage=expected,
        points_base=int(earned.base.sum()),
        points_tier=int(earned.tier.sum()),
        points_bonus=int(earned.bonus.sum()),
    )


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
    program: ProgramConfig,
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
    the same engine) make SKU/category multipliers count. See the module docstring."""
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
    end_day = _day_number(end)
    end_us = int(local_midnights_us(np.array([end_day], dtype=np.int64), timezone)[0])
    replayed = replay_rules(program, orders, order_lines, history, end_us)
    lots = replay_lots(
        rules, history, replayed.earned.total, threshold_points(rules, assumptions), end_day
    )
    entries = ledger_entries(history, lots)
    step("monthly flows and liability")
    table = table_from_arrow(connect(), entries)
    flows = economics.points_flow(table, start, end, rules.point_value, "month")
    months = _months(program, history, replayed, flows, timezone)
    breakage = economics.breakage(table, start, end)
    totals = _totals(rules, assumptions, months, breakage, replayed.earned)
    baseline = _baseline(history)
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
        break_even=economics.break_even(totals.program_cost, margin, baseline),
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
        answer = "pays for itself" if lift >= b.required_revenue_lift_pct else "does not pay"
        sentence += f" — with the expected +{lift:.1f} % it {answer}"
    return sentence + "."
