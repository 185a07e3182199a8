"""Background work: ``regulars worker`` (the job loop), ``jobs`` (list, retry) and
``scores refresh`` (the nightly scores job, by hand)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from regulars.cli.common import (
    DatabaseUrlOpt,
    JsonOpt,
    QuietOpt,
    TimezoneOpt,
    WindowOpt,
    console,
    err_console,
    open_store,
    parse_date,
    progress_steps,
    settings_with,
)
from regulars.clock import utcnow
from regulars.errors import RegularsError

if TYPE_CHECKING:
    from regulars.worker.queue import JobInfo
    from regulars.worker.runner import Outcome


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
    from regulars.scoring.refresh import refresh_scores

    settings = settings_with(timezone=timezone, activity_window_days=activity_window)
    with open_store(url or settings.database_url) as engine, progress_steps(quiet) as step:
        result = refresh_scores(
            engine,
            settings=settings,
            as_of=parse_date(as_of, "--as-of"),
            shop_id=shop,
            progress=step,
        )
    console.print(result.summary(), highlight=False)


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
    from regulars.store.session import display_url
    from regulars.wiring import job_registry
    from regulars.worker import Worker
    from regulars.worker.runner import default_worker_id, stop_on_signals

    settings = settings_with()
    database = url or settings.database_url
    with open_store(database) as engine:
        runner = Worker(
            engine, job_registry(), settings=settings, worker_id=worker_id or default_worker_id()
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


def _print_outcome(outcome: Outcome) -> None:
    job = outcome.job
    text = f"job {job.id} {job.kind} {outcome.status} in {outcome.seconds:.1f} s"
    if outcome.error:
        text += f": {outcome.error}"
    if outcome.run_after is not None:
        text += f" (next try {outcome.run_after:%Y-%m-%d %H:%M:%S} UTC)"
    console.print(text, highlight=False, markup=False)


def jobs(
    ctx: typer.Context,
    url: DatabaseUrlOpt = None,
    state: Annotated[
        str | None, typer.Option(help="Only jobs in this state: pending, running, done, failed.")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only jobs of this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List jobs with their state, attempts, due time, next run and last error."""
    if ctx.invoked_subcommand is not None:
        return
    from regulars.store.tables import JOB_STATES
    from regulars.worker import list_jobs

    if state is not None and state not in JOB_STATES:
        raise RegularsError(f"--state: '{state}' is not one of {', '.join(JOB_STATES)}")
    with open_store(url) as engine:
        found = list_jobs(engine, state=state, kind=kind, limit=limit)
    if as_json:
        print(json.dumps([job.to_dict() for job in found], indent=2))
        return
    _print_jobs(found)


def _print_jobs(found: list[JobInfo]) -> None:
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


def jobs_retry(
    job_id: Annotated[int, typer.Argument(help="The id of a failed job.")],
    url: DatabaseUrlOpt = None,
) -> None:
    """Put a failed job back to pending, due now, with fresh attempts."""
    from regulars.store.audit import record
    from regulars.store.session import session_scope
    from regulars.worker import retry

    with open_store(url) as engine, session_scope(engine) as session:
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


def register(app: typer.Typer) -> None:
    """Add ``worker`` and the ``scores`` and ``jobs`` groups to the root command."""
    app.command("worker")(worker)
    scores_app = typer.Typer(help="Per-customer scores in the store.", no_args_is_help=True)
    scores_app.command("refresh")(scores_refresh)
    app.add_typer(scores_app, name="scores")
    jobs_app = typer.Typer(
        help="Background jobs: list them, retry a failed one.", invoke_without_command=True
    )
    jobs_app.callback()(jobs)
    jobs_app.command("retry")(jobs_retry)
    app.add_typer(jobs_app, name="jobs")
