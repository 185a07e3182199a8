"""The analytics plane on order exports: ``regulars report``, ``metrics``, ``fit`` and
``demo``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeGuard

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from regulars.cli.common import (
    CurrencyOpt,
    EngineOpt,
    EngineUrlOpt,
    FromStoreOpt,
    JsonOpt,
    LocaleOpt,
    MapOpt,
    MappingFileOpt,
    MarginOpt,
    OptionalPaths,
    OrderSource,
    QuietOpt,
    StoreUrlOpt,
    TableOpt,
    TimezoneOpt,
    WindowOpt,
    column_mapping,
    console,
    err_console,
    load_orders,
    parse_date,
    parse_day,
    parse_decimal,
    progress_steps,
    settings_with,
)
from regulars.config import Settings
from regulars.errors import RegularsError

if TYPE_CHECKING:
    from regulars.data.importers import ColumnMapping
    from regulars.models.service import ModelName, ModelReport
    from regulars.report.formatting import Formatter

AcquisitionCostOpt = Annotated[str | None, typer.Option(help="Cost to acquire a customer.")]
DefinitionOpt = Annotated[str | None, typer.Option(help="activity_window or repeat.")]

MODELS = ("bgnbd", "mbgnbd", "pareto", "gammagamma")
UNITS = ("day", "week", "month")


def report(
    orders: OptionalPaths = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/report"),
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Analyse as of this date (YYYY-MM-DD; default: day after the last order)."
        ),
    ] = None,
    period: Annotated[str | None, typer.Option(help="week, month, quarter or year.")] = None,
    target_crr: Annotated[float | None, typer.Option(help="Retention goal in percent.")] = None,
    acquisition_cost: AcquisitionCostOpt = None,
    margin: MarginOpt = None,
    definition: DefinitionOpt = None,
    map_: MapOpt = None,
    mapping: MappingFileOpt = None,
    timezone: TimezoneOpt = None,
    activity_window: WindowOpt = None,
    locale: LocaleOpt = None,
    currency: CurrencyOpt = None,
    models: Annotated[
        bool, typer.Option(help="Fit the predictive models (the Future section).")
    ] = True,
    quiet: QuietOpt = False,
    engine: EngineOpt = "duckdb",
    engine_url: EngineUrlOpt = None,
    from_store: FromStoreOpt = False,
    store_url: StoreUrlOpt = None,
    table: TableOpt = None,
) -> None:
    """Write report.html, metrics.json, customers.parquet, contacts/*.csv and rejects.csv
    to --out, from order files, the operational store (--from-store) or an engine table
    (--table)."""
    settings = settings_with(
        timezone=timezone,
        activity_window_days=activity_window,
        period=period,
        target_crr=target_crr,
        acquisition_cost=parse_decimal(acquisition_cost),
        margin=parse_decimal(margin),
        retention_definition=definition,
        locale=locale,
        currency=currency,
    )
    _run_report(
        OrderSource(orders or [], from_store, store_url, table, engine, engine_url),
        out,
        settings,
        column_mapping(map_, mapping),
        parse_date(as_of, "--as-of"),
        quiet,
        models,
    )


def _run_report(
    source: OrderSource,
    out: Path,
    settings: Settings,
    mapping: ColumnMapping | None,
    as_of: date | None,
    quiet: bool,
    models: bool = True,
) -> None:
    """Import, compute and write the report, with a progress display unless ``quiet``."""
    from regulars.report.build import compute_report
    from regulars.report.formatting import Formatter
    from regulars.report.render import write_report

    Formatter.of(settings.locale, settings.currency)  # a bad locale fails before the work
    source.check(mapping)
    with progress_steps(quiet, total=9) as step:
        step(_reading(source))
        shop = load_orders(source, settings, mapping)
        data = compute_report(shop, as_of=as_of, models=models, progress=step)
        step("writing report")
        files = [str(p) for p in source.paths]
        written = write_report(data, out, source=shop.import_result, files=files)
    result = shop.import_result
    if not quiet and result is not None:
        console.print(result.summary(), highlight=False)
        if result.rows_rejected:
            console.print(f"[yellow]{result.rows_rejected} rejected row(s): {written.rejects}")
    if not quiet:
        fmt = Formatter.of(data.locale, data.currency)
        k = data.current
        console.print(
            f"Retention {fmt.pct(k.window.crr)} · came back {fmt.pct(k.repeat.crr)} · "
            f"churn {fmt.pct(k.window.churn_rate)} · {fmt.count(data.totals.customers)} "
            f"customers · historic CLTV {fmt.money(data.lifetime.historic_cltv)} · "
            f"as of {fmt.day(data.as_of)}",
            highlight=False,
        )
        if written.contacts:
            console.print(f"Contact lists: {out / 'contacts'}", highlight=False)
    console.print(f"Report: {written.html}", highlight=False)


def _reading(source: OrderSource) -> str:
    """The progress line of the first step."""
    if source.table is not None:
        return f"reading {source.table} on {source.engine}"
    if source.from_store:
        return f"loading the store's orders into {source.engine}"
    return f"importing {len(source.paths)} file(s)"


def metrics(
    start: Annotated[str, typer.Option(help="First day of the period (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Day after the period (YYYY-MM-DD), exclusive.")],
    orders: OptionalPaths = None,
    as_json: JsonOpt = False,
    acquisition_cost: AcquisitionCostOpt = None,
    margin: MarginOpt = None,
    definition: DefinitionOpt = None,
    map_: MapOpt = None,
    mapping: MappingFileOpt = None,
    timezone: TimezoneOpt = None,
    activity_window: WindowOpt = None,
    locale: LocaleOpt = None,
    currency: CurrencyOpt = None,
    engine: EngineOpt = "duckdb",
    engine_url: EngineUrlOpt = None,
    from_store: FromStoreOpt = False,
    store_url: StoreUrlOpt = None,
    table: TableOpt = None,
) -> None:
    """Print one period's KPIs (S, N, E, CRR, churn, repeat rate, AOV, frequency…) and
    the historic CLTV as of its end."""
    start_d, end_d = parse_date(start, "--start"), parse_date(end, "--end")
    if start_d is None or end_d is None or start_d >= end_d:
        raise RegularsError("--start must be a date before --end")
    settings = settings_with(
        timezone=timezone,
        activity_window_days=activity_window,
        acquisition_cost=parse_decimal(acquisition_cost),
        margin=parse_decimal(margin),
        retention_definition=definition,
        locale=locale,
        currency=currency,
    )
    source = OrderSource(orders or [], from_store, store_url, table, engine, engine_url)
    shop = load_orders(source, settings, column_mapping(map_, mapping))
    values = shop.kpis(start_d, end_d).to_dict()
    values["lifetime"] = shop.lifetime_value(end_d).to_dict()
    if as_json:
        from regulars.report.document import jsonable

        print(json.dumps(jsonable(values), indent=2))
        return
    from regulars.report.build import currency as shop_currency
    from regulars.report.formatting import Formatter

    _print_kpis(values, start_d, end_d, Formatter.of(settings.locale, shop_currency(shop)))
    if shop.import_result is not None:
        err_console.print(shop.import_result.summary(), highlight=False)


#: How ``regulars metrics`` shows each value (JSON keeps plain numbers).
_KINDS = {
    "crr": "pct",
    "churn_rate": "pct",
    "repeat_purchase_rate": "pct",
    "revenue": "money",
    "aov": "money",
    "lapsed_revenue": "money",
    "historic_cltv": "money",
    "acquisition_cost": "money",
    "purchase_frequency": "number",
    "average_lifespan_days": "number",
    "average_lifespan_years": "number",
    "ltv_cac": "number",
    "margin": "text",
    "start": "text",
    "end": "text",
    "as_of": "text",
    "definition": "text",
}


def _shown(key: str, value: Any, fmt: Formatter) -> str:
    kind = _KINDS.get(key, "count")
    if value is None:
        return "n/a"
    if kind == "text":
        return str(value)
    shown: dict[str, Callable[[Any], str]] = {
        "pct": fmt.pct,
        "money": fmt.money,
        "number": fmt.number,
        "count": fmt.count,
    }
    return shown[kind](value)


def _print_kpis(values: dict[str, Any], start: date, end: date, fmt: Formatter) -> None:
    table = Table(title=f"KPIs for [{start}, {end})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in values.items():
        if not isinstance(value, dict):
            table.add_row(key, _shown(key, value, fmt))
    for group in ("repeat", "activity_window", "lifetime"):
        nested = values.get(group)
        if isinstance(nested, dict):
            for key, value in nested.items():
                table.add_row(f"{group}.{key}", _shown(key, value, fmt))
    console.print(table)


def fit(
    calibration_end: Annotated[
        str, typer.Option(help="Fit on orders before this date (YYYY-MM-DD).")
    ],
    orders: OptionalPaths = None,
    model: Annotated[str, typer.Option(help="bgnbd, mbgnbd, pareto or gammagamma.")] = "bgnbd",
    observation_end: Annotated[
        str | None,
        typer.Option(
            help="Check predictions on [calibration-end, this date); "
            "default: the day after the last order."
        ),
    ] = None,
    unit: Annotated[str, typer.Option(help="Time unit: day, week or month.")] = "week",
    as_json: JsonOpt = False,
    map_: MapOpt = None,
    mapping: MappingFileOpt = None,
    timezone: TimezoneOpt = None,
    engine: EngineOpt = "duckdb",
    engine_url: EngineUrlOpt = None,
    from_store: FromStoreOpt = False,
    store_url: StoreUrlOpt = None,
    table: TableOpt = None,
) -> None:
    """Fit a buy-till-you-die or spend model and check it on the holdout period. The
    summary is computed on the engine; the fit runs here on the de-duplicated summary."""
    from regulars.models.service import fit_model

    if not _is_model(model):
        raise RegularsError(f"--model: '{model}' is not one of {', '.join(MODELS)}")
    if unit not in UNITS:
        raise RegularsError(f"--unit: '{unit}' is not one of {', '.join(UNITS)}")
    cal_end = parse_day(calibration_end, "--calibration-end")
    source = OrderSource(orders or [], from_store, store_url, table, engine, engine_url)
    shop = load_orders(source, settings_with(timezone=timezone), column_mapping(map_, mapping))
    obs_end = parse_date(observation_end, "--observation-end") or shop.default_as_of()
    if obs_end < cal_end:
        raise RegularsError("--observation-end must not be before --calibration-end")
    holdout_end = obs_end if obs_end > cal_end and model != "gammagamma" else None
    fitted = fit_model(
        shop.orders, model=model, calibration_end=cal_end, observation_end=holdout_end, unit=unit
    )
    if as_json:
        print(json.dumps(fitted.to_dict(), indent=2))
        return
    _print_fit(fitted)


def _is_model(model: str) -> TypeGuard[ModelName]:
    """Whether ``--model`` names a model :func:`fit_model` knows."""
    return model in MODELS


def _print_fit(fitted: ModelReport) -> None:
    table = Table(title=f"{fitted.model}: {fitted.n_customers:,} customers")
    table.add_column("parameter")
    table.add_column("estimate", justify="right")
    table.add_column("std. error", justify="right")
    for name, value in fitted.params.items():
        se = fitted.standard_errors.get(name)
        table.add_row(name, f"{value:.4f}", "n/a" if se is None else f"{se:.4f}")
    console.print(table)
    console.print(
        f"log-likelihood {fitted.log_likelihood:.2f} · AIC {fitted.aic:.1f} · "
        f"BIC {fitted.bic:.1f} · converged: {fitted.converged}"
    )
    holdout = fitted.holdout
    if holdout is not None:
        console.print(
            f"Holdout [{holdout.calibration_end}, {holdout.observation_end}): "
            f"{holdout.total_actual:,.0f} actual vs {holdout.total_predicted:,.1f} predicted "
            f"purchases; per customer MAE {holdout.mae:.3f}, RMSE {holdout.rmse:.3f}"
        )


def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/demo"),
    transactions: Annotated[
        int, typer.Option(min=1_000, max=10_000_000, help="Size of the demo shop.")
    ] = 30_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same shop).")] = 7,
    quiet: QuietOpt = False,
) -> None:
    """Generate a demo shop (with a few broken rows) and write its retention report."""
    from regulars.data.demo import generate_demo

    with _demo_progress(quiet) as progress:
        shop = generate_demo(
            out / "data", n_transactions=transactions, seed=seed, fmt="csv", progress=progress
        )
    if not quiet:
        console.print(
            f"Demo shop: {shop.n_customers} customers, {shop.n_orders} orders, "
            f"{shop.n_defects} deliberate defects → {shop.orders}"
        )
    _run_report(OrderSource([shop.orders]), out, Settings(), None, None, quiet)


@contextmanager
def _demo_progress(quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A percentage bar for the demo generator; ``None`` (no callback) when ``quiet``."""
    if quiet:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("generating demo shop"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("demo", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def register(app: typer.Typer) -> None:
    """Add ``report``, ``metrics``, ``fit`` and ``demo`` to the root command."""
    for command in (report, metrics, fit, demo):
        app.command()(command)
