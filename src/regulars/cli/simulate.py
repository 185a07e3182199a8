"""``regulars loyalty simulate``: the what-if simulator of a proposed points program on an
order history (the ``loyalty`` group registers it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from regulars.cli.common import (
    JsonOpt,
    MapOpt,
    MappingFileOpt,
    MarginOpt,
    Paths,
    TimezoneOpt,
    column_mapping,
    console,
    err_console,
    format_pct,
    load_shop,
    parse_date,
    parse_decimal,
    settings_with,
)

if TYPE_CHECKING:
    from regulars.loyalty.simulation.result import Simulation


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
    as_json: JsonOpt = False,
    map_: MapOpt = None,
    mapping: MappingFileOpt = None,
    timezone: TimezoneOpt = None,
) -> None:
    """Replay the order history under a proposed points program: cost, liability, and the
    retention gain it needs to pay for itself (docs/loyalty-economics.md)."""
    from regulars.data.importers import read_order_lines
    from regulars.engine import table_from_arrow
    from regulars.loyalty.simulation.options import (
        AssumptionOptions,
        RuleOptions,
        parse_expiry,
        parse_tiers,
        propose_program,
    )
    from regulars.loyalty.simulation.simulator import simulate_program

    program = propose_program(
        config,
        RuleOptions(
            earn_per_unit=parse_decimal(earn_per_unit, "--earn-per-unit"),
            point_value=parse_decimal(point_value, "--point-value"),
            expiry_days=parse_expiry(expiry_days),
            pending_days=pending_days,
            max_redeem_share=parse_decimal(max_redeem_share, "--max-redeem-share"),
        ),
        parse_tiers(tiers),
        AssumptionOptions(
            enrolment_share=enrolment_share,
            redeemer_share=redeemer_share,
            redeem_threshold_value=parse_decimal(redeem_threshold, "--redeem-threshold"),
            expected_lift_pct=expected_lift,
        ),
    )
    settings = settings_with(timezone=timezone, margin=parse_decimal(margin, "--margin"))
    shop = load_shop(orders, settings, column_mapping(map_, mapping))
    imported = shop.import_result.order_lines if shop.import_result else None
    line_items = read_order_lines(lines) if lines is not None else imported
    sim = simulate_program(
        shop.orders,
        program,
        order_lines=None if line_items is None else table_from_arrow(shop.con, line_items),
        timezone=settings.timezone,
        start=parse_date(start, "--start"),
        end=parse_date(end, "--end"),
        margin=settings.margin,
    )
    _show(sim, out, as_json)


def _show(sim: Simulation, out: Path | None, as_json: bool) -> None:
    """The what-if page (with ``out``), then the result as JSON or a table."""
    from regulars.report.loyalty import simulation_document, write_simulation

    if out is not None:
        written = write_simulation(sim, out)
        err_console.print(f"What-if page: {written.html}", highlight=False)
    if as_json:
        print(json.dumps(simulation_document(sim), indent=2))
        return
    _print_simulation(sim)


def _print_simulation(sim: Simulation) -> None:
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
        ("breakage rate", format_pct(None if t.breakage_rate is None else t.breakage_rate * 100)),
        ("redeemed value", f"{t.redeemed_value:,.2f}"),
        ("tier discounts", f"{t.tier_discounts:,.2f}"),
        ("expected cost of outstanding points", f"{t.expected_outstanding_cost:,.2f}"),
        ("program cost", f"{t.program_cost:,.2f}"),
        *((f"  … {p.name}", f"{p.cost:,.2f}") for p in sim.cost_parts),
        (f"break-even revenue ({b.basis})", f"{b.required_revenue:,.2f}"),
        ("revenue lift needed", format_pct(b.required_revenue_lift_pct)),
        ("repeat rate gain needed", _format_points(b.required_repeat_rate_points)),
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


def _format_points(value: float | None) -> str:
    return "n/a" if value is None else f"+{value:.2f} pts"
