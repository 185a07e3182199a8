"""The commands of the loyalty program types beyond points: ``regulars loyalty draw``
(prize draws), ``settlement`` (coalition partners) and ``causes-report`` (charity)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from regulars.cli.common import DatabaseUrlOpt, console, open_store, parse_day
from regulars.errors import RegularsError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ProgramCodeOpt = Annotated[
    str | None, typer.Option("--program", help="Program code; default: the oldest active one.")
]
TableJsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
StartOpt = Annotated[str, typer.Option(help="First day, YYYY-MM-DD (inclusive).")]
EndOpt = Annotated[str, typer.Option(help="Day after the last, YYYY-MM-DD (exclusive).")]


def loyalty_draw(
    program: Annotated[str | None, typer.Argument(help="The draw program's code.")] = None,
    seed: Annotated[str | None, typer.Option(help="Seed (default: 128 random bits).")] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Re-run the stored draw; change nothing.")
    ] = False,
    as_json: TableJsonOpt = False,
    url: DatabaseUrlOpt = None,
) -> None:
    """Draw a prize draw's winners once (again: the stored draw), or --verify it."""
    from regulars.loyalty.catalogue import program_of_type
    from regulars.loyalty.program_store import draws

    with _program_session(url) as session:
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


def loyalty_settlement(
    start: StartOpt,
    end: EndOpt,
    partner: Annotated[str | None, typer.Option(help="Only this partner.")] = None,
    program: ProgramCodeOpt = None,
    as_json: TableJsonOpt = False,
    url: DatabaseUrlOpt = None,
) -> None:
    """What each coalition partner and the program owe each other for [start, end)."""
    from regulars.loyalty.catalogue import program_of_type
    from regulars.loyalty.program_store import partners

    first, last = _period(start, end)
    with _program_session(url) as session:
        found = program_of_type(session, program, "coalition")
        lines = partners.settlement(session, found, first, last, partner)
    _print_rows([asdict(line) for line in lines], as_json, f"settlement {found.code}")


def loyalty_causes_report(
    start: StartOpt,
    end: EndOpt,
    program: ProgramCodeOpt = None,
    as_json: TableJsonOpt = False,
    url: DatabaseUrlOpt = None,
) -> None:
    """Donated and matched points and their value per cause for [start, end)."""
    from regulars.loyalty.catalogue import program_of_type
    from regulars.loyalty.program_store import charity

    first, last = _period(start, end)
    with _program_session(url) as session:
        found = program_of_type(session, program, "charity")
        lines = charity.cause_report(session, found, first, last)
    _print_rows([asdict(line) for line in lines], as_json, f"causes {found.code}")


def _period(start: str, end: str) -> tuple[datetime, datetime]:
    """``[start, end)`` from two dates, each midnight UTC."""
    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    if last <= first:
        raise RegularsError("--end: must be after --start")
    return datetime.combine(first, time(), UTC), datetime.combine(last, time(), UTC)


@contextmanager
def _program_session(url: str | None) -> Iterator[Session]:
    """A session on the migrated store (:func:`open_store`); a value a program refuses is a
    user error."""
    from regulars.store.session import session_scope

    try:
        with open_store(url) as engine, session_scope(engine) as session:
            yield session
    except ValueError as exc:
        raise RegularsError(str(exc)) from None


def _print_rows(rows: list[dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        console.print(f"{title}: nothing")
        return
    table = Table(*rows[0].keys(), title=title)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
