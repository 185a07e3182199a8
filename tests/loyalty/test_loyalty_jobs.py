"""The loyalty jobs through the worker: nightly expiry and warnings in the shop's time
zone, webhook delivery every few minutes, to a real HTTP receiver on localhost."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from loyalty_helpers import add_order, check_ledger, make_program
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from regulars.cli import app
from regulars.clock import utcnow
from regulars.config import Settings
from regulars.loyalty.jobs import EXPIRE, EXPIRY_WARNINGS, WEBHOOKS
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyDelivery
from regulars.loyalty.webhooks import add_endpoint
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine, session_scope
from regulars.store.tables import Job
from regulars.wiring import job_registry
from regulars.worker import Registry, Worker
from regulars.worker.queue import enqueue

BERLIN = Settings(timezone="Europe/Berlin")
EARNED_AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook receiver on localhost: its URL and the bodies it got."""
    handler = type("Receiver", (_Receiver,), {"bodies": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", handler.bodies
    server.shutdown()
    server.server_close()


def _loyalty_registry() -> Registry:
    """The product's loyalty registrations, without the scores refresh."""
    product = job_registry()
    registry = Registry()
    for kind in (EXPIRE, EXPIRY_WARNINGS, WEBHOOKS):
        found = product.get(kind)
        assert found is not None, kind
        registry.register(
            kind, found.handler, schedule=found.schedule, max_attempts=found.max_attempts
        )
    return registry


def _due(engine: Engine) -> dict[str, datetime]:
    with Session(engine) as session:
        rows = session.execute(select(Job.kind, Job.due_at).where(Job.state == "pending"))
        return {str(kind): due for kind, due in rows}


def test_expiry_warnings_and_delivery_on_schedule(
    store_engine: Engine, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    """100 points earned on 1 January 12:00 UTC expire 10 days later. In Berlin (CET,
    UTC+1) the expiry runs at 02:00 = 01:00 UTC, the warnings at 04:00 = 03:00 UTC, the
    deliveries every 5 minutes on the UTC grid."""
    url, bodies = receiver
    with Session(store_engine, expire_on_commit=False) as session:
        make_program(session, config={"pending_days": 0, "expiry_days": 10})
        add_endpoint(session, url)
        on_order_recorded(session, add_order(session, "A1", "ann", "100.00", at=EARNED_AT))
        session.commit()
    clock = Clock(datetime(2026, 1, 1, 13, 2, tzinfo=UTC))
    worker = Worker(store_engine, _loyalty_registry(), settings=BERLIN, clock=clock)
    assert worker.schedule_recurring() == 3
    assert _due(store_engine) == {
        EXPIRE: datetime(2026, 1, 2, 1, 0, tzinfo=UTC),
        EXPIRY_WARNINGS: datetime(2026, 1, 2, 3, 0, tzinfo=UTC),
        WEBHOOKS: datetime(2026, 1, 1, 13, 5, tzinfo=UTC),
    }
    assert worker.schedule_recurring() == 0  # idempotent by due time

    clock.now = datetime(2026, 1, 2, 3, 1, tzinfo=UTC)
    results = {o.job.kind: (o.status, o.result) for o in worker.run_due()}
    assert results == {
        WEBHOOKS: ("done", {"delivered": 0, "retrying": 0, "failed": 0}),
        EXPIRE: ("done", {"points_expired": 0}),
        EXPIRY_WARNINGS: ("done", {"lots_expiring": 1}),
    }
    assert _due(store_engine)[WEBHOOKS] == datetime(2026, 1, 2, 3, 5, tzinfo=UTC)

    clock.now = datetime(2026, 1, 2, 3, 5, tzinfo=UTC)
    [delivery] = worker.run_due()
    assert delivery.result == {"delivered": 1, "retrying": 0, "failed": 0}
    assert [(b["kind"], b["data"]["points"]) for b in bodies] == [("points_expiring", 100)]

    clock.now = datetime(2026, 1, 11, 12, 30, tzinfo=UTC)  # past the lot's expiry
    outcomes = {o.job.kind: o.result for o in worker.run_due()}
    assert outcomes[EXPIRE] == {"points_expired": 100}
    assert outcomes[EXPIRY_WARNINGS] == {"lots_expiring": 0}
    with Session(store_engine) as session:
        assert session.scalars(select(LoyaltyAccount.balance)).one() == 0
        assert session.scalars(select(LoyaltyDelivery.state)).all() == ["delivered"]
        check_ledger(session)
    assert len(bodies) == 1  # never re-sent


def test_regulars_worker_once_runs_a_due_loyalty_job(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        make_program(session, config={"pending_days": 0, "expiry_days": 1})
        on_order_recorded(
            session, add_order(session, "A1", "ann", "25.00", at=utcnow() - timedelta(days=2))
        )
        enqueue(session, EXPIRE, utcnow() - timedelta(minutes=1))
    engine.dispose()
    result = CliRunner().invoke(app, ["worker", "--once", "--url", url])
    assert result.exit_code == 0, result.output
    assert "loyalty.expire done" in result.stdout
    engine = make_engine(url)
    with Session(engine) as session:
        assert session.scalars(select(LoyaltyAccount.balance)).one() == 0
    engine.dispose()
