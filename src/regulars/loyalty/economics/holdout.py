"""What a program changed, measured against its control group (who is held out:
:mod:`regulars.loyalty.accounting.control`).

**Effect.** Over a period ``[start, end)``, for the members (``treated``) and the control
group, with ``n`` customers each (more exactly ``n`` assignment units: a unit drawn as one,
such as a household of a shared card, counts once, having bought when any of its customers
did and with their revenue summed; see :func:`group_outcomes`):

* *repeat purchase rate* ``p = customers who bought at least once in the period / n`` —
  everyone assigned is already a customer, so any purchase in the period is a repeat one;
* *revenue per customer* ``m`` = mean of each customer's net revenue in the period
  (zeros included).

Incremental repeat rate ``Δp = p_t − p_c`` with **Newcombe's hybrid score interval**
(method 10 of Newcombe, *Interval estimation for the difference between independent
proportions*, Statistics in Medicine 17, 1998), built from the two Wilson score
intervals ``[l, u]``:

    L = Δp − sqrt((p_t − l_t)² + (u_c − p_c)²),   U = Δp + sqrt((u_t − p_t)² + (p_c − l_c)²)

Wilson: ``(p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)``. Unlike the normal
(Wald) interval it stays inside [−1, 1] and keeps its coverage for small or extreme
proportions.

Incremental revenue per customer ``Δm = m_t − m_c`` with **Welch's t interval**:
``Δm ± t(1 − α/2, ν) · se``, ``se = sqrt(s_t²/n_t + s_c²/n_c)`` and the Welch–Satterthwaite
degrees of freedom ``ν = se⁴ / ((s_t²/n_t)²/(n_t−1) + (s_c²/n_c)²/(n_c−1))`` (no equal
variance assumed). Lift ``= Δ / control value × 100`` (None when the control value is 0).
Incremental revenue of the program = ``Δm × n_t`` (what the members bought beyond what
they would have bought without it, estimated from the control group).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING

from regulars.analytics.validation import AnalysisArgumentError, require_period

if TYPE_CHECKING:
    import ibis.expr.types as ir

MEMBER, CONTROL = "member", "control"


@dataclass(frozen=True)
class GroupOutcome:
    """One group over the period: size, customers who bought, and revenue per customer."""

    customers: int
    buyers: int
    revenue_mean: float
    revenue_variance: float  # sample variance (n − 1) of revenue per customer

    @property
    def repeat_rate(self) -> float:
        return self.buyers / self.customers


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float | None
    high: float | None
    lift_pct: float | None  # estimate / control value × 100


@dataclass(frozen=True)
class ProgramEffect:
    """Members against the control group (see the module docstring for the methods)."""

    members: GroupOutcome
    control: GroupOutcome
    confidence: float
    repeat_rate_diff: Interval  # Newcombe hybrid score interval, in proportions
    revenue_per_customer_diff: Interval  # Welch t interval, in money (float)
    incremental_revenue: float  # revenue_per_customer_diff × members

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def wilson_interval(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return centre - half, centre + half


def newcombe_difference(
    treated: GroupOutcome, control: GroupOutcome, confidence: float
) -> Interval:
    """``p_t − p_c`` with Newcombe's hybrid score interval (method 10)."""
    from scipy import stats  # here: the API imports this module, scipy.stats costs ~1 s

    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p_t, p_c = treated.repeat_rate, control.repeat_rate
    l_t, u_t = wilson_interval(treated.buyers, treated.customers, z)
    l_c, u_c = wilson_interval(control.buyers, control.customers, z)
    diff = p_t - p_c
    low = diff - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2)
    high = diff + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2)
    return Interval(diff, low, high, _lift(diff, p_c))


