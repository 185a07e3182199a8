"""What a live loyalty program does: ``regulars loyalty effect`` (members against the
control group) and ``loyalty economics`` (liability, points flow, breakage, reward cost)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from regulars.cli.common import (
    DatabaseUrlOpt,
    JsonOpt,
    console,
    open_store,
    parse_date,
    parse_day,
    settings_with,
)

if TYPE_CHECKING:
    from regulars.loyalty.economics.holdout import ProgramEffect
    from regulars.loyalty.economics.ledger_mapping import LiveEconomics
    from regulars.loyalty.economics.results import FlowRow

ProgramOpt = Annotated[str, typer.Option(help="The program's code.")]


def loyalty_effect(
    program: ProgramOpt,
    start: Annotated[str, typer.Option(help="First day of the period (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Day after the period (YYYY-MM-DD).")],
    url: DatabaseUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Members against the program's control group: repeat rate and revenue per customer."""
    from regulars.loyalty.economics.effect import program_effect

    settings = settings_with()
    with open_store(url or settings.database_url) as engine:
        first, after = parse_day(start, "--start"), parse_day(end, "--end")
        measured = program_effect(engine, program, first, after, settings=settings)
    if as_json:
        print(json.dumps(measured.to_dict(), indent=2))
        return
    _print_effect(measured, f"{program}: members vs control, [{start}, {end})")


def _print_effect(effect: ProgramEffect, title: str) -> None:
    table = Table(title=title)
    for column in ("", "members", "control"):
        table.add_column(column)
    members, control = effect.members, effect.control
    table.add_row("customers", f"{members.customers:,}", f"{control.customers:,}")
    table.add_row("repeat rate", f"{members.repeat_rate:.1%}", f"{control.repeat_rate:.1%}")
    table.add_row(
        "revenue per customer", f"{members.revenue_mean:,.2f}", f"{control.revenue_mean:,.2f}"
    )
    console.print(table)
    rate, revenue = effect.repeat_rate_diff, effect.revenue_per_customer_diff
    level = f"{effect.confidence:.0%}"
    console.print(
        f"incremental repeat rate {_points(rate.estimate)} ({level} CI "
        f"{_span(_scaled(rate.low), _scaled(rate.high), '+.1f')} percentage points); revenue "
        f"per customer {revenue.estimate:+,.2f} "
        f"({level} CI {_span(revenue.low, revenue.high, ',.2f')}); incremental revenue "
        f"{effect.incremental_revenue:,.2f}",
        highlight=False,
    )


def _scaled(rate: float | None) -> float | None:
    """A difference of two rates in percentage points (0.021 → 2.1)."""
    return None if rate is None else rate * 100


def _points(rate: float) -> str:
    """A difference of two rates: percentage points, never percent (12 % vs 10 % is +2.0
    percentage points, a 20 % increase)."""
    return f"{rate * 100:+.1f} percentage points"


def _span(low: float | None, high: float | None, spec: str) -> str:
    return "n/a" if low is None or high is None else f"{low:{spec}} … {high:{spec}}"


def loyalty_economics(
    program: ProgramOpt,
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD; default: the first month).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Day after the period (YYYY-MM-DD; default: tomorrow).")
    ] = None,
    url: DatabaseUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Liability, points flow per month, breakage and reward cost of a live program."""
    from regulars.loyalty.economics.ledger_mapping import program_economics

    settings = settings_with()
    with open_store(url or settings.database_url) as engine:
        result = program_economics(
            engine,
            program,
            parse_date(start, "--start"),
            parse_date(end, "--end"),
            settings=settings,
        )
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return
    _print_economics(result, program)


def _net(r: FlowRow) -> int:
    """A month's movements, signed as the columns read: outstanding grows by this."""
    return r.issued - r.redeemed - r.expired - r.reversed + r.recredited + r.adjusted


def _print_economics(result: LiveEconomics, program: str) -> None:
    """The flow as a table whose rows add up: each month's outstanding is the line above
    plus issued − redeemed − expired − reversed + recredited + adjusted, from the opening
    balance (everything before the first month)."""
    table = Table(title=f"{program}: points flow, [{result.start}, {result.end})")
    columns = ("issued", "redeemed", "expired", "reversed", "recredited", "adjusted")
    for column in ("month", *columns, "outstanding"):
        table.add_column(column, justify="right")
    if result.flow:
        first = result.flow[0]
        opening = first.outstanding_end - _net(first)
        table.add_row("opening", *("" for _ in columns), f"{opening:,}")
    for r in result.flow:
        values = (r.issued, r.redeemed, r.expired, r.reversed, r.recredited, r.adjusted)
        table.add_row(
            f"{r.period_start:%Y-%m}", *(f"{v:,}" for v in values), f"{r.outstanding_end:,}"
        )
    console.print(table)
    rate = result.breakage.rate
    console.print(
        f"outstanding {result.outstanding_points:,} points = liability {result.liability:,.2f}; "
        f"reward cost {result.reward_cost:,.2f}; breakage "
        f"{'n/a' if rate is None else f'{rate:.1%}'} of {result.breakage.lots:,} ended lot(s)",
        highlight=False,
    )
