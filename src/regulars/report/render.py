"""Write a computed report: ``report.html`` (self-contained, offline), ``metrics.json``
(stable keys, see docs/report.md), ``customers.parquet`` (one row per customer), the
contact lists (``contacts/*.csv``) and ``rejects.csv``.

Numbers on the page are in the shop's locale (:mod:`regulars.report.formatting`); a
part with too little data to chart says so in a sentence instead (:func:`_enough`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pyarrow.parquet as pq
from plotly.offline import get_plotlyjs

from regulars import __version__
from regulars.analytics.periods import period_label as label
from regulars.analytics.rfm import SEGMENTS
from regulars.data.importers import ImportResult
from regulars.models.selection import (
    ELIGIBLE,
    MAX_HOLDOUT_ERROR,
    MIN_CUSTOMERS,
    MIN_REPEAT_BUYERS,
)
from regulars.models.service import MODEL_LABELS
from regulars.report import charts
from regulars.report.build import COHORT_GRAIN, ReportData
from regulars.report.contacts import AT_RISK, CONTACTS_DIR, list_file, write_contact_lists
from regulars.report.document import future_document, metrics_document
from regulars.report.formatting import Formatter
from regulars.report.future import SCORE_COLUMNS, p_alive_grid
from regulars.report.tiles import kpi_tiles

#: Per-customer forecasts, left out of the lists when they are not shown.
SCORE_LIST_COLUMNS = (*SCORE_COLUMNS, "value_at_risk")
#: Rows of the at-risk table on the page; the CSV has them all.
AT_RISK_ROWS = 25
#: Fewest periods a trend or lifecycle chart needs, fewest periods since the first
#: purchase a cohort chart needs.
MIN_TREND_PERIODS = 2
MIN_COHORT_PERIODS = 1

env = jinja2.Environment(
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
    contacts: dict[str, Path]


def _enough(data: ReportData) -> dict[str, bool]:
    """Which parts have enough data to chart (module docstring)."""
    periods = max((r["period_number"] for r in data.cohorts.to_pylist()), default=0)
    return {
        "trend": data.series.num_rows >= MIN_TREND_PERIODS,
        "lifecycle": data.lifecycle.num_rows >= MIN_TREND_PERIODS,
        "cohorts": periods >= MIN_COHORT_PERIODS,
    }


def _figures(data: ReportData, enough: dict[str, bool]) -> dict[str, str]:
    grain = COHORT_GRAIN[data.period]
    target = data.goal.target_crr if data.goal is not None else None
    figs: dict[str, Any] = {
        "rfm_grid": charts.rfm_grid(data.rfm_grid),
        "segments": charts.segment_bars(data.segments),
        "kinds": charts.kinds_chart(data.kinds, data.regularity),
        "stages": charts.stages_funnel(data.stages),
        **_future_figures(data),
    }
    if enough["trend"]:
        figs["trend"] = charts.kpi_trend(data.series, data.period, target, data.lapse_possible_from)
        figs["revenue"] = charts.revenue_trend(data.series, data.period)
    if enough["lifecycle"]:
        figs["lifecycle"] = charts.lifecycle_chart(data.lifecycle, data.period)
    if enough["cohorts"]:
        figs["cohorts"] = charts.cohort_heatmap(
            data.cohorts, grain, "customer_share", "Cohorts: share of customers buying again (%)"
        )
        figs["cohorts_revenue"] = charts.cohort_heatmap(
            data.cohorts,
            grain,
            "revenue_share",
            "Cohorts: revenue retention (% of the first period's revenue)",
        )
        figs["retention_curve"] = charts.average_retention(
            data.cohorts, data.cohorts_cumulative, grain
        )
    if data.goal is not None:
        figs["goal"] = charts.goal_gauge(data.current.window.crr, data.goal.target_crr)
    wide = {"cohorts", "cohorts_revenue"}
    return {name: charts.figure_html(name, fig, wide=name in wide) for name, fig in figs.items()}


def _future_figures(data: ReportData) -> dict[str, Any]:
    future = data.future
    if future is None or not future.reliability.shown:
        return {}
    figs: dict[str, Any] = {}
    if future.scores is not None:
        figs["p_alive"] = charts.p_alive_heatmap(p_alive_grid(data.customers))
        figs["clv"] = charts.clv_histogram(future.scores.column("clv_12m").to_pylist())
    holdout = future.choice.holdout
    if holdout is not None and holdout.tracking is not None:
        figs["holdout"] = charts.holdout_tracking(
            holdout.tracking, holdout.calibration_end.isoformat(), future.choice.label
        )
    return figs


def render_html(
    data: ReportData, source: ImportResult | None, title: str, contacts: dict[str, Path]
) -> str:
    k = data.current
    fmt = Formatter.of(data.locale, data.currency)
    enough = _enough(data)
    at_risk = data.at_risk
    return env.get_template("report.html.j2").render(
        title=title,
        version=__version__,
        data=data,
        period_label=label(k.start, data.period),
        tiles=kpi_tiles(data, fmt),
        figures=_figures(data, enough),
        enough=enough,
        segments=data.segments.to_pylist(),
        segment_info=SEGMENTS,
        kinds=data.kinds.to_pylist(),
        future=future_document(data),
        choice=data.future.choice if data.future else None,
        reliability=data.future.reliability if data.future else None,
        scores_shown=_scores_shown(data),
        at_risk=[] if at_risk is None else at_risk.slice(0, AT_RISK_ROWS).to_pylist(),
        at_risk_count=0 if at_risk is None else at_risk.num_rows,
        lists={name: list_file(name) for name in contacts},
        at_risk_list=list_file(AT_RISK) if AT_RISK in contacts else None,
        model_labels=MODEL_LABELS,
        eligible=ELIGIBLE,
        limits={
            "customers": MIN_CUSTOMERS,
            "repeat_buyers": MIN_REPEAT_BUYERS,
            "holdout_error": MAX_HOLDOUT_ERROR,
        },
        source=source,
        plotly_js=get_plotlyjs(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        fmt=fmt,
    )


def _scores_shown(data: ReportData) -> bool:
    """Whether the page and the lists show per-customer forecasts: the models ran, the
    value model could be fitted, and there was enough data to trust it."""
    future = data.future
    return future is not None and future.scores is not None and future.reliability.shown


def write_report(
    data: ReportData,
    out_dir: Path,
    *,
    source: ImportResult | None = None,
    files: list[str] | None = None,
    title: str = "Retention report",
) -> ReportPaths:
    out_dir.mkdir(parents=True, exist_ok=True)
    listed = data.customers
    if not _scores_shown(data):  # forecasts too weak to show are not handed out either
        listed = listed.drop_columns([c for c in SCORE_LIST_COLUMNS if c in listed.column_names])
    contacts = write_contact_lists(out_dir / CONTACTS_DIR, listed, data.contacts, data.at_risk)
    html = out_dir / "report.html"
    html.write_text(render_html(data, source, title, contacts), encoding="utf-8")
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
    return ReportPaths(html, metrics, customers, rejects, contacts)
