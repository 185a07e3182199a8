"""Plotly figures of the report. Inputs are the small tables of :class:`ReportData`.

Every figure is built with its title (:func:`_layout`), but the page shows the title as
an HTML heading above the plot (:func:`figure_html`), never inside it: Plotly's toolbar
sits in the plot's top-right corner, where on a narrow screen it would cover a title.
"""

from __future__ import annotations

import html
from datetime import date
from typing import Any

import plotly.graph_objects as go
import pyarrow as pa

from regulars.analytics.periods import period_label as label
from regulars.config import Period

PALETTE = {
    "primary": "#2457a6",
    "good": "#2e8b57",
    "bad": "#c0392b",
    "muted": "#8a94a6",
    "accent": "#e6a23c",
}
LIFECYCLE_COLOURS = {
    "new": "#2457a6",
    "returning": "#2e8b57",
    "resurrected": "#e6a23c",
    "dormant": "#c0392b",
}


_CONFIG = {"displaylogo": False, "responsive": True}


def _layout(fig: go.Figure, title: str, height: int = 340, **extra: Any) -> go.Figure:
    """The report's look; ``title`` travels with the figure to :func:`figure_html`."""
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        height=height,
        margin={"l": 50, "r": 20, "t": 36, "b": 40},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.18},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        **extra,
    )
    return fig


def figure_html(name: str, fig: go.Figure, *, wide: bool = False) -> str:
    """The figure as a ``<figure>``: its title as an HTML heading above the plot (taken
    out of the plot, so the toolbar cannot cover it), the plot offline (no Plotly
    JavaScript: the page embeds it once). ``wide`` plots keep a minimum width and
    scroll inside their box on a phone."""
    title = fig.layout.title.text or ""
    fig.update_layout(title={"text": ""})
    plot = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=f"fig-{name}", config=_CONFIG
    )
    css = "chart wide" if wide else "chart"
    return (
        f'<figure class="{css}"><figcaption>{html.escape(title)}</figcaption>'
        f'<div class="plot">{plot}</div></figure>'
    )


def _labels(table: pa.Table, column: str, period: Period) -> list[str]:
    return [label(d, period) for d in table.column(column).to_pylist()]


def kpi_trend(
    series: pa.Table, period: Period, target_crr: float | None, lapse_possible_from: date
) -> go.Figure:
    """CRR, churn and repeat purchase rate per period. Periods that end before anyone
    can have lapsed (a window after the first order) have CRR = 100 % by definition:
    their CRR is drawn apart, in grey, so it does not read as perfect retention."""
    x = _labels(series, "period_start", period)
    ends = series.column("period_end").to_pylist()
    crr = series.column("crr").to_pylist()
    early = [end <= lapse_possible_from for end in ends]
    fig = go.Figure()
    if any(early):
        last_early = max(i for i, flag in enumerate(early) if flag)
        fig.add_scatter(
            x=x[: last_early + 1],
            y=crr[: last_early + 1],
            name="CRR, first year (nobody can lapse yet)",
            mode="lines+markers",
            line={"color": PALETTE["muted"], "dash": "dot"},
        )
    fig.add_scatter(
        x=x,
        y=[None if flag else value for flag, value in zip(early, crr, strict=True)],
        name="CRR %",
        mode="lines+markers",
        line={"color": PALETTE["good"], "width": 3},
    )
    fig.add_scatter(
        x=x,
        y=series.column("churn_rate").to_pylist(),
        name="Churn %",
        mode="lines+markers",
        line={"color": PALETTE["bad"]},
    )
    fig.add_scatter(
        x=x,
        y=series.column("repeat_purchase_rate").to_pylist(),
        name="Repeat purchase rate %",
        mode="lines",
        line={"color": PALETTE["primary"], "dash": "dot"},
    )
    if target_crr is not None:
        fig.add_hline(
            y=target_crr,
            line_dash="dash",
            line_color=PALETTE["accent"],
            annotation_text=f"target {target_crr:.1f} %",
        )
    return _layout(
        fig, "Retention, churn and repeat purchases per period", yaxis={"ticksuffix": " %"}
    )


def revenue_trend(series: pa.Table, period: Period) -> go.Figure:
    x = _labels(series, "period_start", period)
    fig = go.Figure()
    fig.add_bar(
        x=x,
        y=[float(v) for v in series.column("revenue").to_pylist()],
        name="Revenue",
        marker_color=PALETTE["primary"],
    )
    fig.add_scatter(
        x=x,
        y=series.column("aov").to_pylist(),
        name="AOV",
        yaxis="y2",
        mode="lines+markers",
        line={"color": PALETTE["accent"]},
    )
    return _layout(
        fig,
        "Revenue and average order value",
        yaxis2={"overlaying": "y", "side": "right", "showgrid": False},
    )


