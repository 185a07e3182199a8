"""The ``regulars`` command line. Commands only parse options, call a service and format.

Every user mistake ends in a one-line message and exit status 2, never a traceback
(:func:`main`). Each module here holds one command group and registers it on :data:`app`;
the order of registration is the order ``regulars --help`` lists them in.
"""

from __future__ import annotations

import typer

from regulars.cli import admin, analytics, loyalty, segments, store, worker
from regulars.cli.common import run_app

__all__ = ["app", "main"]

app = typer.Typer(
    help="regulars: turn one-time buyers into regulars. Retention analytics for shops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for group in (analytics, segments, store, admin, loyalty, worker):
    group.register(app)


def main() -> None:
    """Entry point: run the app, turn user errors into clear messages."""
    run_app(app)
