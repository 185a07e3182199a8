"""The ``regulars`` command line. Commands only parse options, call a service and format.

Every user mistake ends in a one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from regulars.config import Settings
from regulars.errors import RegularsError

app = typer.Typer(
    help="regulars: turn one-time buyers into regulars. Retention analytics for shops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

# Options shared by every command that reads order exports.
Paths = Annotated[list[Path], typer.Argument(help="Order exports: CSV, Parquet or XLSX files.")]
MapOpt = Annotated[
    str | None,
    typer.Option(
        "--map", help="Column mapping, e.g. 'customer_id=Email,amount=Total,ordered_at=Paid at'."
    ),
]
MappingFileOpt = Annotated[Path | None, typer.Option("--mapping", help="Mapping TOML file.")]
TimezoneOpt = Annotated[str | None, typer.Option(help="Shop time zone (IANA), e.g. Europe/Berlin.")]
WindowOpt = Annotated[
    int | None,
    typer.Option(
        "--activity-window",
        help="Days since the last purchase a customer still counts as active (default 365).",
    ),
]
AcquisitionCostOpt = Annotated[str | None, typer.Option(help="Cost to acquire a customer.")]
MarginOpt = Annotated[str | None, typer.Option(help="Gross margin 0..1 for CLTV.")]
DefinitionOpt = Annotated[str | None, typer.Option(help="activity_window or repeat.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _mapping(spec: str | None, file: Path | None) -> Any:
    from regulars.data.importers import load_mapping_file, parse_mapping

    from_file = load_mapping_file(file) if file else None
    from_cli = parse_mapping(spec) if spec else None
    if from_file and from_cli:  # --map refines a mapping file
        return from_file.merged_with(from_cli)
    return from_file or from_cli


@contextmanager
def _steps(quiet: bool, total: int | None = None) -> Iterator[Any]:
    """A Rich progress display; yields a callback ``step(description)``."""
    if quiet:
        yield lambda *_args: None
        return
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("starting", total=total)

        def step(description: str) -> None:
            progress.update(task, description=description, advance=1)

        yield step


def _load_shop(paths: list[Path], settings: Settings, mapping: Any) -> Any:
    from regulars.shop import Shop

    return Shop.from_files(paths, mapping=mapping, settings=settings)


def _run_report(
    paths: list[Path],
    out: Path,
    settings: Settings,
    mapping: Any,
    as_of: date | None,
    quiet: bool,
    models: bool = True,
) -> None:
    from regulars.report.build import compute_report
    from regulars.report.render import write_report

    with _steps(quiet, total=11) as step:
        step(f"importing {len(paths)} file(s)")
        shop = _load_shop(paths, settings, mapping)
        data = compute_report(shop, as_of=as_of, models=models, progress=step)
        step("writing report")
        written = write_report(data, out, source=shop.import_result, files=[str(p) for p in paths])
    result = shop.import_result
    if not quiet and result is not None:
        console.print(result.summary())
        if result.rows_rejected:
            console.print(f"[yellow]{result.rows_rejected} rejected row(s): {written.rejects}")
    k = data.current.to_dict()
    if not quiet:
        console.print(
            f"CRR {_fmt_pct(k['crr'])} · churn {_fmt_pct(k['churn_rate'])} · "
            f"{data.totals.customers:,} customers · as of {data.as_of}"
        )
    console.print(f"Report: {written.html}")


@app.command()
def report(
    orders: Paths,
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
    models: Annotated[
        bool, typer.Option(help="Fit the predictive models (the Future section).")
    ] = True,
    quiet: QuietOpt = False,
) -> None:
    """Write report.html, metrics.json, customers.parquet and rejects.csv to --out."""
    settings = _settings(
        timezone=timezone,
        activity_window_days=activity_window,
        period=period,
        target_crr=target_crr,
        acquisition_cost=_decimal(acquisition_cost),
        margin=_decimal(margin),
        retention_definition=definition,
    )
    _run_report(
        orders, out, settings, _mapping(map_, mapping), _date(as_of, "--as-of"), quiet, models
    )


@app.command()
def metrics(
    orders: Paths,
    start: Annotated[str, typer.Option(help="First day of the period (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Day after the period (YYYY-MM-DD), exclusive.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    acquisition_cost: AcquisitionCostOpt = None,
    margin: MarginOpt = None,
    definition: DefinitionOpt = None,
    map_: MapOpt = None,
    mapping: MappingFileOpt = None,
    timezone: TimezoneOpt = None,
    activity_window: WindowOpt = None,
) -> None:
    """Print one period's KPIs: S, N, E, CRR, churn, repeat rate, AOV, frequency…"""
    start_d, end_d = _date(start, "--start"), _date(end, "--end")
    if start_d is None or end_d is None or start_d >= end_d:
        raise RegularsError("--start must be a date before --end")
    settings = _settings(
        timezone=timezone,
        activity_window_days=activity_window,
        acquisition_cost=_decimal(acquisition_cost),
        margin=_decimal(margin),
        retention_definition=definition,
    )
    shop = _load_shop(orders, settings, _mapping(map_, mapping))
    values = shop.kpis(start_d, end_d).to_dict()
    if as_json:
        from regulars.report.render import jsonable

        print(json.dumps(jsonable(values), indent=2))
        return
    _print_kpis(values, start_d, end_d)
    if shop.import_result is not None:
        err_console.print(shop.import_result.summary())


