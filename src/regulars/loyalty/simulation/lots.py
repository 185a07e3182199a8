"""FIFO lots without a per-order loop: what each member redeems at each purchase and what
expires from each lot (the running maximum of the package docstring).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from regulars.loyalty.program_types.earning import PointsRules
from regulars.loyalty.simulation.history import History, Ints
from regulars.loyalty.simulation.proposal import Assumptions
from regulars.loyalty.simulation.rules import floor_times


def redeem_caps(rules: PointsRules, cents: Ints) -> Ints:
    """``max_redeemable``'s cap in points per order: floor(amount × share / point value)."""
    fraction = Fraction(rules.max_redeem_share) / Fraction(rules.point_value) / 100
    return np.where(cents > 0, floor_times(np.maximum(cents, 0), fraction), 0)


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
    """Points each order redeems (the redeemer rule of
    :class:`~regulars.loyalty.simulation.proposal.Assumptions`)."""
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
    consumed = np.zeros(len(history.first), dtype=np.int64)  # D of the package docstring
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
    """Redeem and expire every member's lots (see the package docstring); ``points`` per
    order from :func:`~regulars.loyalty.simulation.replay.replay_rules`, ``end`` the first
    day after the window."""
    redeemed = redemptions(rules, history, points, threshold_points)
    expired = expiries(rules, history, points, redeemed, end)
    expires_day = None if rules.expiry_days is None else history.day + rules.expiry_days
    return Lots(points, redeemed, expired, expires_day)


def threshold_points(rules: PointsRules, assumptions: Assumptions) -> int:
    """Points worth ``redeem_threshold_value`` (rounded up), at least 1."""
    return max(1, math.ceil(assumptions.redeem_threshold_value / rules.point_value))
