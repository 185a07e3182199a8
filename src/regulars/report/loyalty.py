"""The "Loyalty program what-if" page: a simulation as one offline HTML file, plus
``simulation.json`` (the same numbers) and ``entries.parquet`` (the simulated ledger,
in the entry contract of :mod:`regulars.loyalty.economics.measures`).

A page of its own, next to the retention report rather than inside it: the report's
computation and template stay as they are, and the page reuses its style and Plotly
set-up (``_style.html.j2``, offline Plotly JavaScript).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pyarrow.parquet as pq
from plotly.offline import get_plotlyjs

from regulars import __version__
from regulars.analytics.periods import period_label
from regulars.loyalty.simulation.result import Simulation
from regulars.report import charts
from regulars.report.document import jsonable
from regulars.report.formatting import Formatter
from regulars.report.render import env


@dataclass(frozen=True)
class SimulationPaths:
    html: Path
    json: Path
    entries: Path


def _months(sim: Simulation) -> list[str]:
    return [period_label(m.month, "month") for m in sim.months]


def liability_chart(sim: Simulation) -> go.Figure:
    """Outstanding liability at each month end, with the month's reward cost."""
    x = _months(sim)
    fig = go.Figure()
    fig.add_bar(
        x=x,
        y=[float(m.reward_cost) for m in sim.months],
        name="Reward cost in the month",
        marker_color=charts.PALETTE["accent"],
    )
    fig.add_scatter(
        x=x,
        y=[float(m.liability) for m in sim.months],
        name="Outstanding liability (month end)",
        mode="lines+markers",
        line={"color": charts.PALETTE["bad"], "width": 3},
    )
    return charts._layout(fig, "Liability and reward cost per month")


def points_chart(sim: Simulation) -> go.Figure:
    """Points issued against points redeemed and expired, per month."""
    x = _months(sim)
    fig = go.Figure()
    fig.add_bar(
        x=x,
        y=[m.points_issued for m in sim.months],
        name="Issued",
        marker_color=charts.PALETTE["primary"],
    )
    fig.add_bar(
        x=x,
        y=[-m.points_redeemed for m in sim.months],
        name="Redeemed",
        marker_color=charts.PALETTE["good"],
    )
    fig.add_bar(
        x=x,
        y=[-m.points_expired for m in sim.months],
        name="Expired (breakage)",
        marker_color=charts.PALETTE["muted"],
    )
    return charts._layout(fig, "Points per month", barmode="relative")


def tiers_chart(sim: Simulation) -> go.Figure:
    """Members per tier at each month end."""
    x = _months(sim)
    fig = go.Figure()
    for name in sim.months[-1].tiers:
        fig.add_scatter(
            x=x, y=[m.tiers.get(name, 0) for m in sim.months], name=name, stackgroup="tiers"
        )
    return charts._layout(fig, "Members per tier (month end)")


def cost_chart(sim: Simulation) -> go.Figure:
    """The program cost by part: base points, tier multiplier points, bonus points (each
    its share of the points' cost), tier discounts and fixed costs."""
    parts = sim.cost_parts
    fig = go.Figure()
    fig.add_bar(
        x=[float(p.cost) for p in parts],
        y=[p.name for p in parts],
        orientation="h",
        marker_color=charts.PALETTE["accent"],
        name="Cost",
    )
    return charts._layout(fig, "Program cost by part")


def _figures(sim: Simulation) -> dict[str, str]:
    figs: dict[str, Any] = {
        "liability": liability_chart(sim),
        "points": points_chart(sim),
        "cost": cost_chart(sim),
    }
    if sim.tiers is not None:
        figs["tiers"] = tiers_chart(sim)
    return {name: charts.figure_html(name, fig) for name, fig in figs.items()}


def render_simulation_html(sim: Simulation, title: str = "Loyalty program what-if") -> str:
    fmt = Formatter.of("en_US")
    return env.get_template("loyalty.html.j2").render(
        title=title,
        version=__version__,
        sim=sim,
        verdict=sim.verdict(),
        figures=_figures(sim),
        plotly_js=get_plotlyjs(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        money=fmt.money,
        count=fmt.count,
    )


def simulation_document(sim: Simulation) -> dict[str, Any]:
    """``simulation.json``: everything but the entries (Decimals as exact text)."""
    doc = {
        "rules": sim.rules.model_dump(mode="json"),
        "tiers": None if sim.tiers is None else sim.tiers.model_dump(mode="json"),
        "assumptions": sim.assumptions.model_dump(mode="json"),
        "window": {"start": sim.start, "end": sim.end},
        "customers": sim.customers,
        "members": sim.members,
        "redeemers": sim.redeemers,
        "baseline": asdict(sim.baseline),
        "totals": asdict(sim.totals),
        "cost_parts": [asdict(p) for p in sim.cost_parts],
        "tier_candidates": sim.tier_candidates,
        "break_even": asdict(sim.break_even),
        "verdict": sim.verdict(),
        "months": [asdict(m) for m in sim.months],
        "notes": sim.notes,
    }
    return jsonable(doc)  # type: ignore[no-any-return]


def write_simulation(sim: Simulation, out_dir: Path) -> SimulationPaths:
    """Write ``simulation.html``, ``simulation.json`` and ``entries.parquet``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / "simulation.html"
    html.write_text(render_simulation_html(sim), encoding="utf-8")
    doc = out_dir / "simulation.json"
    doc.write_text(json.dumps(simulation_document(sim), indent=2), encoding="utf-8")
    entries = out_dir / "entries.parquet"
    if sim.entries is not None:
        pq.write_table(sim.entries, entries)
    return SimulationPaths(html, doc, entries)
