"""The operational store: ``regulars db upgrade`` / ``db current`` (migrations) and
``regulars import`` (order exports into the store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from regulars.cli.common import (
    DatabaseUrlOpt,
    MapOpt,
    MappingFileOpt,
    Paths,
    QuietOpt,
    TimezoneOpt,
    column_mapping,
    console,
    open_store,
    progress_steps,
    settings_with,
)


def db_upgrade(
    url: DatabaseUrlOpt = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the store's tables up to the newest revision."""
    from regulars.store.migrate import upgrade
    from regulars.store.session import display_url

    database = url or settings_with().database_url
    current = upgrade(database, revision)
    console.print(f"{display_url(database)} is at revision {current}", highlight=False)


def db_current(url: DatabaseUrlOpt = None) -> None:
    """Print the store's current revision and the newest one available."""
    from regulars.store.migrate import current_revision, head_revision
    from regulars.store.session import display_url

    database = url or settings_with().database_url
    current = current_revision(database)
    head = head_revision()
    state = "up to date" if current == head else f"head is {head}; run 'regulars db upgrade'"
    console.print(
        f"{display_url(database)} is at revision {current or 'none (empty)'} ({state})",
        highlight=False,
    )


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
    from regulars.store.ingest import count_batches, default_batch_size, ingest
    from regulars.store.session import display_url

    database = url or settings_with().database_url
    with open_store(database) as engine:  # migrated to head before the (possibly long) read
        settings = settings_with(timezone=timezone)
        mapped = column_mapping(map_, mapping)
        result = read_orders(orders, mapping=mapped, timezone=settings.shop_timezone)
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
        with progress_steps(quiet, total=count_batches(result, rows_per_batch)) as step:
            counts = ingest(engine, result, shop_id=shop, batch_size=rows_per_batch, progress=step)
    console.print(f"{counts.summary()} ({display_url(database)})", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``db`` group and ``import`` to the root command."""
    db_app = typer.Typer(help="The operational store: migrations.", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    db_app.command("current")(db_current)
    app.add_typer(db_app, name="db")
    app.command("import")(import_orders)