def _print_kpis(values: dict[str, Any], start: date, end: date) -> None:
    table = Table(title=f"KPIs for [{start}, {end})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in values.items():
        if not isinstance(value, dict):
            table.add_row(key, "n/a" if value is None else str(value))
    console.print(table)


@app.command()
def fit(
    orders: Paths,
    calibration_end: Annotated[
        str, typer.Option(help="Fit on orders before this date (YYYY-MM-DD).")
    ],
    model: Annotated[str, typer.Option(help="bgnbd, mbgnbd, pareto or gammagamma.")] = "bgnbd",
    observation_end: Annotated[
        str | None,
        typer.Option(
            help="Check predictions on [calibration-end, this date); "
            "default: the day after the last order."
        ),
    ] = None,
    unit: Annotated[str, typer.Option(help="Time unit: day, week or month.")] = "week",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    map_: MapOpt = None,
    mapping: MappingFileOpt = None,
    timezone: TimezoneOpt = None,
) -> None:
    """Fit a buy-till-you-die or spend model and check it on the holdout period."""
    from regulars.models.service import fit_model

    if model not in MODELS:
        raise RegularsError(f"--model: '{model}' is not one of {', '.join(MODELS)}")
    if unit not in ("day", "week", "month"):
        raise RegularsError(f"--unit: '{unit}' is not one of day, week, month")
    cal_end = _date(calibration_end, "--calibration-end")
    assert cal_end is not None  # the option is required
    shop = _load_shop(orders, _settings(timezone=timezone), _mapping(map_, mapping))
    obs_end = _date(observation_end, "--observation-end") or shop.default_as_of()
    if obs_end < cal_end:
        raise RegularsError("--observation-end must not be before --calibration-end")
    holdout_end = obs_end if obs_end > cal_end and model != "gammagamma" else None
    report = fit_model(
        shop.orders,
        model=model,  # type: ignore[arg-type]  # checked against MODELS above
        calibration_end=cal_end,
        observation_end=holdout_end,
        unit=unit,
    )
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    _print_fit(report)


MODELS = ("bgnbd", "mbgnbd", "pareto", "gammagamma")


def _print_fit(report: Any) -> None:
    table = Table(title=f"{report.model}: {report.n_customers:,} customers")
    table.add_column("parameter")
    table.add_column("estimate", justify="right")
    table.add_column("std. error", justify="right")
    for name, value in report.params.items():
        se = report.standard_errors.get(name)
        table.add_row(name, f"{value:.4f}", "n/a" if se is None else f"{se:.4f}")
    console.print(table)
    console.print(
        f"log-likelihood {report.log_likelihood:.2f} · AIC {report.aic:.1f} · "
        f"BIC {report.bic:.1f} · converged: {report.converged}"
    )
    holdout = report.holdout
    if holdout is not None:
        console.print(
            f"Holdout [{holdout.calibration_end}, {holdout.observation_end}): "
            f"{holdout.total_actual:,.0f} actual vs {holdout.total_predicted:,.1f} predicted "
            f"purchases; per customer MAE {holdout.mae:.3f}, RMSE {holdout.rmse:.3f}"
        )


@app.command()
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
    _run_report([shop.orders], out, Settings(), None, None, quiet)


@contextmanager
def _demo_progress(quiet: bool) -> Iterator[Any]:
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


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RegularsError(f"{option}: '{text}' is not a date; use YYYY-MM-DD") from None


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except ArithmeticError:
        raise RegularsError(f"'{text}' is not a number") from None


db_app = typer.Typer(help="The operational store: migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Database URL (default: REGULARS_DATABASE_URL or sqlite:///regulars.db).",
    ),
]