def lifecycle_chart(lifecycle: pa.Table, period: Period) -> go.Figure:
    x = _labels(lifecycle, "period_start", period)
    fig = go.Figure()
    for name in ("new", "returning", "resurrected"):
        fig.add_bar(
            x=x,
            y=lifecycle.column(name).to_pylist(),
            name=name,
            marker_color=LIFECYCLE_COLOURS[name],
        )
    fig.add_bar(
        x=x,
        y=[-v for v in lifecycle.column("dormant").to_pylist()],
        name="dormant",
        marker_color=LIFECYCLE_COLOURS["dormant"],
    )
    return _layout(
        fig, "Customer lifecycle: who bought this period, who went quiet", barmode="relative"
    )


def cohort_heatmap(cohorts: pa.Table, grain: str, value: str, title: str) -> go.Figure:
    """Rows = acquisition cohorts, columns = periods since first purchase (1, 2, …), the
    share in each cell as a number.

    Period 0 is 100 % by definition and would swamp the colour scale, so it is left out;
    each row's label carries the cohort size instead.
    """
    all_rows = cohorts.to_pylist()
    rows = [r for r in all_rows if r["period_number"] >= 1]
    cohort_keys = sorted({r["cohort_start"] for r in all_rows})
    max_n = max((r["period_number"] for r in rows), default=1)
    grid: list[list[float | None]] = [[None] * max_n for _ in cohort_keys]
    sizes = {r["cohort_start"]: r["cohort_size"] for r in all_rows}
    index = {c: i for i, c in enumerate(cohort_keys)}
    for r in rows:
        grid[index[r["cohort_start"]]][r["period_number"] - 1] = r[value]
    y = [f"{label(c, grain)} (n={sizes[c]})" for c in cohort_keys]  # type: ignore[arg-type]
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=list(range(1, max_n + 1)),
            y=y,
            colorscale="Blues",
            zmin=0,
            texttemplate="%{z:.0f}",
            textfont={"size": 9},
            hovertemplate="%{y}<br>period %{x}: %{z:.1f} %<extra></extra>",
            colorbar={"ticksuffix": " %"},
        )
    )
    height = max(340, 20 * len(cohort_keys) + 120)
    return _layout(
        fig,
        title,
        height=height,
        xaxis={"title": f"{grain}s since first purchase", "dtick": 1},
        yaxis={"autorange": "reversed"},
    )


def average_retention(cohorts: pa.Table, cumulative: pa.Table, grain: str) -> go.Figure:
    """The average retention curve over all cohorts: per period N since the first
    purchase, the customers of every cohort observed at N who bought in N (and in N or
    later) over those cohorts' sizes — a size-weighted mean of the heatmap's columns."""
    fig = go.Figure()
    for table, name, colour in (
        (cohorts, "bought in period N", PALETTE["primary"]),
        (cumulative, "bought in N or later", PALETTE["muted"]),
    ):
        bought: dict[int, int] = {}
        sizes: dict[int, int] = {}
        for r in table.to_pylist():
            n = r["period_number"]
            bought[n] = bought.get(n, 0) + r["customers"]
            sizes[n] = sizes.get(n, 0) + r["cohort_size"]
        periods = sorted(n for n in bought if n >= 1)
        fig.add_scatter(
            x=periods,
            y=[100.0 * bought[n] / sizes[n] for n in periods],
            name=name,
            mode="lines+markers",
            line={"color": colour},
            hovertemplate="period %{x}: %{y:.1f} %<extra></extra>",
        )
    return _layout(
        fig,
        "Average retention curve: share of a cohort buying N periods after its first purchase",
        xaxis={"title": f"{grain}s since first purchase", "rangemode": "nonnegative"},
        yaxis={"ticksuffix": " %", "rangemode": "tozero"},
    )


def rfm_grid(grid: pa.Table) -> go.Figure:
    """Customers per recency × frequency score. Frequency scores nobody has (ties share
    the lowest score, so with many one-time buyers F = 2 or 3 may be empty) get no
    column: an all-zero column says nothing."""
    rows = grid.to_pylist()
    f_scores = sorted({r["f_score"] for r in rows})
    column = {f: i for i, f in enumerate(f_scores)}
    z: list[list[int]] = [[0] * len(f_scores) for _ in range(5)]
    for row in rows:
        z[row["r_score"] - 1][column[row["f_score"]]] = row["customers"]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(f) for f in f_scores],
            y=[1, 2, 3, 4, 5],
            colorscale="Teal",
            text=z,
            texttemplate="%{text}",
            hovertemplate="R %{y}, F %{x}: %{z} customers<extra></extra>",
        )
    )
    return _layout(
        fig,
        "RFM grid: recency × frequency (customers)",
        xaxis={"title": "frequency score", "type": "category"},
        yaxis={"title": "recency score", "dtick": 1},
    )


