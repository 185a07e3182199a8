"""Write a computed report: ``report.html`` (self-contained, offline), ``metrics.json``
(stable keys, see docs/report.md) and ``customers.parquet`` (one row per customer)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
import pyarrow.parquet as pq
from plotly.offline import get_plotlyjs

from regulars import __version__
from regulars.analytics.periods import period_label as label
from regulars.analytics.rfm import SEGMENTS
from regulars.data.importers import ImportResult
from regulars.report import charts
from regulars.report.build import COHORT_GRAIN, ReportData
from regulars.report.future import at_risk, p_alive_grid

METRICS_SCHEMA_VERSION = 2

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("regulars.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    metrics: Path
    customers: Path
    rejects: Path | None


@dataclass(frozen=True)
class Tile:
    title: str
    value: str
    definition: str
    delta: str | None = None
    delta_good: bool | None = None


def jsonable(value: Any) -> Any:
    """Dates as ISO text, Decimals as exact text, dataclasses as dicts."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):  # NaN has no JSON form
        return None
    return value


def metrics_document(
    data: ReportData, source: ImportResult | None, files: list[str]
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "generator": f"regulars {__version__}",
        "as_of": data.as_of,
        "period": data.period,
        "source": None,
        "totals": data.totals,
        "current_period": data.current.to_dict(),
        "previous_period": data.previous.to_dict() if data.previous else None,
        "lifetime": data.lifetime.to_dict(),
        "trend": data.series.to_pylist(),
        "lifecycle": data.lifecycle.to_pylist(),
        "cohorts": data.cohorts.to_pylist(),
        "segments": data.segments.to_pylist(),
        "kinds": data.kinds.to_pylist(),
        "stages": data.stages.to_pylist(),
        "goal": data.goal,
        "future": future_document(data),
    }
    if source is not None:
        doc["source"] = {
            "files": files,
            "format": source.source_format,
            "rows_read": source.rows_read,
            "orders_imported": source.orders_imported,
            "rows_rejected": source.rows_rejected,
            "duplicate_orders": source.duplicate_orders,
        }
    return jsonable(doc)  # type: ignore[no-any-return]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def _money(value: Decimal | float | None) -> str:
    return "n/a" if value is None else f"{Decimal(str(value)):,.2f}"


def _count(value: Any) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def _ratio(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"


FORMATS = {"pct": _pct, "money": _money, "int": _count, "float": _ratio}


def _delta(
    now: float | None, before: float | None, fmt: str, higher_is_better: bool
) -> tuple[str | None, bool | None]:
    """The change against the previous period, in the tile's own unit."""
    if now is None or before is None:
        return None, None
    diff = now - before
    text = {
        "pct": f"{diff:+.1f} pts",
        "int": f"{diff:+,.0f}",
        "money": f"{diff:+,.2f}",
        "float": f"{diff:+.2f}",
    }[fmt]
    return f"{text} vs previous", (diff >= 0) == higher_is_better


def kpi_tiles(data: ReportData) -> list[Tile]:
    """The headline numbers of the last complete period, each with its definition."""
    k = data.current.to_dict()
    p = data.previous.to_dict() if data.previous else {}
    w = data.current.activity_window_days

    def tile(
        title: str,
        key: str,
        fmt: str,
        definition: str,
        higher_is_better: bool = True,
    ) -> Tile:
        value, before = k.get(key), p.get(key)
        delta, good = _delta(_num(value), _num(before), fmt, higher_is_better)
        return Tile(title, FORMATS[fmt](value), definition, delta, good)

    return [
        tile(
            "Customer retention rate",
            "crr",
            "pct",
            f"CRR = (E − N − reactivated) / S × 100: the share of the customers active at "
            f"the start (bought in the {w} days before it) who are still active at the end.",
        ),
        tile(
            "Churn rate",
            "churn_rate",
            "pct",
            "Lost / S × 100: customers active at the start who are no longer active at the end.",
            higher_is_better=False,
        ),
        tile(
            "Customers at start (S)",
            "customers_start",
            "int",
            f"Customers who bought in the {w} days before the period started.",
        ),
        tile(
            "New customers (N)",
            "customers_new",
            "int",
            "Customers whose first purchase ever falls inside the period.",
        ),
        tile(
            "Customers at end (E)",
            "customers_end",
            "int",
            f"Customers who bought in the {w} days before the period ended.",
        ),
        tile(
            "Repeat purchase rate",
            "repeat_purchase_rate",
            "pct",
            "Customers with 2+ purchases in the period / customers who bought in it × 100.",
        ),
        tile(
            "Average order value",
            "aov",
            "money",
            "Net revenue / purchases in the period (refunds deducted).",
        ),
        tile(
            "Purchase frequency",
            "purchase_frequency",
            "float",
            "Purchases / unique customers in the period.",
        ),
        Tile(
            "Historic CLTV",
            _money(data.lifetime.historic_cltv),
            "What a customer whose life has ended spent on average (× margin when"
            " configured): AOV × purchases per year of life × lifespan in years.",
        ),
    ]


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _figures(data: ReportData) -> dict[str, str]:
    grain = COHORT_GRAIN[data.period]
    target = data.goal.target_crr if data.goal is not None else None
    figs: dict[str, Any] = {
        "trend": charts.kpi_trend(data.series, data.period, target),
        "revenue": charts.revenue_trend(data.series, data.period),
        "lifecycle": charts.lifecycle_chart(data.lifecycle, data.period),
        "cohorts": charts.cohort_heatmap(
            data.cohorts, grain, "customer_share", "Cohorts: share of customers buying again"
        ),
        "cohorts_revenue": charts.cohort_heatmap(
            data.cohorts,
            grain,
            "revenue_share",
            "Cohorts: revenue retention (% of the first period's revenue)",
        ),
        "rfm_grid": charts.rfm_grid(data.rfm_grid),
        "segments": charts.segment_bars(data.segments),
        "kinds": charts.kinds_chart(data.kinds, data.regularity),
        "stages": charts.stages_funnel(data.stages),
        **_future_figures(data),
    }
    if data.goal is not None:
        figs["goal"] = charts.goal_gauge(data.current.window.crr, data.goal.target_crr)
    return {
        name: fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"fig-{name}",
            config={"displaylogo": False, "responsive": True},
        )
        for name, fig in figs.items()
    }


