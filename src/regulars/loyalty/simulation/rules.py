"""The simulator's rules, columnar: what each replayed order earns, and each member's tier.

The definitions are the live ones (:mod:`regulars.loyalty.program_types.earning`,
:mod:`regulars.loyalty.program_types.bonus`, :mod:`regulars.loyalty.program_types.tiers`), computed
over numpy arrays of orders instead of one order at a time; the tests hold them equal to
``earn_for_purchase`` and to ``tiers.evaluate`` replayed order by order. With ``B`` an
order's *earning base*, ``e = earn_per_unit``, ``t`` its tier's earn multiplier and ``M``
its largest applicable bonus multiplier (1 if none):

* ``B`` = ``Σ_lines line_amount × m(line) × net / amount`` over the order's lines with a
  positive amount (``m``: :func:`~regulars.loyalty.program_types.earning.line_multiplier`),
  or the net amount when it has none. Nothing refunded (``net = amount``) gives exactly
  ``earning.points_earned``'s sum; a partial refund scales every line by the kept share.
* base points ``floor(B × e)``; with the tier ``floor(B × e × t)``; with the bonus
  ``floor(B × e × t × M)`` (one floor, as ``earn_for_purchase``: the base lot plus the
  bonus lot); plus the fixed points of every first-purchase bonus on the customer's first
  paid order. The order's points are the last sum; the *tier part* is
  ``floor(B e t) − floor(B e)`` and the *bonus part* the rest.

Exactness: ``B`` is held as integer *units* (``units / per_unit`` currency, ``per_unit =
100 × S`` with ``S`` the least common multiple of the line multipliers' denominators), and
every floor is :func:`floor_times` with an exact fraction; partially refunded orders with
lines are computed in Python integers.

Tiers (:func:`tier_timeline`) run the club's own ``tiers.evaluate`` once per member over
their purchases (value = net amount at the order's instant), but only for the members
whose spend in some window reaches the lowest threshold (found with numpy); nobody else
ever holds a tier.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from regulars.errors import RegularsError
from regulars.loyalty.program_types import tiers
from regulars.loyalty.program_types.bonus import (
    FirstPurchaseBonus,
    PeriodBonus,
    PointsProgramConfig,
)
from regulars.loyalty.program_types.earning import PointsRules
from regulars.loyalty.program_types.tiers import TierClubConfig
from regulars.loyalty.simulation.history import History, Ints

Bools = npt.NDArray[np.bool_]
UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000


def floor_times(cents: Ints, fraction: Fraction) -> Ints:
    """``floor(cents × a / b)`` exactly in int64 (``fraction = a / b ≥ 0``).

    Written as ``(cents // b) × a + ((cents mod b) × a) // b`` so that no intermediate
    exceeds ``b × a`` (checked) or the result itself.
    """
    a, b = fraction.numerator, fraction.denominator
    if a * b >= 2**62:
        raise RegularsError(f"rate {fraction} is too fine to compute exactly; round it")
    quotient, remainder = np.divmod(cents, b)
    return np.asarray(quotient * a + (remainder * a) // b, dtype=np.int64)


# ---- the earning base ----------------------------------------------------------------


def line_scale(rules: PointsRules) -> int:
    """``S``: the least common multiple of the SKU/category multipliers' denominators."""
    multipliers = [*rules.sku_multipliers.values(), *rules.category_multipliers.values()]
    return math.lcm(1, *(Fraction(m).denominator for m in multipliers))


@dataclass(frozen=True)
class EarnBase:
    """Each order's earning base ``B = units / per_unit`` (see the module docstring);
    for the ``scaled`` orders (lines, partly refunded) ``B = units × kept / whole / per_unit``."""

    units: Ints
    per_unit: int
    kept: Ints  # net cents
    whole: Ints  # amount cents
    scaled: Bools

    @classmethod
    def of_net(cls, net_cents: Ints) -> EarnBase:
        """No lines: every order earns on its net amount."""
        none = np.zeros(len(net_cents), dtype=bool)
        return cls(net_cents, 100, net_cents, net_cents, none)

    @classmethod
    def of_lines(
        cls, scale: int, net_cents: Ints, line_units: Ints, has_lines: Bools, amount_cents: Ints
    ) -> EarnBase:
        """``line_units`` = Σ line cents × m × S per order (0 where ``has_lines`` is false)."""
        units = np.where(has_lines, line_units, net_cents * scale).astype(np.int64)
        scaled = has_lines & (net_cents < amount_cents)
        return cls(units, 100 * scale, net_cents, amount_cents, scaled)

    def floor(self, rows: Ints, rate: Fraction) -> Ints:
        """``floor(B × rate)`` for the orders ``rows`` (0 where ``B ≤ 0``)."""
        units = np.maximum(self.units[rows], 0)
        out = floor_times(units, rate / self.per_unit)
        scaled = np.flatnonzero(self.scaled[rows])
        if len(scaled):
            # B × rate = units × kept × a / (whole × b × per_unit), in Python integers.
            picked = rows[scaled]
            num = units[scaled].astype(object) * self.kept[picked].astype(object)
            den = self.whole[picked].astype(object) * (rate.denominator * self.per_unit)
            out[scaled] = np.asarray((num * rate.numerator) // den, dtype=np.int64)
        return out


# ---- bonuses -------------------------------------------------------------------------


def _instant_us(moment: datetime) -> int:
    return (moment - UTC_EPOCH) // timedelta(microseconds=1)


def period_applies(bonus: PeriodBonus, at_us: Ints, weekday: Ints) -> Bools:
    """``PeriodBonus.applies`` per order: ``starts_at ≤ at < ends_at`` (UTC instants) and the
    order's local ISO weekday in ``weekdays`` (the shop's time zone for every customer)."""
    applies = np.ones(len(at_us), dtype=bool)
    if bonus.starts_at is not None:
        applies &= at_us >= _instant_us(bonus.starts_at)
    if bonus.ends_at is not None:
        applies &= at_us < _instant_us(bonus.ends_at)
    if bonus.weekdays:
        applies &= np.isin(weekday, sorted(bonus.weekdays))
    return applies


def bonus_multipliers(
    config: PointsProgramConfig, at_us: Ints, weekday: Ints, first: Bools
) -> tuple[list[Decimal], Ints]:
    """The distinct multipliers (ascending, ``[1, …]``) and, per order, the index of the
    largest that applies (non-stacking: ``bonus._best_multiplier``; 0: none above 1)."""
    applicable: list[tuple[Decimal, Bools]] = []
    for bonus in config.bonuses:
        if isinstance(bonus, PeriodBonus):
            applicable.append((bonus.multiplier, period_applies(bonus, at_us, weekday)))
        elif isinstance(bonus, FirstPurchaseBonus) and bonus.multiplier is not None:
            applicable.append((bonus.multiplier, first))
    values = sorted({Decimal(1), *(m for m, _mask in applicable if m > 1)})
    best = np.zeros(len(at_us), dtype=np.int64)
    for multiplier, mask in applicable:
        if multiplier > 1:
            best = np.where(mask, np.maximum(best, values.index(multiplier)), best)
    return values, best


def first_purchase_points(config: PointsProgramConfig) -> int:
    """Fixed points of every first-purchase bonus (each adds its own lot)."""
    return sum(b.points for b in config.bonuses if isinstance(b, FirstPurchaseBonus) and b.points)


@dataclass(frozen=True)
class Earned:
    """Per order: base points, the tier part and the bonus part (see the module docstring)."""

    base: Ints
    tier: Ints
    bonus: Ints

    @property
    def total(self) -> Ints:
        return np.asarray(self.base + self.tier + self.bonus, dtype=np.int64)


def earn(
    config: PointsProgramConfig,
    base: EarnBase,
    tier_multipliers: Sequence[Decimal],
    tier_index: Ints,
    bonuses: tuple[list[Decimal], Ints],
    first: Bools,
) -> Earned:
    """Every order's points in parts; ``tier_index`` −1 means no tier (multiplier 1)."""
    e = Fraction(config.earn_per_unit)
    every = np.arange(len(base.units), dtype=np.int64)
    plain = base.floor(every, e)
    with_tier = plain.copy()
    for index, multiplier in enumerate(tier_multipliers):
        rows = np.flatnonzero(tier_index == index)
        with_tier[rows] = base.floor(rows, e * Fraction(multiplier))
    values, best = bonuses
    with_bonus = with_tier.copy()
    tier_of = [Decimal(1), *tier_multipliers]  # position 0: no tier
    combos = np.flatnonzero(best > 0)
    pairs = (tier_index[combos] + 1) * len(values) + best[combos]
    for pair in np.unique(pairs):
        rows = combos[pairs == pair]
        t, m = tier_of[int(pair) // len(values)], values[int(pair) % len(values)]
        with_bonus[rows] = base.floor(rows, e * Fraction(t) * Fraction(m))
    fixed = np.where(first, first_purchase_points(config), 0)
    return Earned(plain, with_tier - plain, with_bonus - with_tier + fixed)


# ---- tiers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TierTimeline:
    """Per order: the tier it earns at (after the changes effective up to its instant,
    itself included) and the tier whose discount it gets (changes strictly before it);
    −1 is no tier. ``changes``: (member, effective instant in µs, new tier index) of every
    change, in time order per member."""

    earn: Ints
    discount: Ints
    changes: list[tuple[int, int, int]]
    candidates: int

    @classmethod
    def none(cls, n: int) -> TierTimeline:
        return cls(np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64), [], 0)


def tier_candidates(club: TierClubConfig, history: History) -> Ints:
    """Members whose spend in some window could reach the lowest threshold: net cents on
    the whole local days ``[d − W − 1, d]`` around each of their orders — a superset of
    every instant window ``(t − W, t]`` whatever the time zone's offsets — reach it."""
    lowest = int(club.tiers[0].threshold * 100)
    prefix = np.concatenate([[0], np.cumsum(np.maximum(history.cents, 0))])
    upto = history.search(history.day, "right")
    since = history.search(history.day - club.window_days - 1, "left")
    reached = (prefix[upto] - prefix[since]) >= lowest
    return np.unique(history.cust[reached])


def _moment(us: int) -> datetime:
    return UTC_EPOCH + timedelta(microseconds=us)


def tier_timeline(club: TierClubConfig, history: History, at_us: Ints, end_us: int) -> TierTimeline:
    """Run ``tiers.evaluate`` from no tier up to ``end_us`` over each candidate member's
    purchases (value = net amount, at the order's UTC instant ``at_us``)."""
    timeline = TierTimeline.none(history.n)
    rank = {tier.name: index for index, tier in enumerate(club.tiers)}
    members = tier_candidates(club, history)
    bounds = np.r_[history.first, history.n]
    end = _moment(end_us)
    for member in members.tolist():
        rows = range(int(bounds[member]), int(bounds[member + 1]))
        events = [
            tiers.QualifyingEvent(_moment(int(at_us[i])), Decimal(int(history.cents[i])) / 100)
            for i in rows
            if history.cents[i] > 0
        ]
        changes = tiers.evaluate(club, events, tiers.TierState(str(member), UTC_EPOCH), end)
        at = [_instant_us(c.effective_at) for c in changes.changes]
        new = [-1 if c.new is None else rank[c.new] for c in changes.changes]
        for i in rows:
            after = bisect_right(at, int(at_us[i]))
            before = bisect_left(at, int(at_us[i]))
            timeline.earn[i] = new[after - 1] if after else -1
            timeline.discount[i] = new[before - 1] if before else -1
        timeline.changes.extend((member, a, k) for a, k in zip(at, new, strict=True))
    return TierTimeline(timeline.earn, timeline.discount, timeline.changes, len(members))


def tier_mix(club: TierClubConfig, timeline: TierTimeline, moments_us: Ints) -> Ints:
    """Members holding each tier at each moment (rows: moments; columns: tiers): a change
    effective at ``a`` holds its tier over ``(a, next change]`` — the tier at ``m`` is the
    last change effective strictly before ``m``."""
    counts = np.zeros((len(moments_us) + 1, len(club.tiers)), dtype=np.int64)
    if not timeline.changes:
        return counts[:-1]
    member, at, tier = np.array(timeline.changes, dtype=np.int64).T
    last = np.r_[member[1:] != member[:-1], True]
    until = np.where(last, np.iinfo(np.int64).max, np.r_[at[1:], 0])
    held = tier >= 0
    lo = np.searchsorted(moments_us, at[held], side="right")
    hi = np.searchsorted(moments_us, until[held], side="right")
    np.add.at(counts, (lo, tier[held]), 1)
    np.add.at(counts, (hi, tier[held]), -1)
    return np.cumsum(counts, axis=0)[:-1]
