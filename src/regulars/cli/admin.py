"""Administering the service: ``regulars apikey``, ``customer`` (GDPR export and erasure),
``user`` (web app logins), ``audit`` and ``serve`` (the HTTP API and the web app)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from regulars.cli.common import (
    DatabaseUrlOpt,
    JsonOpt,
    console,
    err_console,
    iso_utc,
    open_store,
    settings_with,
)
from regulars.errors import RegularsError

if TYPE_CHECKING:
    from sqlalchemy import Engine

CustomerIdArg = Annotated[str, typer.Argument(help="The customer's customer_id.")]


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

    with open_store(url) as engine:
        row, key = create_api_key(engine, name, scopes, actor="cli")
    err_console.print(
        f"API key '{row.name}' (scopes {', '.join(row.scopes)}); store it now, "
        "it cannot be shown again:",
        highlight=False,
    )
    typer.echo(key)


def apikey_list(url: DatabaseUrlOpt = None, as_json: JsonOpt = False) -> None:
    """List every API key: name, prefix, scopes, created, revoked (never the secret)."""
    from regulars.api.keys import list_api_keys
    from regulars.store.session import session_scope

    with open_store(url) as engine, session_scope(engine) as session:
        keys: list[dict[str, Any]] = [
            {
                "name": k.name,
                "prefix": k.prefix,
                "scopes": k.scopes,
                "created_at": iso_utc(k.created_at),
                "revoked_at": iso_utc(k.revoked_at),
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


def apikey_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (the part after 'rg_').")],
    url: DatabaseUrlOpt = None,
) -> None:
    """Revoke an API key: it is refused (401) from now on. Recorded in the audit log."""
    from regulars.api.keys import revoke_api_key
    from regulars.store.session import session_scope

    with open_store(url) as engine, session_scope(engine) as session:
        row, revoked = revoke_api_key(session, prefix, actor="cli")
    state = "revoked" if revoked else f"was already revoked at {iso_utc(row.revoked_at)}"
    console.print(f"API key '{row.name}' ({row.prefix}) {state}", highlight=False)


def customer_export(
    customer_id: CustomerIdArg,
    url: DatabaseUrlOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the JSON here (default: standard output).")
    ] = None,
) -> None:
    """Everything the store holds about a customer, as JSON. Recorded in the audit log."""
    from regulars.privacy import export_customer, server_secret
    from regulars.store.session import session_scope
    from regulars.wiring import customer_plan

    with open_store(url) as engine, session_scope(engine) as session:
        document = export_customer(
            session,
            customer_id,
            actor="cli",
            secret=server_secret(engine.url, settings_with()),
            plan=customer_plan(),
        )
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    rows = sum(len(r) for r in document["tables"].values())
    err_console.print(f"{rows} row(s) about '{customer_id}' written to {out}", highlight=False)


def customer_erase(
    customer_id: CustomerIdArg,
    url: DatabaseUrlOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a customer from every table for good; the audit log keeps only a pseudonym."""
    from regulars.privacy import erase_customer, server_secret
    from regulars.store.session import checkpoint, session_scope
    from regulars.wiring import customer_plan

    if not yes:
        typer.confirm(
            f"Erase customer '{customer_id}'s personal data (profile, events, consents; orders "
            "and the loyalty ledger stay under a pseudonym)? "
            "This cannot be undone",
            abort=True,
        )
    with open_store(url) as engine, session_scope(engine) as session:
        erasure = erase_customer(
            session,
            customer_id,
            actor="cli",
            secret=server_secret(engine.url, settings_with()),
            plan=customer_plan(),
        )
        checkpoint(engine)
    deleted = ", ".join(f"{t} {n}" for t, n in erasure.deleted.items() if n)
    kept = ", ".join(f"{t} {n}" for t, n in erasure.kept.items() if n)
    console.print(
        f"Erased '{customer_id}' (rows deleted: {deleted}; kept under the pseudonym: "
        f"{kept or 'none'}); audit entry names it {erasure.pseudonym}",
        highlight=False,
    )


