"""What every command group shares: the consoles, the options several commands take, the
store and progress context managers, parsing of plain option values, and the one place
user errors become a message and exit status 2.

Only light modules are imported here at runtime, so ``regulars --help`` stays fast; the
store, the engine and the analyses are imported by the commands that use them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pydantic
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from regulars.config import Settings
from regulars.errors import RegularsError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from regulars.data.importers import ColumnMapping
    from regulars.shop import Shop

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
MarginOpt = Annotated[str | None, typer.Option(help="Gross margin 0..1 for CLTV.")]
LocaleOpt = Annotated[
    str | None,
    typer.Option(help="How to write numbers and money, e.g. en_US or de_DE (default en_US)."),
]
CurrencyOpt = Annotated[
    str | None, typer.Option(help="Shop currency (ISO code); default: the orders' currency.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

# Options shared by every command on the operational store.
DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Database URL (default: REGULARS_DATABASE_URL or sqlite:///regulars.db).",
    ),
]


# Where the orders come from and where the analyses run (report, metrics, fit).
OptionalPaths = Annotated[
    list[Path] | None,
    typer.Argument(help="Order exports: CSV, Parquet or XLSX files (or --from-store, --table)."),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where the analyses run: duckdb (in-process, the default), postgres or spark.",
    ),
]
EngineUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--engine-url",
        help="The engine's URL: postgresql://USER@HOST/DB; spark://HOST:PORT (a standalone "
        "master), spark://local[N] or sc://HOST:PORT (Spark Connect); duckdb:///FILE.db. "
        "Default for spark: local mode on every core.",
    ),
]
FromStoreOpt = Annotated[
    bool,
    typer.Option(
        "--from-store",
        help="Read the orders from the operational store (--store-url) instead of files.",
    ),
]
StoreUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--store-url",
        help="The store for --from-store (default: REGULARS_DATABASE_URL or sqlite:///regulars.db).",
    ),
]
TableOpt = Annotated[
    str | None,
    typer.Option(
        "--table",
        help="Read the orders from this table (or SCHEMA.TABLE) on the engine: the canonical "
        "order columns, ordered_at in the shop's local time.",
    ),
]


@dataclass(frozen=True)
class OrderSource:
    """Where a command's orders come from — files, the store or an engine table — and the
    engine its analyses run on."""

    paths: list[Path] = field(default_factory=list)
    from_store: bool = False
    store_url: str | None = None
    table: str | None = None
    engine: str = "duckdb"
    engine_url: str | None = None

    def check(self, mapping: ColumnMapping | None) -> None:
        """Exactly one source; a column mapping only for files."""
        given = [bool(self.paths), self.from_store, self.table is not None]
        if sum(given) != 1:
            raise RegularsError("give order files, or --from-store, or --table (exactly one)")
        if mapping is not None and not self.paths:
            raise RegularsError("--map and --mapping apply to order files only")
        if self.store_url is not None and not self.from_store:
            raise RegularsError("--store-url goes with --from-store")


def settings_with(
    *,
    timezone: str | None = None,
    activity_window_days: int | None = None,
    period: str | None = None,
    target_crr: float | None = None,
    acquisition_cost: Decimal | None = None,
    margin: Decimal | None = None,
    retention_definition: str | None = None,
    locale: str | None = None,
    currency: str | None = None,
) -> Settings:
    """The settings, with the options the user gave (``None``: not given) on top; pydantic
    checks the values (a bad one is a ``ValidationError``, reported by :func:`run_app`)."""
    given: dict[str, Any] = {
        name: value
        for name, value in (
            ("timezone", timezone),
            ("activity_window_days", activity_window_days),
            ("period", period),
            ("target_crr", target_crr),
            ("acquisition_cost", acquisition_cost),
            ("margin", margin),
            ("retention_definition", retention_definition),
            ("locale", locale),
            ("currency", currency),
        )
        if value is not None
    }
    return Settings(**given)


def column_mapping(spec: str | None, file: Path | None) -> ColumnMapping | None:
    """``--mapping`` file and ``--map`` spec; the spec refines the file."""
    from regulars.data.importers import load_mapping_file, parse_mapping

    from_file = load_mapping_file(file) if file else None
    from_cli = parse_mapping(spec) if spec else None
    if from_file and from_cli:
        return from_file.merged_with(from_cli)
    return from_file or from_cli


def load_shop(paths: list[Path], settings: Settings, mapping: ColumnMapping | None) -> Shop:
    """Order exports imported into the analytics engine."""
    from regulars.shop import Shop

    return Shop.from_files(paths, mapping=mapping, settings=settings)


def load_orders(source: OrderSource, settings: Settings, mapping: ColumnMapping | None) -> Shop:
    """The orders of ``source`` on its engine: files imported into it, the store's orders
    loaded into it, or a table it already holds."""
    from regulars.engine import connect_engine
    from regulars.shop import Shop

    source.check(mapping)
    con = connect_engine(source.engine, source.engine_url)
    if source.table is not None:
        return Shop.from_engine_table(con, source.table, settings=settings)
    if source.from_store:
        with open_store(source.store_url) as store:
            return Shop.from_store(store, settings=settings, con=con)
    return Shop.from_files(source.paths, mapping=mapping, settings=settings, con=con)


def parse_date(text: str | None, option: str) -> date | None:
    """An optional ``YYYY-MM-DD`` option; a user error names the option."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RegularsError(f"{option}: '{text}' is not a date; use YYYY-MM-DD") from None


def parse_day(text: str, option: str) -> date:
    """A required ``YYYY-MM-DD`` option."""
    day = parse_date(text, option)
    assert day is not None  # parse_date gives None only for None
    return day


def parse_decimal(text: str | None, option: str | None = None) -> Decimal | None:
    """An optional exact number (money, shares); a user error names the option, if given."""
    if text is None:
        return None
    try:
        return Decimal(text)
    except ArithmeticError:
        where = f"{option}: " if option else ""
        raise RegularsError(f"{where}'{text}' is not a number") from None


@contextmanager
def progress_steps(quiet: bool, total: int | None = None) -> Iterator[Callable[[str], None]]:
    """A Rich progress display on standard error; yields a callback ``step(description)``."""
    if quiet:
        yield lambda _description: None
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


@contextmanager
def open_store(url: str | None) -> Iterator[Engine]:
    """An engine on the store (``--url`` or the settings), which must be migrated to head."""
    from regulars.store.ingest import require_head
    from regulars.store.session import make_engine

    engine = make_engine(url or settings_with().database_url)
    try:
        require_head(engine)
        yield engine
    finally:
        engine.dispose()


def iso_utc(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with ``Z``, as the API writes times."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def format_pct(value: float | None) -> str:
    """A percentage as the tables show it."""
    return "n/a" if value is None else f"{value:.1f} %"


def run_app(app: typer.Typer) -> None:
    """Run ``app``; a user error ends in a one-line message and exit status 2, never a
    traceback."""
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
