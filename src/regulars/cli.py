"""The ``regulars`` command line. Commands only parse options, call a service and format.

Every user mistake ends in a one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
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
# Messages are never wrapped: a path cut in two cannot be copied (or grepped) whole.
err_console = Console(stderr=True, soft_wrap=True)

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


def _day(text: str, option: str) -> date:
    day = _date(text, option)
    assert day is not None  # _date gives None only for None
    return day


def _decimal(text: str | None, option: str | None = None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except ArithmeticError:
        where = f"{option}: " if option else ""
        raise RegularsError(f"{where}'{text}' is not a number") from None


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
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1, help="Rows written per transaction (default 10,000; 100,000 on PostgreSQL)."
        ),
    ] = None,
    map_: MapOpt = None,
    mapping: MappingFileOpt = None,
    timezone: TimezoneOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Load order exports into the store (idempotent; never sends messages or awards points)."""
    from regulars.data.importers import read_orders
    from regulars.store.ingest import count_batches, default_batch_size, ingest, require_head
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
        rows_per_batch = batch_size or default_batch_size(engine)
        with _steps(quiet, total=count_batches(result, rows_per_batch)) as step:
            counts = ingest(engine, result, shop_id=shop, batch_size=rows_per_batch, progress=step)
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
            help="Comma-separated scopes: customers:read, customers:write, orders:read, "
            "orders:write, products:read, products:write, events:write, privacy:admin, "
            "loyalty:read, loyalty:write, admin (see docs/api.md).",
        ),
    ],
    url: DatabaseUrlOpt = None,
) -> None:
    """Create an API key and print it, alone on the last line. It is shown only this once."""
    from regulars.api.keys import create_api_key

    with _store(url) as engine:
        row, key = create_api_key(engine, name, scopes, actor="cli")
    err_console.print(
        f"API key '{row.name}' (scopes {', '.join(row.scopes)}); store it now, "
        "it cannot be shown again:",
        highlight=False,
    )
    typer.echo(key)