def segment_bars(segments: pa.Table) -> go.Figure:
    names = segments.column("segment").to_pylist()
    fig = go.Figure()
    fig.add_bar(
        y=names,
        x=segments.column("customer_share").to_pylist(),
        orientation="h",
        name="share of customers",
        marker_color=PALETTE["muted"],
    )
    fig.add_bar(
        y=names,
        x=segments.column("revenue_share").to_pylist(),
        orientation="h",
        name="share of revenue",
        marker_color=PALETTE["primary"],
    )
    return _layout(
        fig,
        "RFM segments: customers vs revenue",
        height=420,
        xaxis={"ticksuffix": " %"},
        yaxis={"autorange": "reversed"},
    )


def kinds_chart(kinds: pa.Table, regularity: pa.Table) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(
        x=regularity.column("regularity_bucket").to_pylist(),
        y=regularity.column("customers").to_pylist(),
        marker_color=PALETTE["primary"],
        name="repeat customers",
    )
    return _layout(
        fig,
        "Occasional ↔ regular: regularity of repeat customers",
        xaxis={"title": "regularity score (0 = erratic, 100 = clockwork)"},
        bargap=0.05,
    )


def stages_funnel(stages: pa.Table) -> go.Figure:
    fig = go.Figure(
        go.Funnel(
            y=stages.column("stage").to_pylist(),
            x=stages.column("customers").to_pylist(),
            textinfo="value+percent initial",
            marker={"color": PALETTE["primary"]},
        )
    )
    return _layout(fig, "Loyalty stages", height=320)


def goal_gauge(current: float | None, target: float) -> go.Figure:
    """The CRR on a 0–100 dial with the target as a marker. No red "▼" delta: the gap
    to a goal is not a drop, and the page states it in words next to the dial."""
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number",
            value=current or 0.0,
            number={"suffix": " %", "valueformat": ".1f"},
            gauge={
                "axis": {"range": [0, 100]},
                "bar": {"color": PALETTE["primary"]},
                "threshold": {"line": {"color": PALETTE["accent"], "width": 4}, "value": target},
            },
        )
    )
    _layout(fig, "Customer retention rate vs goal", height=260)
    # the dial's end labels (0, 100) sit outside it: room on both sides at phone width
    return fig.update_layout(margin={"l": 40, "r": 40})


def p_alive_heatmap(grid: pa.Table) -> go.Figure:
    """Mean P(alive) by number of orders × months since the last order."""
    rows = grid.to_pylist()
    max_orders = max((r["orders"] for r in rows), default=1)
    max_months = max((r["recency_months"] for r in rows), default=0)
    z: list[list[float | None]] = [[None] * (max_months + 1) for _ in range(max_orders)]
    for r in rows:
        z[r["orders"] - 1][r["recency_months"]] = r["p_alive"]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(max_months + 1)),
            y=[str(n) if n < 10 else "10+" for n in range(1, max_orders + 1)],
            colorscale="RdYlGn",
            zmin=0,
            zmax=1,
            hovertemplate="%{y} orders, last %{x} months ago: P(alive) %{z:.2f}<extra></extra>",
        )
    )
    return _layout(
        fig,
        "P(alive) by orders and months since the last order",
        xaxis={"title": "months since the last order"},
        yaxis={"title": "orders"},
    )


def clv_histogram(clv: list[float]) -> go.Figure:
    fig = go.Figure(go.Histogram(x=clv, nbinsx=60, marker_color=PALETTE["primary"]))
    return _layout(
        fig,
        "Customer value: 12-month CLV distribution",
        xaxis={"title": "discounted CLV, next 12 months"},
        yaxis={"title": "customers", "type": "log"},
    )


def holdout_tracking(curve: Any, calibration_end: str, model: str) -> go.Figure:
    """Cumulative repeat purchases: actual vs the model fitted before the holdout."""
    x = [d.isoformat() for d in curve.period_start]
    fig = go.Figure()
    fig.add_scatter(
        x=x,
        y=curve.actual_cumulative,
        name="actual",
        mode="lines",
        line={"color": PALETTE["primary"], "width": 3},
    )
    fig.add_scatter(
        x=x,
        y=curve.predicted_cumulative,
        name=f"{model} prediction",
        mode="lines",
        line={"color": PALETTE["accent"], "dash": "dash"},
    )
    fig.add_vline(x=calibration_end, line_dash="dot", line_color=PALETTE["muted"])
    fig.add_annotation(
        x=calibration_end, y=1, yref="paper", text="holdout starts", showarrow=False, xanchor="left"
    )
    return _layout(
        fig,
        "Holdout check: cumulative repeat purchases, actual vs predicted",
        yaxis={"title": "repeat purchases"},
    )
