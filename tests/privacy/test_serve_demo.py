"""``regulars serve --demo``: the demo store is built once, reused, and served with a fresh key."""

from __future__ import annotations

import os
import re
import select as selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from regulars.cli import app
from regulars.demo_store import prepare_demo_store
from regulars.errors import RegularsError
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyProgram
from regulars.store.migrate import current_revision, head_revision
from regulars.store.session import make_engine, session_scope
from regulars.store.tables import ApiKey, AuditEntry, Customer, CustomerScore, Order, OrderLine
from regulars.web.app import create_app

SMALL = 1_000


def _count(url: str, model: Any) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        engine.dispose()


def test_demo_store_is_built_migrated_and_loaded(tmp_path: Path) -> None:
    store = prepare_demo_store(tmp_path / "demo.db", seed=3, transactions=SMALL)
    assert not store.reused
    assert store.counts is not None
    assert store.counts.orders_inserted == SMALL
    assert current_revision(store.url) == head_revision()
    assert _count(store.url, Order) == SMALL
    assert _count(store.url, OrderLine) == store.counts.lines_inserted > SMALL
    assert _count(store.url, Customer) == store.counts.customers_inserted
    assert _count(store.url, AuditEntry) == 0  # importing has no side effects
    # Every customer scored once (as of the day after the last order: the models fit), and
    # the demo points program, with no accounts: the imported history earned nothing.
    engine = make_engine(store.url)
    with session_scope(engine) as session:
        buyers = session.scalar(  # customers with a purchase (counts_as_purchase)
            select(func.count(func.distinct(Order.customer_id))).where(
                Order.status != "cancelled", Order.amount - Order.refunded_amount > 0
            )
        )
    engine.dispose()
    assert _count(store.url, CustomerScore) == buyers > 0
    assert _count(store.url, LoyaltyProgram) == 1
    assert _count(store.url, LoyaltyAccount) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.db", "demo.db.demo.json"]