@apikey_app.command("list")
def apikey_list(
    url: DatabaseUrlOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every API key: name, prefix, scopes, created, revoked (never the secret)."""
    from regulars.api.keys import list_api_keys
    from regulars.store.session import session_scope

    with _store(url) as engine, session_scope(engine) as session:
        keys: list[dict[str, Any]] = [
            {
                "name": k.name,
                "prefix": k.prefix,
                "scopes": k.scopes,
                "created_at": _iso(k.created_at),
                "revoked_at": _iso(k.revoked_at),
            }
            for k in list_api_keys(session)
        ]
    if as_json:
        print(json.dumps(keys, indent=2))
        return
    table = Table(title=f"{len(keys)} API key(s)")
    for column in ("name", "prefix", "scopes", "created", "revoked"):
        table.add_column(column)
    for k in keys:
        table.add_row(
            k["name"], k["prefix"], ",".join(k["scopes"]), k["created_at"], k["revoked_at"] or ""
        )
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (the part after 'rg_').")],
    url: DatabaseUrlOpt = None,
) -> None:
    """Revoke an API key: it is refused (401) from now on. Recorded in the audit log."""
    from regulars.api.keys import revoke_api_key
    from regulars.store.session import session_scope

    with _store(url) as engine, session_scope(engine) as session:
        row, revoked = revoke_api_key(session, prefix, actor="cli")
    state = "revoked" if revoked else f"was already revoked at {_iso(row.revoked_at)}"
    console.print(f"API key '{row.name}' ({row.prefix}) {state}", highlight=False)


@contextmanager
def _store(url: str | None) -> Iterator[Any]:
    """An engine on the store (``--url`` or the settings), which must be migrated to head."""
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine

    engine = make_engine(url or _settings().database_url)
    try:
        require_head(engine)
        yield engine
    finally:
        engine.dispose()


def _iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with ``Z``, as the API writes times."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


customer_app = typer.Typer(
    help="One customer's data: export (GDPR art. 15) and erasure (art. 17).",
    no_args_is_help=True,
)
app.add_typer(customer_app, name="customer")


@customer_app.command("export")
def customer_export(
    customer_id: Annotated[str, typer.Argument(help="The customer's customer_id.")],
    url: DatabaseUrlOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the JSON here (default: standard output).")
    ] = None,
) -> None:
    """Everything the store holds about a customer, as JSON. Recorded in the audit log."""
    from regulars.privacy import export_customer, server_secret
    from regulars.store.session import session_scope

    with _store(url) as engine, session_scope(engine) as session:
        document = export_customer(
            session, customer_id, actor="cli", secret=server_secret(engine.url, _settings())
        )
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    rows = sum(len(r) for r in document["tables"].values())
    err_console.print(f"{rows} row(s) about '{customer_id}' written to {out}", highlight=False)


@customer_app.command("erase")
def customer_erase(
    customer_id: Annotated[str, typer.Argument(help="The customer's customer_id.")],
    url: DatabaseUrlOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a customer from every table for good; the audit log keeps only a pseudonym."""
    from regulars.privacy import erase_customer, server_secret
    from regulars.store.session import session_scope

    if not yes:
        typer.confirm(
            f"Erase customer '{customer_id}' and all their orders, events and consents? "
            "This cannot be undone",
            abort=True,
        )
    with _store(url) as engine, session_scope(engine) as session:
        erasure = erase_customer(
            session, customer_id, actor="cli", secret=server_secret(engine.url, _settings())
        )
    deleted = ", ".join(f"{t} {n}" for t, n in erasure.deleted.items() if n)
    console.print(
        f"Erased '{customer_id}' (rows deleted: {deleted}); audit entry names it "
        f"{erasure.pseudonym}",
        highlight=False,
    )


@app.command("audit")
def audit(
    url: DatabaseUrlOpt = None,
    action: Annotated[str | None, typer.Option(help="Only this action: apikey.revoke…")] = None,
    target_type: Annotated[str | None, typer.Option(help="Only this target type.")] = None,
    customer: Annotated[
        str | None,
        typer.Option(help="Only entries about this customer_id (matched by its pseudonym too)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest N entries.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the audit log of administrative changes, newest first."""
    from regulars.privacy import AuditFilter, pseudonym, server_secret
    from regulars.privacy.audit_log import collect_entries
    from regulars.store.session import session_scope

    with _store(url) as engine, session_scope(engine) as session:
        targets = None
        if customer is not None:
            targets = (customer, pseudonym(server_secret(engine.url, _settings()), customer))
        where = AuditFilter(action=action, target_type=target_type, target_ids=targets)
        entries: list[dict[str, Any]] = [
            {
                "id": e.id,
                "occurred_at": _iso(e.occurred_at),
                "actor": e.actor,
                "action": e.action,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "details": e.details,
            }
            for e in collect_entries(session, where, limit=limit)
        ]
    if as_json:
        print(json.dumps(entries, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"audit log: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
    for column in ("id", "when (UTC)", "actor", "action", "target", "details"):
        table.add_column(column, overflow="fold")
    for e in entries:
        target = f"{e['target_type']} {e['target_id'] or ''}".strip()
        details = json.dumps(e["details"], ensure_ascii=False)
        table.add_row(str(e["id"]), e["occurred_at"], e["actor"], e["action"], target, details)
    console.print(table)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    url: DatabaseUrlOpt = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes. About one per CPU core the server may use, after the "
            "database's share; each keeps its own pool of connections (docs/api.md).",
        ),
    ] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (a line per request on standard error).")
    ] = True,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Serve a demo shop: build (or reuse) a SQLite demo store, print a fresh "
            "admin key on standard output, serve it.",
        ),
    ] = False,
    demo_db: Annotated[
        Path | None,
        typer.Option(help="The demo store's SQLite file [default: out/demo/regulars-demo.db]."),
    ] = None,
    demo_transactions: Annotated[
        int | None,
        typer.Option(min=1_000, max=1_000_000, help="Size of the demo shop [default: 10000]."),
    ] = None,
    demo_seed: Annotated[int | None, typer.Option(help="Demo shop seed [default: 7].")] = None,
) -> None:
    """Serve the HTTP API (/v1; OpenAPI at /docs) on the store."""
    import os

    import uvicorn

    from regulars.api.app import APP_FACTORY
    from regulars.privacy import server_secret
    from regulars.store.session import display_url

    if demo:
        if url is not None:
            raise RegularsError("--demo serves its own store; leave out --url or use --demo-db")
        url = _prepare_demo(demo_db, demo_seed, demo_transactions)
    with _store(url) as engine:
        server_secret(engine.url, _settings())  # fail now, not at the first erasure request
        store_url = engine.url
    # Every worker process builds its app with create_app(), from the settings: the store
    # chosen here reaches them through the environment they inherit.
    os.environ["REGULARS_DATABASE_URL"] = store_url.render_as_string(hide_password=False)
    processes = f" with {workers} worker processes" if workers > 1 else ""
    err_console.print(
        f"serving {display_url(store_url)} at http://{host}:{port}/v1 (docs at /docs){processes}",
        highlight=False,
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
    )


