"""A ready-to-serve demo store: the demo shop (``regulars.data.demo``) in a SQLite file.

``prepare_demo_store(path, seed=…, transactions=…)`` generates the demo shop (clean Parquet
files: orders, their lines and the customer profiles), migrates a new SQLite database and
loads the shop with :func:`regulars.store.ingest.ingest` — which has no side effects: no
points, no messages. Then it scores every customer once
(:func:`regulars.scoring.refresh.refresh_scores` as of the day after the demo's last order, so the
models fit on the whole history and the Customer 360 shows scores; the same refresh computes the
dashboard snapshot, so the dashboard is full at the first start) and creates the points
program :data:`DEMO_PROGRAM` (running from the build on: orders posted to the API earn; the
imported history earned nothing). A marker file ``<path>.demo.json`` records what was
built (contents, seed, size, schema revision, regulars version); the next call with the
same arguments reuses the file as it is, so the second ``regulars serve --demo`` does not
build or score anything.

The database is built under a temporary name and renamed into place only when complete, so
an interrupted build never leaves a half-loaded store that would later be reused.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from regulars import __version__
from regulars.config import Settings
from regulars.store.migrate import head_revision, upgrade
from regulars.store.session import make_engine

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from regulars.store.ingest import IngestCounts

DEFAULT_DEMO_DB = Path("out/demo/regulars-demo.db")
DEFAULT_DEMO_TRANSACTIONS = 10_000
"""Smaller than ``regulars demo``'s 30 000 so the first start (build and scores) takes
seconds; later starts reuse the store (docs/api.md, ``regulars serve --demo``)."""
DEFAULT_DEMO_SEED = 7
DEMO_PROGRAM = "demo-points"
DEMO_PROGRAM_CONFIG = {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 14}
"""One point per currency unit, worth 0.01, spendable after the 14-day returns window."""
CONTENTS = ("orders", "scores", "dashboard", DEMO_PROGRAM)
"""What a build puts in (part of the marker: a store built before scores were added is rebuilt)."""


@dataclass(frozen=True)
class DemoStore:
    """A demo database ready to serve; ``counts`` is ``None`` when it was reused."""

    path: Path
    url: str
    reused: bool
    counts: IngestCounts | None


def demo_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def prepare_demo_store(
    path: Path = DEFAULT_DEMO_DB,
    *,
    seed: int = DEFAULT_DEMO_SEED,
    transactions: int = DEFAULT_DEMO_TRANSACTIONS,
) -> DemoStore:
    """Build the demo store at ``path``, or reuse it if it was built with the same arguments."""
    path = Path(path)
    wanted = _marker(seed, transactions)
    marker = _marker_path(path)
    if path.exists() and marker.exists() and _read_marker(marker) == wanted:
        return DemoStore(path, demo_url(path), reused=True, counts=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    building = path.with_name(path.name + ".building")
    _remove_database(building)
    counts = _build(building, seed, transactions)
    _remove_database(path)
    os.replace(building, path)
    marker.write_text(json.dumps(wanted, sort_keys=True) + "\n", encoding="utf-8")
    return DemoStore(path, demo_url(path), reused=False, counts=counts)


def _build(path: Path, seed: int, transactions: int) -> IngestCounts:
    # Imported here: a reused store (the usual start) needs neither the generator nor the
    # importer, and loading them would double the start-up time.
    import pyarrow.parquet as pq

    from regulars.data.demo import generate_demo
    from regulars.data.importers import read_orders
    from regulars.store.ingest import ingest

    with tempfile.TemporaryDirectory(prefix="regulars-demo-") as folder:
        shop = generate_demo(Path(folder), n_transactions=transactions, seed=seed, fmt="parquet")
        result = dataclasses.replace(
            read_orders([shop.orders]),
            order_lines=pq.read_table(shop.order_lines),
            customers=pq.read_table(shop.customers),
        )
        engine = make_engine(demo_url(path))
        try:
            upgrade(engine)
            counts = ingest(engine, result)
            _score_and_add_program(engine)
            return counts
        finally:
            engine.dispose()  # closes the last connection: SQLite folds the WAL back in


def _score_and_add_program(engine: Engine) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from regulars.clock import local_day
    from regulars.loyalty.catalogue import ProgramSpec, create_program
    from regulars.scoring.refresh import refresh_scores
    from regulars.store.session import session_scope
    from regulars.store.tables import Order

    with session_scope(engine) as session:
        last = session.scalar(select(func.max(Order.ordered_at)))
    if last is not None:
        settings = Settings()
        as_of = local_day(last, settings.timezone) + timedelta(days=1)
        refresh_scores(engine, settings=settings, as_of=as_of)
    with session_scope(engine) as session:
        spec = ProgramSpec(DEMO_PROGRAM, "Demo points", "points", dict(DEMO_PROGRAM_CONFIG))
        create_program(session, spec)


def _marker(seed: int, transactions: int) -> dict[str, object]:
    return {
        "contents": list(CONTENTS),
        "seed": seed,
        "transactions": transactions,
        "revision": head_revision(),
        "regulars": __version__,
    }


def _marker_path(path: Path) -> Path:
    return path.with_name(path.name + ".demo.json")


def _read_marker(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _remove_database(path: Path) -> None:
    """The SQLite file and its WAL companions."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        candidate.unlink(missing_ok=True)