def test_same_arguments_reuse_the_store_others_rebuild_it(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    prepare_demo_store(path, seed=3, transactions=SMALL)
    built = path.stat().st_mtime_ns
    again = prepare_demo_store(path, seed=3, transactions=SMALL)
    assert again.reused
    assert again.counts is None
    assert path.stat().st_mtime_ns == built
    other = prepare_demo_store(path, seed=4, transactions=SMALL)
    assert not other.reused
    assert _count(other.url, Order) == SMALL


def test_a_store_without_its_marker_is_rebuilt(tmp_path: Path) -> None:
    """An interrupted build (no marker yet) is never reused."""
    path = tmp_path / "demo.db"
    prepare_demo_store(path, seed=3, transactions=SMALL)
    (tmp_path / "demo.db.demo.json").unlink()
    assert not prepare_demo_store(path, seed=3, transactions=SMALL).reused


def test_serve_demo_prints_a_working_admin_key_last_and_an_owner_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    monkeypatch.delenv("REGULARS_SECRET_KEY", raising=False)
    seen: dict[str, Any] = {}
    # What a worker process does: build the app with the factory, from the environment.
    monkeypatch.setattr(uvicorn, "run", lambda _app, **kw: seen.update(app=create_app()))
    path = tmp_path / "demo.db"
    args = ["serve", "--demo", "--demo-db", str(path), "--demo-transactions", str(SMALL)]
    env: dict[str, str | None] = {"REGULARS_DATABASE_URL": None}  # restored afterwards
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("rg_")
    assert "built" in result.stderr
    with TestClient(seen["app"]) as client:
        response = client.get("/v1/customers/C000001", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        _logs_in_as_printed(client, result.stderr)

    second = CliRunner().invoke(app, args, env=env)
    assert "reused" in second.stderr
    assert second.stdout.strip() != key
    url = f"sqlite:///{path}"
    assert _count(url, ApiKey) == 2
    # apikey.create per start, user.create then user.reset_password (actor cli), and the
    # owner's user.login
    assert _count(url, AuditEntry) == 5


def _logs_in_as_printed(client: TestClient, stderr: str) -> None:
    """The owner login printed on start opens the web app's dashboard."""
    found = re.search(r"web app login: (\S+) / (\S+)", stderr)
    assert found, stderr
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = client.post(
        "/login",
        data={"username": found[1], "password": found[2], "csrf_token": token[1]},
        follow_redirects=True,
    )
    assert answer.status_code == 200
    assert "Dashboard" in answer.text
    assert "owner" in answer.text


def test_serve_demo_refuses_a_database_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--demo", "--url", f"sqlite:///{tmp_path}/x.db"])
    assert isinstance(result.exception, RegularsError)
    assert "--demo-db" in str(result.exception)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _read_line(process: subprocess.Popen[str], deadline: float) -> str:
    """The first line on the server's stdout, waiting until ``deadline`` at most."""
    assert process.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = selectors.select([process.stdout], [], [], 0.2)
        if ready:
            return process.stdout.readline().strip()
        if process.poll() is not None:
            break
    raise AssertionError("the server printed no key in time")


def _serve_demo(db: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    """``regulars serve --demo`` in a real process; the key comes on its stdout."""
    command = [
        sys.executable,
        "-c",
        "from regulars.cli import main; main()",
        "serve",
        "--demo",
        "--demo-db",
        str(db),
        "--demo-transactions",
        str(SMALL),
        "--port",
        str(port),
        *extra,
    ]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _get_customer(port: int, key: str, deadline: float) -> httpx.Response:
    """``GET /v1/customers/C000001``, retried until the server listens."""
    while time.monotonic() < deadline:
        try:
            return httpx.get(
                f"http://127.0.0.1:{port}/v1/customers/C000001",
                headers={"Authorization": f"Bearer {key}"},
                timeout=5,
            )
        except httpx.TransportError:
            time.sleep(0.1)  # not listening yet
    raise AssertionError("the server did not start listening in time")


def _stop(process: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.slow
def test_real_server_answers_with_the_printed_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGULARS_SECRET_KEY", raising=False)
    port = _free_port()
    process = _serve_demo(tmp_path / "demo.db", port)
    try:
        deadline = time.monotonic() + 60
        key = _read_line(process, deadline)
        assert key.startswith("rg_"), key
        response = _get_customer(port, key, deadline)
        assert response.status_code == 200, response.text
        assert response.json()["customer_id"] == "C000001"
    finally:
        _stop(process)


def _workers(parent: int) -> list[int]:
    """The uvicorn worker processes of ``parent`` (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid)
        for pid in children
        if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text()
    ]


def _sockets(pid: int) -> int:
    """How many sockets process ``pid`` holds open."""
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue  # closed meanwhile
    return count


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_two_workers_answer_and_stop_together(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    stop_with: signal.Signals,
) -> None:
    """``serve --demo --workers 2``: two worker processes, each answers requests with the
    printed key (each keeps connections it accepted: both hold some after enough clients
    connect), and Ctrl-C (SIGINT) or SIGTERM to the server stops them all."""
    monkeypatch.delenv("REGULARS_SECRET_KEY", raising=False)
    db = tmp_path_factory.getbasetemp() / "two-workers" / "demo.db"  # built once, reused
    db.parent.mkdir(exist_ok=True)
    port = _free_port()
    process = _serve_demo(db, port, "--workers", "2")
    clients: list[httpx.Client] = []
    try:
        deadline = time.monotonic() + 90
        key = _read_line(process, deadline)
        assert _get_customer(port, key, deadline).status_code == 200
        workers = _workers(process.pid)
        assert len(workers) == 2, workers
        idle = {pid: _sockets(pid) for pid in workers}
        # Keep-alive clients: each connection stays with the worker that accepted it.
        while len(clients) < 200 and not all(_sockets(p) > idle[p] for p in workers):
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
            )
            clients.append(client)
            response = client.get("/v1/customers/C000001")
            assert response.status_code == 200, response.text
        assert all(_sockets(p) > idle[p] for p in workers), "one worker answered everything"
        for client in clients:
            client.close()
        process.send_signal(stop_with)
        assert process.wait(timeout=30) is not None
        stopped_by = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < stopped_by, "a worker outlived the server"
            time.sleep(0.1)
    finally:
        for client in clients:
            client.close()
        _stop(process)