def _prepare_demo(path: Path | None, seed: int | None, transactions: int | None) -> str:
    """Build or reuse the demo store; print a fresh admin key alone on standard output."""
    import time

    from regulars import demo_store as demo
    from regulars.api.keys import create_api_key
    from regulars.store.session import make_engine

    started = time.perf_counter()
    store = demo.prepare_demo_store(
        path or demo.DEFAULT_DEMO_DB,
        seed=demo.DEFAULT_DEMO_SEED if seed is None else seed,
        transactions=transactions or demo.DEFAULT_DEMO_TRANSACTIONS,
    )
    engine = make_engine(store.url)
    try:
        _row, key = create_api_key(engine, "demo", ["admin"], actor="cli")
    finally:
        engine.dispose()
    how = "reused" if store.reused else f"built ({store.counts.summary() if store.counts else ''})"
    err_console.print(
        f"demo store {store.path} {how} in {time.perf_counter() - started:.1f} s; "
        "admin API key on standard output:",
        highlight=False,
    )
    typer.echo(key)
    sys.stdout.flush()
    return store.url


loyalty_app = typer.Typer(
    help="The loyalty engine: points ledger, history import, expiry, webhooks, and the "
    "what-if simulator.",
    no_args_is_help=True,
)
app.add_typer(loyalty_app, name="loyalty")


