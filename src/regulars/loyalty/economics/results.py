"""The result rows of :mod:`regulars.loyalty.economics.measures`, apart from it: the API
declares them in its responses
(:class:`regulars.loyalty.economics.ledger_mapping.LiveEconomics`) and must not load Ibis,
which the computations need, at every server start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class FlowRow:
    """One period of points movements; every count in points, positive."""

    period_start: date
    issued: int  # earn
    redeemed: int  # −spend
    expired: int  # −expire
    reversed: int  # −reverse_earn
    recredited: int  # reverse_spend
    adjusted: int  # Σ adjust (signed)
    outstanding_end: int  # balance of all accounts at the period's end
    liability_end: Decimal  # outstanding_end × point_value


@dataclass(frozen=True)
class Breakage:
    """Breakage of the lots that ended in a period (see the module docstring)."""

    lots: int
    earned: int
    expired: int
    redeemed: int
    reversed: int
    rate: float | None  # expired / (expired + redeemed); None when both are 0
