"""``regulars segments export``: the report's contact lists without the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from regulars.cli.common import (
    MapOpt,
    MappingFileOpt,
    Paths,
    QuietOpt,
    TimezoneOpt,
    WindowOpt,
    column_mapping,
    console,
    load_shop,
    parse_date,
    progress_steps,
    settings_with,
)
from regulars.errors import RegularsError


def export(
    orders: Paths,
    out: Annotated[Path, typer.Option(help="Folder for the CSV files.")] = Path("out/contacts"),
    segment: Annotated[
        list[str] | None,
        typer.Option(help="A segment to export, by name or file name (repeatable); default: all."),
    ] = None,
    at_risk: Annotated[
        bool,
        typer.Option(help="Also write at-risk-customers.csv (needs the predictive models)."),
    ] = True,
    models: Annotated[
        bool,
        typer.Option(help="Score customers (P(alive), churn risk, CLV, value at risk)."),
    ] = True,
    as_of: Annotated[
        str | None,
        typer.Option(help="As of this date (YYYY-MM-DD; default: day after the last order)."),
    ] = None,
    map_: MapOpt = None,
    mapping: MappingFileOpt = None,
    timezone: TimezoneOpt = None,
    activity_window: WindowOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Write one CSV per RFM segment, and the customers at risk, for a spreadsheet."""
    from regulars.analytics.rfm import SEGMENTS
    from regulars.report.build import scored_customers
    from regulars.report.contacts import segment_named, write_contact_lists

    chosen = [segment_named(name) for name in segment or []]
    unknown = [name for name, found in zip(segment or [], chosen, strict=True) if found is None]
    if unknown:
        raise RegularsError(
            f"--segment: unknown segment {', '.join(repr(n) for n in unknown)}; "
            f"choose from {', '.join(SEGMENTS)}"
        )
    if at_risk and not models:
        raise RegularsError("--at-risk needs the models: add --models or --no-at-risk")
    settings = settings_with(timezone=timezone, activity_window_days=activity_window)
    with progress_steps(quiet, total=3) as step:
        step(f"importing {len(orders)} file(s)")
        shop = load_shop(orders, settings, column_mapping(map_, mapping))
        day = parse_date(as_of, "--as-of") or shop.default_as_of()
        scored = scored_customers(shop, as_of=day, models=models, progress=step)
    risky = scored.at_risk if at_risk else None
    if at_risk and risky is None:
        why = "too few customers for a forecast" if scored.future else "no forecast"
        console.print(f"[yellow]No at-risk list: {why} (see the report).", highlight=False)
    wanted = [name for name in chosen if name is not None] if segment else None
    written = write_contact_lists(out, scored.customers, scored.contacts, risky, wanted)
    for name, path in written.items():
        console.print(f"{name}: {path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``segments`` group (``export``) to the root command."""
    segments_app = typer.Typer(help="Contact lists by RFM segment.", no_args_is_help=True)
    segments_app.command("export")(export)
    app.add_typer(segments_app, name="segments")