@loyalty_app.command("simulate")
def loyalty_simulate(
    orders: Paths,
    earn_per_unit: Annotated[
        str | None, typer.Option(help="Points per currency unit of net spend, e.g. 1.")
    ] = None,
    point_value: Annotated[
        str | None, typer.Option(help="Money one point is worth, e.g. 0.01.")
    ] = None,
    expiry_days: Annotated[
        str | None, typer.Option(help="Days a lot of points lives, or 'never' (default 365).")
    ] = None,
    pending_days: Annotated[
        int | None, typer.Option(help="Days before points can be spent (default 14).")
    ] = None,
    max_redeem_share: Annotated[
        str | None, typer.Option(help="Most of an order payable with points, 0..1 (default 0.5).")
    ] = None,
    tiers: Annotated[
        str | None,
        typer.Option(
            help="Tier club: 'name:threshold:multiplier[:discount%],…', e.g. 'silver:500:1.5' "
            "(window 365 days, grace 30 unless --config sets them)."
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help=r"Program TOML: \[rules], \[tiers], \[assumptions].")
    ] = None,
    lines: Annotated[
        Path | None,
        typer.Option(
            help="Order lines (Parquet or CSV: order_id, sku, category, line_amount) for SKU "
            "and category multipliers, when the export has no line items."
        ),
    ] = None,
    enrolment_share: Annotated[
        float | None, typer.Option(help="Share of customers who join (default 0.6).")
    ] = None,
    redeemer_share: Annotated[
        float | None, typer.Option(help="Share of members who redeem (default 0.7).")
    ] = None,
    redeem_threshold: Annotated[
        str | None, typer.Option(help="Redeem once the points are worth this (default 5).")
    ] = None,
    expected_lift: Annotated[
        float | None, typer.Option(help="Revenue lift in % you expect: answers yes or no.")
    ] = None,
    margin: MarginOpt = None,
    start: Annotated[str | None, typer.Option(help="Replay from this date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Replay until this date, exclusive.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write simulation.html, simulation.json and entries.parquet here."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    map_: MapOpt = None,
    mapping: MappingFileOpt = None,
    timezone: TimezoneOpt = None,
) -> None:
    """Replay the order history under a proposed points program: cost, liability, and the
    retention gain it needs to pay for itself (docs/loyalty-economics.md)."""
    from regulars.engine import table_from_arrow
    from regulars.loyalty.simulation.simulator import simulate_program

    program = _program(
        config,
        rules={
            "earn_per_unit": _decimal(earn_per_unit, "--earn-per-unit"),
            "point_value": _decimal(point_value, "--point-value"),
            "expiry_days": _expiry(expiry_days),
            "pending_days": pending_days,
            "max_redeem_share": _decimal(max_redeem_share, "--max-redeem-share"),
        },
        tiers=_tiers(tiers),
        assumptions={
            "enrolment_share": enrolment_share,
            "redeemer_share": redeemer_share,
            "redeem_threshold_value": _decimal(redeem_threshold, "--redeem-threshold"),
            "expected_lift_pct": expected_lift,
        },
    )
    settings = _settings(timezone=timezone, margin=_decimal(margin, "--margin"))
    shop = _load_shop(orders, settings, _mapping(map_, mapping))
    imported = shop.import_result.order_lines if shop.import_result else None
    line_items = _read_lines(lines) if lines is not None else imported
    sim = simulate_program(
        shop.orders,
        program,
        order_lines=None if line_items is None else table_from_arrow(shop.con, line_items),
        timezone=settings.timezone,
        start=_date(start, "--start"),
        end=_date(end, "--end"),
        margin=settings.margin,
    )
    from regulars.report.loyalty import simulation_document, write_simulation

    if out is not None:
        written = write_simulation(sim, out)
        err_console.print(f"What-if page: {written.html}", highlight=False)
    if as_json:
        print(json.dumps(simulation_document(sim), indent=2))
        return
    _print_simulation(sim)


def _program(
    config: Path | None,
    rules: dict[str, Any],
    tiers: list[dict[str, Any]] | None,
    assumptions: dict[str, Any],
) -> Any:
    """The program of ``--config`` (if any) with the options given on top of it
    (``--tiers`` replaces the tiers of the config's ``[tiers]`` club, keeping its window
    and grace)."""
    from regulars.loyalty.simulation.proposal import ProposedProgram, load_program

    base: dict[str, Any] = (
        load_program(config).model_dump(exclude_none=False)
        if config
        else {"rules": {}, "tiers": None, "assumptions": {}}
    )
    given_rules = {k: v for k, v in rules.items() if v is not None}
    if rules["expiry_days"] is _NEVER:
        given_rules["expiry_days"] = None
    base["rules"] |= given_rules
    if tiers is not None:
        base["tiers"] = (base["tiers"] or {}) | {"tiers": tiers}
    base["assumptions"] |= {k: v for k, v in assumptions.items() if v is not None}
    for needed, option in (("earn_per_unit", "--earn-per-unit"), ("point_value", "--point-value")):
        if needed not in base["rules"]:
            raise RegularsError(f"{option} is required (or a --config whose rules set {needed})")
    return ProposedProgram.model_validate(base)


_NEVER = object()
_LINE_TYPES = {"order_id": "string", "sku": "string", "category": "string"}


def _read_lines(path: Path) -> Any:
    """``--lines``: canonical order lines from Parquet or CSV (``order_id`` and
    ``line_amount`` required; ``sku``, ``category`` optional)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from regulars.data.schema import MONEY

    try:
        if path.suffix.lower() == ".parquet":
            table = pq.read_table(path)
        else:
            types = {"line_amount": MONEY} | {k: pa.string() for k in _LINE_TYPES}
            options = pacsv.ConvertOptions(column_types=types)
            table = pacsv.read_csv(path, convert_options=options)
    except (OSError, pa.ArrowInvalid) as exc:
        raise RegularsError(f"--lines: {path}: {str(exc).splitlines()[0]}") from None
    missing = [c for c in ("order_id", "line_amount") if c not in table.column_names]
    if missing:
        raise RegularsError(f"--lines: {path} has no column {', '.join(missing)}")
    for column in ("sku", "category"):
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows, pa.string()))
    return table.select(["order_id", "sku", "category", "line_amount"]).cast(
        pa.schema(
            [
                ("order_id", pa.string()),
                ("sku", pa.string()),
                ("category", pa.string()),
                ("line_amount", MONEY),
            ]
        )
    )


def _expiry(text: str | None) -> Any:
    if text is None:
        return None
    if text.lower() == "never":
        return _NEVER
    try:
        return int(text)
    except ValueError:
        raise RegularsError(f"--expiry-days: '{text}' is not a number of days or 'never'") from None


def _tiers(text: str | None) -> list[dict[str, Any]] | None:
    """Parse 'silver:500:1.5,gold:2000:2:5' (name:threshold:multiplier[:discount %])."""
    if text is None:
        return None
    tiers = []
    for item in text.split(","):
        parts = item.strip().split(":")
        if len(parts) not in (3, 4) or not parts[0]:
            raise RegularsError(f"--tiers: '{item}' is not name:threshold:multiplier[:discount%]")
        tier: dict[str, Any] = {
            "name": parts[0],
            "threshold": _decimal(parts[1], "--tiers"),
            "earn_multiplier": _decimal(parts[2], "--tiers"),
        }
        if len(parts) == 4:
            tier["discount_pct"] = _decimal(parts[3], "--tiers")
        tiers.append(tier)
    return tiers


def _print_simulation(sim: Any) -> None:
    t, b = sim.totals, sim.break_even
    table = Table(title=f"Points program on [{sim.start}, {sim.end}): {sim.members:,} members")
    table.add_column("")
    table.add_column("value", justify="right")
    rows = [
        ("points issued", f"{t.points_issued:,}"),
        ("points redeemed", f"{t.points_redeemed:,}"),
        ("points expired (breakage)", f"{t.points_expired:,}"),
        ("points outstanding at the end", f"{t.points_outstanding:,}"),
        ("liability at the end", f"{t.liability:,.2f}"),
        ("breakage rate", _fmt_pct(None if t.breakage_rate is None else t.breakage_rate * 100)),
        ("redeemed value", f"{t.redeemed_value:,.2f}"),
        ("tier discounts", f"{t.tier_discounts:,.2f}"),
        ("expected cost of outstanding points", f"{t.expected_outstanding_cost:,.2f}"),
        ("program cost", f"{t.program_cost:,.2f}"),
        *((f"  … {p.name}", f"{p.cost:,.2f}") for p in sim.cost_parts),
        (f"break-even revenue ({b.basis})", f"{b.required_revenue:,.2f}"),
        ("revenue lift needed", _fmt_pct(b.required_revenue_lift_pct)),
        ("repeat rate gain needed", _fmt_points(b.required_repeat_rate_points)),
    ]
    if sim.tiers is not None:
        mix = sim.months[-1].tiers
        rows.append(("tier mix at the end", ", ".join(f"{k} {v:,}" for k, v in mix.items())))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    console.print(sim.verdict(), highlight=False)
    for note in sim.notes:
        console.print(f"[yellow]{note}", highlight=False)


def _fmt_points(value: float | None) -> str:
    return "n/a" if value is None else f"+{value:.2f} pts"


scores_app = typer.Typer(help="Per-customer scores in the store.", no_args_is_help=True)
app.add_typer(scores_app, name="scores")


@scores_app.command("refresh")
def scores_refresh(
    url: DatabaseUrlOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Score as of this date (YYYY-MM-DD; default: today, shop time)."),
    ] = None,
    shop: Annotated[str | None, typer.Option(help="Only this shop's orders.")] = None,
    timezone: TimezoneOpt = None,
    activity_window: WindowOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Recompute every customer's scores from the store's orders and write them back
    (what the worker's nightly scores.refresh job does)."""
    from regulars.scoring import refresh_scores
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine

    settings = _settings(timezone=timezone, activity_window_days=activity_window)
    engine = make_engine(url or settings.database_url)
    try:
        require_head(engine)
        with _steps(quiet) as step:
            result = refresh_scores(
                engine,
                settings=settings,
                as_of=_date(as_of, "--as-of"),
                shop_id=shop,
                progress=step,
            )
    finally:
        engine.dispose()
    console.print(result.summary(), highlight=False)


@app.command("worker")
def worker(
    url: DatabaseUrlOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Run the jobs due now, then exit.")] = False,
    poll_seconds: Annotated[
        float, typer.Option(min=0.1, help="Seconds between looks at the queue.")
    ] = 5.0,
    worker_id: Annotated[
        str | None, typer.Option("--id", help="This worker's name (default: host:pid).")
    ] = None,
) -> None:
    """Run background jobs (nightly scores refresh, …) until SIGINT/SIGTERM.

    The job in progress finishes before the worker exits. On SQLite run one worker; on
    PostgreSQL as many as you like.
    """
    from regulars.store.ingest import require_head
    from regulars.store.session import display_url, make_engine
    from regulars.worker import Worker, load_handlers
    from regulars.worker.runner import default_worker_id, stop_on_signals

    settings = _settings()
    database = url or settings.database_url
    engine = make_engine(database)
    try:
        require_head(engine)
        runner = Worker(
            engine, load_handlers(), settings=settings, worker_id=worker_id or default_worker_id()
        )
        err_console.print(
            f"worker {runner.worker_id} on {display_url(database)}: "
            f"{', '.join(runner.registry.kinds())}",
            highlight=False,
        )
        if once:
            runner.schedule_recurring()
            for outcome in runner.run_due():
                _print_outcome(outcome)
            return
        with stop_on_signals() as stop:
            runner.run(stop, poll_seconds=poll_seconds, on_outcome=_print_outcome)
        err_console.print(f"worker {runner.worker_id} stopped", highlight=False)
    finally:
        engine.dispose()


def _print_outcome(outcome: Any) -> None:
    job = outcome.job
    text = f"job {job.id} {job.kind} {outcome.status} in {outcome.seconds:.1f} s"
    if outcome.error:
        text += f": {outcome.error}"
    if outcome.run_after is not None:
        text += f" (next try {outcome.run_after:%Y-%m-%d %H:%M:%S} UTC)"
    console.print(text, highlight=False, markup=False)


jobs_app = typer.Typer(
    help="Background jobs: list them, retry a failed one.", invoke_without_command=True
)
app.add_typer(jobs_app, name="jobs")


@jobs_app.callback()
def jobs(
    ctx: typer.Context,
    url: DatabaseUrlOpt = None,
    state: Annotated[
        str | None, typer.Option(help="Only jobs in this state: pending, running, done, failed.")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only jobs of this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List jobs with their state, attempts, due time, next run and last error."""
    if ctx.invoked_subcommand is not None:
        return
    from regulars.store.tables import JOB_STATES
    from regulars.worker import list_jobs

    if state is not None and state not in JOB_STATES:
        raise RegularsError(f"--state: '{state}' is not one of {', '.join(JOB_STATES)}")
    with _store(url) as engine:
        found = list_jobs(engine, state=state, kind=kind, limit=limit)
    if as_json:
        print(json.dumps([job.to_dict() for job in found], indent=2))
        return
    _print_jobs(found)


def _print_jobs(found: list[Any]) -> None:
    table = Table(title=f"{len(found)} job(s)")
    for name in ("id", "kind", "key", "state", "attempts", "due (UTC)", "next run", "last error"):
        table.add_column(name)
    for job in found:
        table.add_row(
            str(job.id),
            job.kind,
            job.key,
            job.state,
            f"{job.attempts}/{job.max_attempts}",
            f"{job.due_at:%Y-%m-%d %H:%M}",
            f"{job.run_after:%Y-%m-%d %H:%M:%S}" if job.state == "pending" else "",
            job.last_error or "",
        )
    console.print(table)


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[int, typer.Argument(help="The id of a failed job.")],
    url: DatabaseUrlOpt = None,
) -> None:
    """Put a failed job back to pending, due now, with fresh attempts."""
    from regulars.clock import utcnow
    from regulars.store.audit import record
    from regulars.store.session import session_scope
    from regulars.worker import retry

    with _store(url) as engine, session_scope(engine) as session:
        job = retry(session, job_id, utcnow())
        record(
            session,
            actor="cli",
            action="job.retry",
            target_type="job",
            target_id=str(job.id),
            details={"kind": job.kind, "key": job.key, "last_error": job.last_error},
        )
    console.print(f"job {job.id} ({job.kind}) is pending again", highlight=False)


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

    with _store(url) as engine:
        report = import_history(engine, file, program)
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
    from regulars.loyalty.points.expiry import expire_due

    with _store(url) as engine:
        points = expire_due(engine)
    console.print(f"{points} point(s) expired", highlight=False)


@loyalty_app.command("effect")
def loyalty_effect(
    program: Annotated[str, typer.Option(help="The program's code.")],
    start: Annotated[str, typer.Option(help="First day of the period (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Day after the period (YYYY-MM-DD).")],
    url: DatabaseUrlOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Members against the program's control group: repeat rate and revenue per customer."""
    from regulars.loyalty.economics.effect import program_effect
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine

    settings = _settings()
    engine = make_engine(url or settings.database_url)
    try:
        require_head(engine)
        first, after = _day(start, "--start"), _day(end, "--end")
        effect = program_effect(engine, program, first, after, settings=settings)
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps(effect.to_dict(), indent=2))
        return
    rate, revenue = effect.repeat_rate_diff, effect.revenue_per_customer_diff
    table = Table(title=f"{program}: members vs control, [{start}, {end})")
    for column in ("", "members", "control"):
        table.add_column(column)
    members, control = effect.members, effect.control
    table.add_row("customers", f"{members.customers:,}", f"{control.customers:,}")
    table.add_row("repeat rate", f"{members.repeat_rate:.1%}", f"{control.repeat_rate:.1%}")
    table.add_row(
        "revenue per customer", f"{members.revenue_mean:,.2f}", f"{control.revenue_mean:,.2f}"
    )
    console.print(table)
    level = f"{effect.confidence:.0%}"
    rate_ci = _span(rate.low, rate.high, ".1%")
    console.print(
        f"incremental repeat rate {rate.estimate:+.1%} ({level} CI {rate_ci}); "
        f"revenue per customer {revenue.estimate:+,.2f} ({level} CI "
        f"{_span(revenue.low, revenue.high, ',.2f')}); incremental revenue "
        f"{effect.incremental_revenue:,.2f}",
        highlight=False,
    )


def _span(low: float | None, high: float | None, spec: str) -> str:
    return "n/a" if low is None or high is None else f"{low:{spec}} … {high:{spec}}"


@loyalty_app.command("economics")
def loyalty_economics(
    program: Annotated[str, typer.Option(help="The program's code.")],
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD; default: the first month).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Day after the period (YYYY-MM-DD; default: tomorrow).")
    ] = None,
    url: DatabaseUrlOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Liability, points flow per month, breakage and reward cost of a live program."""
    from regulars.loyalty.economics.ledger_mapping import program_economics
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine

    settings = _settings()
    engine = make_engine(url or settings.database_url)
    try:
        require_head(engine)
        result = program_economics(
            engine,
            program,
            _date(start, "--start"),
            _date(end, "--end"),
            settings=settings,
        )
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return
    table = Table(title=f"{program}: points flow, [{result.start}, {result.end})")
    for column in ("month", "issued", "redeemed", "expired", "reversed", "adjusted", "outstanding"):
        table.add_column(column, justify="right")
    for r in result.flow:
        table.add_row(
            f"{r.period_start:%Y-%m}",
            *(f"{v:,}" for v in (r.issued, r.redeemed, r.expired, r.reversed, r.adjusted)),
            f"{r.outstanding_end:,}",
        )
    console.print(table)
    rate = result.breakage.rate
    console.print(
        f"outstanding {result.outstanding_points:,} points = liability {result.liability:,.2f}; "
        f"reward cost {result.reward_cost:,.2f}; breakage "
        f"{'n/a' if rate is None else f'{rate:.1%}'} of {result.breakage.lots:,} ended lot(s)",
        highlight=False,
    )


@loyalty_app.command("balance")
def loyalty_balance(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    url: DatabaseUrlOpt = None,
) -> None:
    """A customer's accounts: balance, available, pending and tier per program."""
    from regulars.loyalty.points.views import loyalty_summary
    from regulars.store.session import session_scope

    with _store(url) as engine, session_scope(engine) as session:
        views = loyalty_summary(session, customer_id)
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


@loyalty_app.command("cancel-redemption")
def loyalty_cancel_redemption(
    customer_id: Annotated[str, typer.Argument(help="The customer who redeemed.")],
    key: Annotated[str, typer.Argument(help="The redemption's Idempotency-Key.")],
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Prefix of the API key that redeemed (regulars apikey list); without it KEY "
            "is the key given to regulars.loyalty.points.redemption.redeem.",
        ),
    ] = None,
    program: Annotated[
        str | None,
        typer.Option("--program", help="Program code; default: the oldest active one."),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (ledger and audit log).")] = None,
    url: DatabaseUrlOpt = None,
) -> None:
    """Give back what a redemption spent, into the lots it took them from (once; audited)."""
    from regulars.loyalty.catalogue import program_of_type
    from regulars.loyalty.points.cancellation import cancel_redemption
    from regulars.store.session import session_scope

    with _store(url) as engine, session_scope(engine) as session:
        found = program_of_type(session, program, "points")
        done = cancel_redemption(
            session,
            found,
            customer_id,
            f"{api_key}:{key}" if api_key else key,
            actor="cli",
            reason=reason,
        )
    posted = done.posted
    how = "was already cancelled:" if posted.replay else "cancelled:"
    console.print(
        f"redemption {done.spend_entry_id} {how} {posted.points} point(s) given back "
        f"({done.expired} expired at once, {done.clawed_back} repaid debt); "
        f"balance {posted.balance}",
        highlight=False,
    )


@loyalty_app.command("webhook-add")
def loyalty_webhook_add(
    endpoint: Annotated[str, typer.Argument(help="URL the events are POSTed to.")],
    kinds: Annotated[
        str | None,
        typer.Option(
            help="Only these event kinds, comma-separated (tier_changed, points_expiring, "
            "points_expired, reward_granted); default: every kind."
        ),
    ] = None,
    url: DatabaseUrlOpt = None,
) -> None:
    """Register a webhook endpoint; prints its signing secret, alone on the last line, once."""
    from regulars.loyalty.webhooks import add_endpoint
    from regulars.store.session import session_scope

    chosen = None if kinds is None else [k.strip() for k in kinds.split(",") if k.strip()]
    with _store(url) as engine, session_scope(engine) as session:
        endpoint_id, secret = add_endpoint(session, endpoint, kinds=chosen)
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

    from regulars.clock import utcnow
    from regulars.loyalty.points.expiry import emit_expiry_warnings
    from regulars.loyalty.webhooks import deliver_due
    from regulars.store.session import session_scope

    with _store(url) as engine:
        if warn_days is not None:
            with session_scope(engine) as session:
                emit_expiry_warnings(session, utcnow(), warn_days)
        with httpx.Client() as client:
            report = deliver_due(engine, client)
    console.print(
        f"{report.delivered} delivered, {report.retrying} to retry, {report.failed} failed",
        highlight=False,
    )


# -- live program types: draws, partner settlement, charity ------------------------------

ProgramCodeOpt = Annotated[
    str | None, typer.Option("--program", help="Program code; default: the oldest active one.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _period(start: str, end: str) -> tuple[datetime, datetime]:
    """``[start, end)`` from two dates, each midnight UTC."""
    from datetime import UTC, time

    first, last = _date(start, "--start"), _date(end, "--end")
    assert first is not None
    assert last is not None
    if last <= first:
        raise RegularsError("--end: must be after --start")
    return datetime.combine(first, time(), UTC), datetime.combine(last, time(), UTC)


@contextmanager
def _live_session(url: str | None) -> Iterator[Any]:
    """A session on the migrated store (:func:`_store`); a value a program refuses is a
    user error."""
    from regulars.store.session import session_scope

    try:
        with _store(url) as engine, session_scope(engine) as session:
            yield session
    except ValueError as exc:
        raise RegularsError(str(exc)) from None


def _print_rows(rows: list[dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(rows, default=str, indent=2))
        return
    table = Table(*rows[0].keys(), title=title) if rows else None
    for row in rows:
        assert table is not None
        table.add_row(*(str(v) for v in row.values()))
    console.print(table if table is not None else f"{title}: nothing")


@loyalty_app.command("draw")
def loyalty_draw(
    program: Annotated[str | None, typer.Argument(help="The draw program's code.")] = None,
    seed: Annotated[str | None, typer.Option(help="Seed (default: 128 random bits).")] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Re-run the stored draw; change nothing.")
    ] = False,
    as_json: JsonOpt = False,
    url: DatabaseUrlOpt = None,
) -> None:
    """Draw a prize draw's winners once (again: the stored draw), or --verify it."""
    from dataclasses import asdict

    from regulars.loyalty.catalogue import program_of_type
    from regulars.loyalty.program_store import draws

    with _live_session(url) as session:
        found = program_of_type(session, program, "draw")
        if verify:
            check = draws.verify(session, found)
            if check is None:
                raise RegularsError(f"'{found.code}' has not been drawn yet")
            view = draws.find_draw(session, found)
        else:
            view = draws.run_draw(session, found, actor="cli", seed=seed)
            check = None
    assert view is not None
    if as_json:
        out = asdict(view) | ({"rerun": asdict(check)} if check else {})
        typer.echo(json.dumps(out, default=str, indent=2))
        return
    console.print(
        f"draw {view.program}: seed {view.seed}, {view.eligible_count} eligible "
        f"(sha256 {view.eligible_sha256})",
        highlight=False,
    )
    for rank, customer_id, ticket in view.winners:
        console.print(f"{rank}. {customer_id}  {ticket}", highlight=False)
    if check is not None:
        same = check.same_eligible and check.same_winners
        console.print("re-run: same winners" if same else f"re-run differs: {check}")


@loyalty_app.command("settlement")
def loyalty_settlement(
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD (inclusive).")],
    end: Annotated[str, typer.Option(help="Day after the last, YYYY-MM-DD (exclusive).")],
    partner: Annotated[str | None, typer.Option(help="Only this partner.")] = None,
    program: ProgramCodeOpt = None,
    as_json: JsonOpt = False,
    url: DatabaseUrlOpt = None,
) -> None:
    """What each coalition partner and the program owe each other for [start, end)."""
    from dataclasses import asdict

    from regulars.loyalty.catalogue import program_of_type
    from regulars.loyalty.program_store import partners

    first, last = _period(start, end)
    with _live_session(url) as session:
        found = program_of_type(session, program, "coalition")
        lines = partners.settlement(session, found, first, last, partner)
    _print_rows([asdict(line) for line in lines], as_json, f"settlement {found.code}")


@loyalty_app.command("causes-report")
def loyalty_causes_report(
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD (inclusive).")],
    end: Annotated[str, typer.Option(help="Day after the last, YYYY-MM-DD (exclusive).")],
    program: ProgramCodeOpt = None,
    as_json: JsonOpt = False,
    url: DatabaseUrlOpt = None,
) -> None:
    """Donated and matched points and their value per cause for [start, end)."""
    from dataclasses import asdict

    from regulars.loyalty.catalogue import program_of_type
    from regulars.loyalty.program_store import charity

    first, last = _period(start, end)
    with _live_session(url) as session:
        found = program_of_type(session, program, "charity")
        lines = charity.cause_report(session, found, first, last)
    _print_rows([asdict(line) for line in lines], as_json, f"causes {found.code}")


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
