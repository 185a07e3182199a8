"""``regulars worker``, ``regulars jobs`` and ``regulars scores refresh``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from regulars.cli import app
from regulars.cli import common as cli
from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine, session_scope
from regulars.store.tables import AuditEntry, CustomerScore, Job
from regulars.worker.queue import claim, enqueue, mark_failed

from .test_scoring import ORDERS, _store

runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    return url


def _failed_job(url: str) -> int:
    engine = make_engine(url)
    past = utcnow() - timedelta(hours=1)
    with session_scope(engine) as session:
        job_id = enqueue(session, "campaign.send", past, key="spring", max_attempts=1)
    [job] = claim(engine, "w", past)
    mark_failed(engine, job, "w", past, TimeoutError("smtp timed out"))
    engine.dispose()
    assert job_id is not None
    return job_id


def test_worker_once_schedules_the_refresh_and_runs_what_is_due(db_url: str) -> None:
    engine = make_engine(db_url)
    _store(engine, ORDERS)
    with session_scope(engine) as session:  # a refresh that was due an hour ago
        enqueue(session, "scores.refresh", utcnow() - timedelta(hours=1))
    result = runner.invoke(
        app,
        ["worker", "--once", "--url", db_url, "--id", "cli-test"],
        env={"REGULARS_TIMEZONE": "Europe/Berlin", "REGULARS_REFRESH_HOUR": "4"},
    )
    assert result.exit_code == 0, result.output
    assert "scores.refresh done" in result.output
    with session_scope(engine) as session:
        assert len(session.scalars(select(CustomerScore)).all()) == 6
    listed = runner.invoke(app, ["jobs", "--url", db_url, "--kind", "scores.refresh", "--json"])
    jobs = json.loads(listed.output)
    assert [j["state"] for j in jobs] == ["pending", "done"]
    next_due = datetime.fromisoformat(jobs[0]["due_at"])
    assert next_due > utcnow()
    assert next_due.astimezone(ZoneInfo("Europe/Berlin")).hour == 4
    assert jobs[1]["payload"]["result"]["customers"] == 6
    engine.dispose()


def test_jobs_lists_and_filters(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.console, "width", 200)  # the table's last column stays on one line
    job_id = _failed_job(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        enqueue(session, "scores.refresh", datetime(2030, 1, 1, tzinfo=UTC))
    engine.dispose()
    table = runner.invoke(app, ["jobs", "--url", db_url])
    assert table.exit_code == 0, table.output
    assert "TimeoutError: smtp timed out" in table.output
    assert "2 job(s)" in table.output
    failed = json.loads(
        runner.invoke(app, ["jobs", "--url", db_url, "--state", "failed", "--json"]).output
    )
    assert [(j["id"], j["kind"], j["attempts"]) for j in failed] == [(job_id, "campaign.send", 1)]
    assert failed[0]["last_error"] == "TimeoutError: smtp timed out"
    by_kind = json.loads(
        runner.invoke(app, ["jobs", "--url", db_url, "--kind", "scores.refresh", "--json"]).output
    )
    assert [j["kind"] for j in by_kind] == ["scores.refresh"]
    bad = runner.invoke(app, ["jobs", "--url", db_url, "--state", "stuck"])
    assert isinstance(bad.exception, RegularsError)
    assert "--state" in str(bad.exception)


def test_jobs_retry_puts_a_failed_job_back_and_audits_it(db_url: str) -> None:
    job_id = _failed_job(db_url)
    result = runner.invoke(app, ["jobs", "retry", str(job_id), "--url", db_url])
    assert result.exit_code == 0, result.output
    assert f"job {job_id} (campaign.send) is pending again" in result.output
    pending = json.loads(runner.invoke(app, ["jobs", "--url", db_url, "--json"]).output)
    assert (pending[0]["state"], pending[0]["attempts"]) == ("pending", 0)
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        entry = session.scalars(select(AuditEntry)).one()
    engine.dispose()
    assert (entry.actor, entry.action, entry.target_id) == ("cli", "job.retry", str(job_id))
    again = runner.invoke(app, ["jobs", "retry", str(job_id), "--url", db_url])
    assert isinstance(again.exception, RegularsError)
    assert "not failed" in str(again.exception)


def test_scores_refresh_by_hand(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.console, "width", 200)
    engine = make_engine(db_url)
    _store(engine, ORDERS)
    result = runner.invoke(
        app,
        ["scores", "refresh", "--url", db_url, "--as-of", "2026-01-01", "--quiet"],
        env={"REGULARS_TIMEZONE": "Europe/Berlin"},
    )
    assert result.exit_code == 0, result.output
    assert "Scores as of 2026-01-01: 5 customers from 19 orders; 5 written" in result.output
    assert "Not computed: churn model" in result.output
    with session_scope(engine) as session:
        segments = dict(
            session.execute(select(CustomerScore.customer_id, CustomerScore.segment)).all()
        )
    engine.dispose()
    assert segments["D"] == "Can't lose them"


def test_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    for command in (["worker", "--once"], ["jobs"], ["scores", "refresh"]):
        result = runner.invoke(app, [*command, "--url", url])
        assert isinstance(result.exception, RegularsError), command
        assert "db upgrade" in str(result.exception)


@pytest.mark.slow
def test_sigterm_lets_the_running_job_finish(db_url: str) -> None:
    engine = make_engine(db_url)
    _store(engine, ORDERS)
    with session_scope(engine) as session:
        job_id = enqueue(session, "scores.refresh", utcnow() - timedelta(minutes=1))
    command = [sys.executable, "-c", "from regulars.cli import main; main()"]
    process = subprocess.Popen(
        [*command, "worker", "--url", db_url, "--poll-seconds", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    state = "pending"
    while state == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
        with session_scope(engine) as session:
            state = session.get(Job, job_id).state  # type: ignore[union-attr]
    process.send_signal(signal.SIGTERM)  # usually while the refresh runs
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped" in err
    assert f"job {job_id} scores.refresh done" in out
    with session_scope(engine) as session:
        assert session.get(Job, job_id).state == "done"  # type: ignore[union-attr]
    engine.dispose()