def _future_figures(data: ReportData) -> dict[str, Any]:
    future = data.future
    if future is None:
        return {}
    figs: dict[str, Any] = {}
    if future.scores is not None:
        figs["p_alive"] = charts.p_alive_heatmap(p_alive_grid(data.customers))
        figs["clv"] = charts.clv_histogram(future.scores.column("clv_12m").to_pylist())
    holdout = future.holdout.holdout if future.holdout else None
    if holdout is not None and holdout.tracking is not None:
        figs["holdout"] = charts.holdout_tracking(
            holdout.tracking, holdout.calibration_end.isoformat()
        )
    return figs


def future_document(data: ReportData) -> dict[str, Any] | None:
    """The ``future`` key of metrics.json (see docs/report.md)."""
    future = data.future
    if future is None:
        return None
    holdout = future.holdout
    return {
        **future.totals(),
        "value_model": None
        if holdout is None
        else {
            "model": holdout.model,
            "params": holdout.params,
            "log_likelihood": holdout.log_likelihood,
        },
        "holdout": None
        if holdout is None or holdout.holdout is None
        else {
            k: v
            for k, v in holdout.holdout.to_dict().items()
            if k not in ("tracking", "by_frequency")
        },
        "churn_evaluation": None
        if future.churn is None
        else {k: v for k, v in future.churn.to_dict().items() if k != "calibration"},
        "problems": future.problems,
    }


def render_html(data: ReportData, source: ImportResult | None, title: str) -> str:
    k = data.current
    template = _env.get_template("report.html.j2")
    return template.render(
        title=title,
        version=__version__,
        data=data,
        period_label=label(k.start, data.period),
        tiles=kpi_tiles(data),
        figures=_figures(data),
        segments=data.segments.to_pylist(),
        segment_info=SEGMENTS,
        kinds=data.kinds.to_pylist(),
        future=future_document(data),
        at_risk=at_risk(data.customers).to_pylist() if _has_scores(data) else [],
        source=source,
        plotly_js=get_plotlyjs(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        money=_money,
        pct=_pct,
    )


def _has_scores(data: ReportData) -> bool:
    return data.future is not None and data.future.scores is not None


def write_report(
    data: ReportData,
    out_dir: Path,
    *,
    source: ImportResult | None = None,
    files: list[str] | None = None,
    title: str = "Retention report",
) -> ReportPaths:
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / "report.html"
    html.write_text(render_html(data, source, title), encoding="utf-8")
    metrics = out_dir / "metrics.json"
    metrics.write_text(
        json.dumps(metrics_document(data, source, files or []), indent=2), encoding="utf-8"
    )
    customers = out_dir / "customers.parquet"
    pq.write_table(data.customers, customers)
    rejects = None
    if source is not None:
        rejects = out_dir / "rejects.csv"
        source.write_rejects(rejects)
    return ReportPaths(html, metrics, customers, rejects)