def audit(
    url: DatabaseUrlOpt = None,
    action: Annotated[str | None, typer.Option(help="Only this action: apikey.revoke…")] = None,
    target_type: Annotated[str | None, typer.Option(help="Only this target type.")] = None,
    customer: Annotated[
        str | None,
        typer.Option(help="Only entries about this customer_id (matched by its pseudonym too)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest N entries.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Show the audit log of administrative changes, newest first."""
    from regulars.privacy import AuditFilter, pseudonym, server_secret
    from regulars.privacy.audit_log import collect_entries
    from regulars.store.session import session_scope

    with open_store(url) as engine, session_scope(engine) as session:
        targets = None
        if customer is not None:
            targets = (customer, pseudonym(server_secret(engine.url, settings_with()), customer))
        where = AuditFilter(action=action, target_type=target_type, target_ids=targets)
        entries: list[dict[str, Any]] = [
            {
                "id": e.id,
                "occurred_at": iso_utc(e.occurred_at),
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
    _print_audit(entries)


def _print_audit(entries: list[dict[str, Any]]) -> None:
    table = Table(title=f"audit log: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
    for column in ("id", "when (UTC)", "actor", "action", "target", "details"):
        table.add_column(column, overflow="fold")
    for e in entries:
        target = f"{e['target_type']} {e['target_id'] or ''}".strip()
        details = json.dumps(e["details"], ensure_ascii=False)
        table.add_row(str(e["id"]), e["occurred_at"], e["actor"], e["action"], target, details)
    console.print(table)


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
            help="Serve a demo shop: build (or reuse) a SQLite demo store, print an owner "
            "login for the web app and a fresh admin key on standard output, serve it.",
        ),
    ] = False,
    demo_db: Annotated[
        Path | None,
        typer.Option(help=r"The demo store's SQLite file \[default: out/demo/regulars-demo.db]."),
    ] = None,
    demo_transactions: Annotated[
        int | None,
        typer.Option(min=1_000, max=1_000_000, help=r"Size of the demo shop \[default: 10000]."),
    ] = None,
    demo_seed: Annotated[int | None, typer.Option(help=r"Demo shop seed \[default: 7].")] = None,
) -> None:
    """Serve the web app (/) and the HTTP API (/v1; OpenAPI at /docs) on the store."""
    import uvicorn

    from regulars.privacy import server_secret
    from regulars.store.session import display_url
    from regulars.web.app import APP_FACTORY

    if demo:
        if url is not None:
            raise RegularsError("--demo serves its own store; leave out --url or use --demo-db")
        url = _prepare_demo(demo_db, demo_seed, demo_transactions)
    with open_store(url) as engine:
        server_secret(engine.url, settings_with())  # fail now, not at the first erasure request
        store_url = engine.url
    # Every worker process builds its app with create_app(), from the settings: the store
    # chosen here reaches them through the environment they inherit.
    os.environ["REGULARS_DATABASE_URL"] = store_url.render_as_string(hide_password=False)
    processes = f" with {workers} worker processes" if workers > 1 else ""
    err_console.print(
        f"serving {display_url(store_url)}: the app at http://{host}:{port}/, the API at "
        f"/v1 (docs at /docs){processes}",
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
        password = _demo_owner(engine)
    finally:
        engine.dispose()
    how = "reused" if store.reused else f"built ({store.counts.summary() if store.counts else ''})"
    err_console.print(
        f"demo store {store.path} {how} in {time.perf_counter() - started:.1f} s; "
        "admin API key on standard output:",
        highlight=False,
    )
    err_console.print(
        f"web app login: {DEMO_OWNER} / {password} (owner; a new password on every start)",
        highlight=False,
    )
    typer.echo(key)
    sys.stdout.flush()
    return store.url


DEMO_OWNER = "owner"


def _demo_owner(engine: Engine) -> str:
    """The demo's owner login with a fresh random password (created or reset)."""
    import secrets

    from regulars.store.session import session_scope
    from regulars.web.users import create_user, find_user, reset_password

    password = secrets.token_urlsafe(12)
    with session_scope(engine) as session:
        if find_user(session, DEMO_OWNER) is None:
            create_user(session, DEMO_OWNER, password, "owner", actor="cli")
        else:
            reset_password(session, DEMO_OWNER, password, actor="cli")
    return password


UsernameArg = Annotated[str, typer.Argument(help="The login name (case-insensitive).")]
PasswordOpt = Annotated[
    str,
    typer.Option(
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="At least 10 characters; asked for when not given (it is not echoed).",
    ),
]


def user_create(
    username: UsernameArg,
    role: Annotated[
        str, typer.Option(help="owner, marketer, agent or viewer (docs/app.md).")
    ] = "viewer",
    password: PasswordOpt = "",
    locale: Annotated[str, typer.Option(help="The language of the user's pages: en or ru.")] = "en",
    url: DatabaseUrlOpt = None,
) -> None:
    """Create a login for the web app. Recorded in the audit log."""
    from regulars.store.session import session_scope
    from regulars.web.users import create_user

    with open_store(url) as engine, session_scope(engine) as session:
        user = create_user(session, username, password, role, actor="cli", locale=locale)
        name, role = user.username, user.role
    console.print(f"user '{name}' ({role}) created", highlight=False)


def user_reset_password(
    username: UsernameArg, password: PasswordOpt = "", url: DatabaseUrlOpt = None
) -> None:
    """Set a new password, unlock the account and log the user out everywhere."""
    from regulars.store.session import session_scope
    from regulars.web.users import reset_password

    with open_store(url) as engine, session_scope(engine) as session:
        name = reset_password(session, username, password, actor="cli").username
    console.print(f"password of '{name}' reset; their open sessions are ended", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``apikey``, ``customer`` and ``user`` groups, ``audit`` and ``serve`` to the
    root."""
    apikey_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)
    apikey_app.command("create")(apikey_create)
    apikey_app.command("list")(apikey_list)
    apikey_app.command("revoke")(apikey_revoke)
    app.add_typer(apikey_app, name="apikey")
    customer_app = typer.Typer(
        help="One customer's data: export (GDPR art. 15) and erasure (art. 17).",
        no_args_is_help=True,
    )
    customer_app.command("export")(customer_export)
    customer_app.command("erase")(customer_erase)
    app.add_typer(customer_app, name="customer")
    user_app = typer.Typer(
        help="Logins of the web app (staff, not customers).", no_args_is_help=True
    )
    user_app.command("create")(user_create)
    user_app.command("reset-password")(user_reset_password)
    app.add_typer(user_app, name="user")
    app.command("audit")(audit)
    app.command("serve")(serve)
