"""The report's first screen: the headline numbers as tiles, each with its definition
and its change against the previous period, in the shop's locale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from regulars.report.build import ReportData
from regulars.report.formatting import Formatter


@dataclass(frozen=True)
class Tile:
    title: str
    value: str
    definition: str
    delta: str | None = None
    delta_good: bool | None = None


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def kpi_tiles(data: ReportData, fmt: Formatter) -> list[Tile]:
    """The headline numbers of the period, each with its definition."""
    k = data.current.to_dict()
    p = data.previous.to_dict() if data.previous else {}
    w = data.current.activity_window_days
    unit = data.period

    def delta(key: str, kind: str, higher_is_better: bool) -> tuple[str | None, bool | None]:
        now, before = _num(_get(k, key)), _num(_get(p, key))
        if now is None or before is None:
            return None, None
        diff = now - before
        shown: dict[str, Callable[[float], str]] = {
            "pct": fmt.points,
            "int": lambda d: ("+" if d > 0 else "") + fmt.count(d),
            "money": lambda d: ("+" if d > 0 else "") + fmt.money(d),
            "float": lambda d: ("+" if d > 0 else "") + fmt.number(d),
        }
        return f"{shown[kind](diff)} vs previous {unit}", (diff >= 0) == higher_is_better

    def tile(
        title: str, key: str, kind: str, definition: str, higher_is_better: bool = True
    ) -> Tile:
        value = _get(k, key)
        text = {"pct": fmt.pct, "int": fmt.count, "money": fmt.money, "float": fmt.number}[kind]
        return Tile(title, text(value), definition, *delta(key, kind, higher_is_better))

    lifetime = data.lifetime
    tiles = [
        tile(
            "Customer retention rate",
            "activity_window.crr",
            "pct",
            f"CRR: of the customers active at the start (bought in the {w} days before it), "
            f"the share still active at the end: (E − N − reactivated) / S × 100. Tracks the "
            f"health of the customer base; it moves slowly.",
        ),
        tile(
            f"Came back this {unit}",
            "repeat.crr",
            "pct",
            f"Of the same customers, the share who bought again within the {unit}. Judges "
            f"campaigns, and shops whose customers buy more often than every {unit}.",
        ),
        tile(
            "Churn rate",
            "activity_window.churn_rate",
            "pct",
            f"Customers active at the start who are no longer active at the end "
            f"(no purchase in the last {w} days): lost / S × 100.",
            higher_is_better=False,
        ),
        tile(
            "Customers at start (S)",
            "customers_start",
            "int",
            f"Customers who bought in the {w} days before the {unit} started.",
        ),
        tile(
            "New customers (N)",
            "customers_new",
            "int",
            f"Customers whose first purchase ever falls inside the {unit}.",
        ),
        tile(
            "Customers at end (E)",
            "customers_end",
            "int",
            f"Customers who bought in the {w} days before the {unit} ended.",
        ),
        tile(
            "Repeat purchase rate",
            "repeat_purchase_rate",
            "pct",
            f"Customers with 2+ purchases in the {unit} / customers who bought in it × 100.",
        ),
        tile(
            "Average order value",
            "aov",
            "money",
            f"Net revenue / purchases in the {unit} (refunds deducted).",
        ),
        tile(
            "Purchase frequency",
            "purchase_frequency",
            "float",
            f"Purchases / customers who bought in the {unit}.",
        ),
        Tile(
            "Historic CLTV",
            fmt.money(lifetime.historic_cltv),
            f"What a customer whose life has ended spent on average: "
            f"{fmt.count(lifetime.lapsed_customers)} customers who lapsed (no purchase in "
            f"{w} days) by {fmt.day(lifetime.as_of)} — AOV × purchases per year of life × "
            f"lifespan in years"
            + (f", × margin {fmt.share(lifetime.margin)}" if lifetime.margin else "")
            + ". The same whatever the period.",
        ),
    ]
    if lifetime.ltv_cac is not None:
        tiles.append(
            Tile(
                "LTV:CAC",
                f"{fmt.number(lifetime.ltv_cac, 1)} : 1",
                f"Historic CLTV / acquisition cost per customer "
                f"({fmt.money(lifetime.acquisition_cost)}).",
            )
        )
    return tiles


def _get(values: dict[str, Any], key: str) -> Any:
    """A value of :meth:`PeriodKPIs.to_dict` by definition: ``activity_window.crr`` is
    the top-level ``crr`` or the nested one, whichever definition was chosen."""
    if "." not in key:
        return values.get(key)
    definition, name = key.split(".")
    if values.get("definition") == definition:
        return values.get(name)
    nested = values.get(definition)
    return nested.get(name) if isinstance(nested, dict) else None
