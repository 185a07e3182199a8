"""A store of its own for one benchmark run, removed afterwards.

On PostgreSQL a fresh schema (the benchmark's rows never mix with anything else in the
database, and ``DROP SCHEMA … CASCADE`` removes them in one statement); without a URL, or
with a SQLite one, a temporary SQLite file. The benchmark scripts import it as a sibling
module (Python puts a script's folder on ``sys.path``).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

from regulars.store.migrate import upgrade
from regulars.store.session import make_engine


@contextmanager
def scratch_schema(postgres_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty schema ``<prefix>_<random>`` (``search_path`` set in the
    URL, so a server process started with it works there too); dropped at the end."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def scratch_store(
    url: str | None, prefix: str = "bench", *, migrate: bool = True
) -> Iterator[Engine]:
    """An engine on a scratch store (see the module docstring), migrated to the head
    revision unless ``migrate`` is False."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/{prefix}.db")
            yield _ready(engine, migrate)
            engine.dispose()
        return
    with scratch_schema(url, prefix) as schema_url:
        engine = make_engine(schema_url)
        try:
            yield _ready(engine, migrate)
        finally:
            engine.dispose()


def _ready(engine: Engine, migrate: bool) -> Engine:
    if migrate:
        upgrade(engine)
    return engine