@db_app.command("upgrade")
def db_upgrade(
    url: DatabaseUrlOpt = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the store's tables up to the newest revision."""
    from regulars.store.migrate import upgrade
    from regulars.store.session import display_url

    database = url or _settings().database_url
    current = upgrade(database, revision)
    console.print(f"{display_url(database)} is at revision {current}", highlight=False)


@db_app.command("current")
def db_current(url: DatabaseUrlOpt = None) -> None:
    """Print the store's current revision and the newest one available."""
    from regulars.store.migrate import current_revision, head_revision
    from regulars.store.session import display_url

    database = url or _settings().database_url
    current = current_revision(database)
    head = head_revision()
    state = "up to date" if current == head else f"head is {head}; run 'regulars db upgrade'"
    console.print(
        f"{display_url(database)} is at revision {current or 'none (empty)'} ({state})",
        highlight=False,
    )


@app.command("import")
def import_orders(
    orders: Paths,
    url: DatabaseUrlOpt = None,
    rejects: Annotated[
        Path | None,
        typer.Option(
            help="Write rejected rows here (default: rejects.csv here, only if any were rejected)."
        ),
    ] = None,
    shop: Annotated[str, typer.Option(help="Shop id the orders belong to.")] = "default",
    batch_size: Annotated[int, typer.Option(min=1, help="Rows written per transaction.")] = 10_000,
    map_: MapOpt = None,
    mapping: MappingFileOpt = None,
    timezone: TimezoneOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Load order exports into the store (idempotent; never sends messages or awards points)."""
    from regulars.data.importers import read_orders
    from regulars.store.ingest import count_batches, ingest, require_head
    from regulars.store.session import display_url, make_engine

    database = url or _settings().database_url
    engine = make_engine(database)
    try:
        require_head(engine)  # before the (possibly long) read
        settings = _settings(timezone=timezone)
        result = read_orders(orders, mapping=_mapping(map_, mapping), timezone=settings.timezone)
        if not quiet:
            console.print(result.summary(), highlight=False)
        target = rejects or (Path("rejects.csv") if result.rows_rejected else None)
        if target is not None:
            result.write_rejects(target)
            console.print(
                f"[yellow]{result.rows_rejected} rejected row(s) written to {target}",
                highlight=False,
            )
        with _steps(quiet, total=count_batches(result, batch_size)) as step:
            counts = ingest(engine, result, shop_id=shop, batch_size=batch_size, progress=step)
    finally:
        engine.dispose()
    console.print(f"{counts.summary()} ({display_url(database)})", highlight=False)


apikey_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'checkout'.")],
    scopes: Annotated[
        str,
        typer.Option(
            help="Comma-separated: customers:read, customers:write, orders:write, "
            "loyalty:read, loyalty:write, admin."
        ),
    ],
    url: DatabaseUrlOpt = None,
) -> None:
    """Create an API key and print it, alone on the last line. It is shown only this once."""
    from regulars.api.keys import create_api_key
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine

    engine = make_engine(url or _settings().database_url)
    try:
        require_head(engine)
        row, key = create_api_key(engine, name, scopes)
    finally:
        engine.dispose()
    err_console.print(
        f"API key '{row.name}' (scopes {', '.join(row.scopes)}); store it now, "
        "it cannot be shown again:",
        highlight=False,
    )
    typer.echo(key)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    url: DatabaseUrlOpt = None,
) -> None:
    """Serve the HTTP API (/v1; OpenAPI at /docs) on the store."""
    import uvicorn

    from regulars.api import create_app
    from regulars.store.ingest import require_head
    from regulars.store.session import display_url, make_engine

    database = url or _settings().database_url
    engine = make_engine(database)
    try:
        require_head(engine)
        err_console.print(
            f"serving {display_url(database)} at http://{host}:{port}/v1 (docs at /docs)",
            highlight=False,
        )
        uvicorn.run(create_app(engine), host=host, port=port)
    finally:
        engine.dispose()


def main() -> None:
    """Entry point: run the app, turn user errors into clear messages."""
    try:
        app()
    except RegularsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except pydantic.ValidationError as exc:
        for problem in exc.errors():
            where = ".".join(str(p) for p in problem["loc"])
            err_console.print(f"[bold red]error:[/] {where}: {problem['msg']}", highlight=False)
        sys.exit(2)


def _fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


loyalty_app = typer.Typer(help="The loyalty engine: points ledger.", no_args_is_help=True)
app.add_typer(loyalty_app, name="loyalty")


@loyalty_app.command("import")
def loyalty_import(
    file: Annotated[
        Path, typer.Argument(help="CSV: customer_id, points, occurred_at, expires_at, kind.")
    ],
    program: Annotated[str, typer.Option(help="Code of the program the points belong to.")],
    url: DatabaseUrlOpt = None,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Write rejected rows here (default: loyalty-rejects.csv, if any)."),
    ] = None,
) -> None:
    """Import historical balances and transactions (idempotent; triggers no rewards)."""
    from regulars.loyalty.importing import import_history
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine

    engine = make_engine(url or _settings().database_url)
    try:
        require_head(engine)
        report = import_history(engine, file, program)
    finally:
        engine.dispose()
    console.print(report.summary(), highlight=False)
    if report.rejected:
        target = rejects or Path("loyalty-rejects.csv")
        report.write_rejects(target)
        for number, column, message, _raw in report.rejected[:10]:
            err_console.print(f"row {number}: {column}: {message}", highlight=False)
        console.print(f"[yellow]rejected rows written to {target}", highlight=False)


@loyalty_app.command("expire")
def loyalty_expire(url: DatabaseUrlOpt = None) -> None:
    """Expire every lot past its expiry now (the nightly job; safe to run twice)."""
    from regulars.loyalty.service import expire_due
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine

    engine = make_engine(url or _settings().database_url)
    try:
        require_head(engine)
        points = expire_due(engine)
    finally:
        engine.dispose()
    console.print(f"{points} point(s) expired", highlight=False)


@loyalty_app.command("balance")
def loyalty_balance(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    url: DatabaseUrlOpt = None,
) -> None:
    """A customer's accounts: balance, available, pending and tier per program."""
    from regulars.loyalty.service import loyalty_summary
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine, session_scope

    engine = make_engine(url or _settings().database_url)
    try:
        require_head(engine)
        with session_scope(engine) as session:
            views = loyalty_summary(session, customer_id)
    finally:
        engine.dispose()
    table = Table("program", "balance", "available", "pending", "debt", "tier")
    for view in views:
        table.add_row(
            view.program,
            str(view.balance),
            str(view.available),
            str(view.pending),
            str(view.debt),
            view.tier or "",
        )
    console.print(table if views else f"'{customer_id}' has no loyalty account")


@loyalty_app.command("webhook-add")
def loyalty_webhook_add(
    endpoint: Annotated[str, typer.Argument(help="URL the events are POSTed to.")],
    url: DatabaseUrlOpt = None,
) -> None:
    """Register a webhook endpoint; prints its signing secret, alone on the last line, once."""
    from regulars.loyalty.webhooks import add_endpoint
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine, session_scope

    engine = make_engine(url or _settings().database_url)
    try:
        require_head(engine)
        with session_scope(engine) as session:
            endpoint_id, secret = add_endpoint(session, endpoint)
    finally:
        engine.dispose()
    err_console.print(
        f"endpoint {endpoint_id}: {endpoint}; its signing secret (store it now):", highlight=False
    )
    typer.echo(secret)


@loyalty_app.command("deliver")
def loyalty_deliver(
    url: DatabaseUrlOpt = None,
    warn_days: Annotated[
        int | None, typer.Option(min=1, help="Also queue points_expiring events for N days.")
    ] = None,
) -> None:
    """Queue expiry warnings (with --warn-days) and POST every due webhook delivery."""
    import httpx

    from regulars.loyalty.service import emit_expiry_warnings
    from regulars.loyalty.webhooks import deliver_due
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine, session_scope
    from regulars.store.types import utcnow

    engine = make_engine(url or _settings().database_url)
    try:
        require_head(engine)
        if warn_days is not None:
            with session_scope(engine) as session:
                emit_expiry_warnings(session, utcnow(), warn_days)
        with httpx.Client() as client:
            report = deliver_due(engine, client)
    finally:
        engine.dispose()
    console.print(
        f"{report.delivered} delivered, {report.retrying} to retry, {report.failed} failed",
        highlight=False,
    )