def welch_difference(treated: GroupOutcome, control: GroupOutcome, confidence: float) -> Interval:
    """``m_t − m_c`` with Welch's t interval; no interval when a group has < 2 customers
    or both variances are 0."""
    from scipy import stats  # see newcombe_difference

    diff = treated.revenue_mean - control.revenue_mean
    lift = _lift(diff, control.revenue_mean)
    if treated.customers < 2 or control.customers < 2:
        return Interval(diff, None, None, lift)
    v_t = treated.revenue_variance / treated.customers
    v_c = control.revenue_variance / control.customers
    se = math.sqrt(v_t + v_c)
    if se == 0:
        return Interval(diff, None, None, lift)
    dof = (v_t + v_c) ** 2 / (v_t**2 / (treated.customers - 1) + v_c**2 / (control.customers - 1))
    t = float(stats.t.ppf(0.5 + confidence / 2, dof))
    return Interval(diff, diff - t * se, diff + t * se, lift)


def _lift(diff: float, control_value: float) -> float | None:
    return None if control_value == 0 else diff / control_value * 100


def compare_groups(
    members: GroupOutcome, control: GroupOutcome, confidence: float = 0.95
) -> ProgramEffect:
    """The effect estimates from the two groups' outcomes."""
    if not 0 < confidence < 1:
        raise AnalysisArgumentError(f"confidence must be within (0, 1); got {confidence!r}")
    if members.customers == 0 or control.customers == 0:
        raise AnalysisArgumentError("both the member and the control group need customers")
    revenue = welch_difference(members, control, confidence)
    return ProgramEffect(
        members=members,
        control=control,
        confidence=confidence,
        repeat_rate_diff=newcombe_difference(members, control, confidence),
        revenue_per_customer_diff=revenue,
        incremental_revenue=revenue.estimate * members.customers,
    )


def group_outcomes(orders: ir.Table, groups: ir.Table, start: date, end: date) -> ir.Table:
    """Per group (``group`` = ``member`` or ``control``): ``customers``, ``buyers``,
    ``revenue_mean`` and ``revenue_variance`` over ``[start, end)``, counted per
    assignment unit.

    ``groups`` has one row per assigned customer: ``customer_id``, ``group`` and optionally
    ``unit`` — what was drawn (e.g. a household; every customer of a unit is in its group).
    Without ``unit`` each customer is their own unit. A unit bought when any of its
    customers bought, and its revenue is theirs summed, so ``customers`` counts units and
    the intervals treat units as the independent draws they are. Units without a
    purchase in the period count with revenue 0.
    """
    # Here, not at the top: the API imports this module for ProgramEffect, and Ibis and
    # the analytics cost ~0.8–1.7 s at every server and worker start.
    import ibis

    from regulars.analytics.transactions import purchases

    require_period(start, end)
    bought = purchases(orders)
    bought = bought.filter(bought.order_date >= start, bought.order_date < end)
    per_customer = bought.group_by("customer_id").aggregate(revenue=bought.net_amount.sum())
    if "unit" not in groups.columns:
        groups = groups.mutate(unit=groups.customer_id)
    joined = groups.left_join(per_customer, groups.customer_id == per_customer.customer_id)
    units = joined.group_by(["unit", "group"]).aggregate(
        revenue=joined.revenue.sum(), buyers=joined.revenue.count()
    )
    revenue = units.revenue.coalesce(0).cast("float64")
    rows = units.mutate(revenue=revenue, bought=ibis.ifelse(units.buyers > 0, 1, 0))
    return rows.group_by("group").aggregate(
        customers=rows.count(),
        buyers=rows.bought.sum(),
        revenue_mean=rows.revenue.mean(),
        revenue_variance=rows.revenue.var(how="sample").coalesce(0.0),
    )


def measure_effect(
    orders: ir.Table, groups: ir.Table, start: date, end: date, confidence: float = 0.95
) -> ProgramEffect:
    """Members against the control group over ``[start, end)`` (see the module docstring)."""
    rows = group_outcomes(orders, groups, start, end).to_pyarrow().to_pylist()
    found = {row["group"]: row for row in rows}
    missing = {MEMBER, CONTROL} - found.keys()
    if missing:
        raise AnalysisArgumentError(f"no customers in the {' and '.join(sorted(missing))} group")

    def outcome(name: str) -> GroupOutcome:
        row = found[name]
        return GroupOutcome(
            int(row["customers"]),
            int(row["buyers"]),
            float(row["revenue_mean"]),
            float(row["revenue_variance"]),
        )

    return compare_groups(outcome(MEMBER), outcome(CONTROL), confidence)
