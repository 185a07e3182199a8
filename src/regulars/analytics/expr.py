"""Small Ibis building blocks shared by the analyses.

Rates are computed as ``float64`` in the engine with the same sequence of IEEE
operations on every backend (integers and decimals are cast to ``float64`` first, then
multiplied and divided), so DuckDB and PostgreSQL return bit-identical numbers.
A rate over an empty base (division by zero) is NULL, never an error or infinity.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

MONEY = dt.Decimal(18, 2)
ZERO_MONEY = ibis.literal(Decimal("0.00"), type=MONEY)


def as_int(condition: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``condition`` holds, else 0 (PostgreSQL cannot cast boolean to bigint)."""
    return ibis.ifelse(condition, 1, 0).cast("int64")


def count_where(condition: ir.BooleanValue) -> ir.IntegerScalar:
    """Number of rows in the group where ``condition`` holds (0 for an empty group)."""
    return as_int(condition).sum().coalesce(0)


def ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """``numerator / denominator`` as float64; NULL when the denominator is 0."""
    return numerator.cast("float64") / denominator.cast("float64").nullif(0.0)


def percent(part: ir.NumericValue, whole: ir.NumericValue) -> ir.FloatingValue:
    """``part / whole × 100`` as float64; NULL when ``whole`` is 0."""
    return part.cast("float64") * 100.0 / whole.cast("float64").nullif(0.0)


def days_between(later: ir.DateValue, earlier: ir.DateValue) -> ir.IntegerValue:
    """Whole days from ``earlier`` to ``later`` (positive when ``later`` is later)."""
    return later.delta(earlier, unit="day")


def date_literal(value: date) -> ir.DateScalar:
    """``value`` as an Ibis date (methods such as ``delta`` need an Ibis value)."""
    return ibis.literal(value, type="date")
