"""``regulars loyalty``: the points ledger on the store (history import, expiry, balances,
cancelled redemptions, webhooks) and, registered here in the order ``--help`` lists them,
the simulator (:mod:`.simulate`), the measures of a live program (:mod:`.loyalty_measures`)
and the commands of the other program types (:mod:`.loyalty_programs`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from regulars.cli import loyalty_measures, loyalty_programs, simulate
from regulars.cli.common import DatabaseUrlOpt, console, err_console, open_store
from regulars.clock import utcnow


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

    with open_store(url) as engine:
        report = import_history(engine, file, program)
    console.print(report.summary(), highlight=False)
    if report.rejected:
        target = rejects or Path("loyalty-rejects.csv")
        report.write_rejects(target)
        for number, column, message, _raw in report.rejected[:10]:
            err_console.print(f"row {number}: {column}: {message}", highlight=False)
        console.print(f"[yellow]rejected rows written to {target}", highlight=False)


def loyalty_expire(url: DatabaseUrlOpt = None) -> None:
    """Expire every lot past its expiry now (the nightly job; safe to run twice)."""
    from regulars.loyalty.points.expiry import expire_due

    with open_store(url) as engine:
        points = expire_due(engine)
    console.print(f"{points} point(s) expired", highlight=False)


def loyalty_balance(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    url: DatabaseUrlOpt = None,
) -> None:
    """A customer's accounts: balance, available, pending and tier per program."""
    from regulars.loyalty.points.views import loyalty_summary
    from regulars.store.session import session_scope

    with open_store(url) as engine, session_scope(engine) as session:
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

    with open_store(url) as engine, session_scope(engine) as session:
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


def loyalty_webhook_add(
    endpoint: Annotated[str, typer.Argument(help="URL the events are POSTed to.")],
    kinds: Annotated[
        str | None,
        typer.Option(
            help="Only these event kinds, comma-separated (tier_changed, points_expiring, "
            "points_expired, reward_granted, badge_awarded, bonus_awarded); default: every "
            "kind."
        ),
    ] = None,
    url: DatabaseUrlOpt = None,
) -> None:
    """Register a webhook endpoint; prints its signing secret, alone on the last line, once."""
    from regulars.loyalty.webhooks import add_endpoint
    from regulars.store.session import session_scope

    chosen = None if kinds is None else [k.strip() for k in kinds.split(",") if k.strip()]
    with open_store(url) as engine, session_scope(engine) as session:
        endpoint_id, secret = add_endpoint(session, endpoint, kinds=chosen)
    err_console.print(
        f"endpoint {endpoint_id}: {endpoint}; its signing secret (store it now):", highlight=False
    )
    typer.echo(secret)


def loyalty_deliver(
    url: DatabaseUrlOpt = None,
    warn_days: Annotated[
        int | None, typer.Option(min=1, help="Also queue points_expiring events for N days.")
    ] = None,
) -> None:
    """Queue expiry warnings (with --warn-days) and POST every due webhook delivery."""
    import httpx

    from regulars.loyalty.points.expiry import emit_expiry_warnings
    from regulars.loyalty.webhooks import deliver_due
    from regulars.store.session import session_scope

    with open_store(url) as engine:
        if warn_days is not None:
            with session_scope(engine) as session:
                emit_expiry_warnings(session, utcnow(), warn_days)
        with httpx.Client() as client:
            report = deliver_due(engine, client)
    console.print(
        f"{report.delivered} delivered, {report.retrying} to retry, {report.failed} failed",
        highlight=False,
    )


COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("simulate", simulate.loyalty_simulate),
    ("import", loyalty_import),
    ("expire", loyalty_expire),
    ("effect", loyalty_measures.loyalty_effect),
    ("economics", loyalty_measures.loyalty_economics),
    ("balance", loyalty_balance),
    ("cancel-redemption", loyalty_cancel_redemption),
    ("webhook-add", loyalty_webhook_add),
    ("deliver", loyalty_deliver),
    ("draw", loyalty_programs.loyalty_draw),
    ("settlement", loyalty_programs.loyalty_settlement),
    ("causes-report", loyalty_programs.loyalty_causes_report),
)


def register(app: typer.Typer) -> None:
    """Add the ``loyalty`` group, with every command of :data:`COMMANDS`, to the root."""
    loyalty_app = typer.Typer(
        help="The loyalty engine: points ledger, history import, expiry, webhooks, and the "
        "what-if simulator.",
        no_args_is_help=True,
    )
    for name, command in COMMANDS:
        loyalty_app.command(name)(command)
    app.add_typer(loyalty_app, name="loyalty")
