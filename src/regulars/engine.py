"""Where analytics run: one Ibis connection, DuckDB in-process by default.

Analyses are written once as Ibis expressions; this module only decides which engine
executes them (DuckDB, PostgreSQL or Apache Spark) and how an Arrow table becomes an Ibis
table there. Every way of getting an engine wrong — an unknown name, an unreachable URL,
Spark without its extra or without Java — is a one-line :class:`RegularsError`.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
from typing import Any
from urllib.parse import urlsplit

import ibis
import pyarrow as pa

from regulars.errors import RegularsError

_names = itertools.count()

#: The engines ``--engine`` names.
ENGINES = ("duckdb", "postgres", "spark")
#: The URL schemes ``--engine-url`` may have for each.
_SCHEMES = {"duckdb": ("duckdb",), "postgres": ("postgres", "postgresql"), "spark": ("spark", "sc")}

SPARK_EXTRA = "Spark needs the spark extra: pip install 'regulars[spark]' (and Java 17)"
_LOCAL_MASTER = re.compile(r"local(\[(\*|\d+)\])?")
_HOW = (
    "use duckdb, postgres with postgresql://USER@HOST/DB, spark (local), "
    "spark://HOST:PORT or sc://HOST:PORT"
)


def connect(url: str | None = None) -> Any:
    """An Ibis backend for an engine name or URL.

    ``None`` or ``duckdb``: in-memory DuckDB; ``duckdb:///file.db``: a DuckDB file;
    ``postgres://…`` or ``postgresql://…``: PostgreSQL; ``spark``: Spark in local mode on
    every core; ``spark://local[4]``: local mode on 4 cores; ``spark://HOST:PORT``: a Spark
    standalone master; ``sc://HOST:PORT``: a Spark Connect server.
    """
    if url is None or url == "duckdb":
        return ibis.duckdb.connect()
    if url == "spark" or url.startswith(("spark://", "sc://")):
        return _connect_spark(url)
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme == "postgresql":
        url = "postgres" + url.removeprefix("postgresql")
    elif scheme not in ("postgres", "duckdb"):
        raise RegularsError(f"engine '{_shown(url)}' is not one this tool runs on; {_HOW}")
    try:
        return ibis.connect(url)
    except Exception as exc:  # the drivers' errors differ; the user needs one line
        raise RegularsError(
            f"cannot reach the engine at {_shown(url)}: {_first_line(exc)}"
        ) from None


def connect_engine(engine: str, url: str | None = None) -> Any:
    """The backend the CLI's ``--engine NAME`` and ``--engine-url URL`` name together."""
    if engine not in ENGINES:
        raise RegularsError(f"--engine: '{engine}' is not one of {', '.join(ENGINES)}")
    if url is None:
        if engine == "postgres":
            raise RegularsError("--engine postgres needs --engine-url postgresql://USER@HOST/DB")
        return connect(engine)
    if urlsplit(url).scheme not in _SCHEMES[engine]:
        schemes = " or ".join(f"{s}://" for s in _SCHEMES[engine])
        raise RegularsError(f"--engine-url: a {engine} URL starts with {schemes}")
    return connect(url)


def table_from_arrow(con: Any, table: pa.Table, name: str | None = None) -> ibis.Table:
    """Register an Arrow table on ``con`` as a temporary table and return it.

    Names are unique per process, so no ``overwrite`` (which Ibis 12 cannot combine
    with ``temp`` on DuckDB or PostgreSQL).
    """
    tmp_name = name or f"regulars_tmp_{next(_names)}"
    if con.name == "pyspark":
        # Ibis has no temporary tables on Spark; a temporary view over a DataFrame built
        # from Arrow (Spark 4 reads Arrow directly) is one, and lives with the session.
        con._session.createDataFrame(table).createOrReplaceTempView(tmp_name)
        return con.table(tmp_name)
    # Wrapping in a memtable sidesteps an Ibis 12 / sqlglot 30 bug: create_table on a raw
    # Arrow table emits "DROP VIEW IF EXISTS" without a name.
    return con.create_table(tmp_name, ibis.memtable(table), temp=True)


def _connect_spark(url: str) -> Any:
    """A Spark session for ``spark``, ``spark://local[N]``, ``spark://HOST:PORT`` or
    ``sc://HOST:PORT``, wrapped in Ibis's PySpark backend."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise RegularsError(SPARK_EXTRA) from None
    target = url.removeprefix("spark://") if url != "spark" else "local[*]"
    builder: Any = SparkSession.builder.appName("regulars")
    if url.startswith("sc://"):
        _require_reachable(url, default_port=15002)
        builder = builder.remote(url)
    elif _LOCAL_MASTER.fullmatch(target):
        builder = builder.master(target).config("spark.ui.enabled", "false")
    else:
        _require_reachable(url, default_port=7077)
        builder = builder.master(url)
    if not url.startswith("sc://"):
        # Warnings to the log, not the terminal; no progress bars over the CLI's own.
        builder = builder.config("spark.log.level", "ERROR")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # Py4J and Spark Connect raise their own types
        raise RegularsError(f"Spark did not start for {url}: {_spark_hint(exc)}") from None
    return ibis.pyspark.connect(session)


def _require_reachable(url: str, default_port: int) -> None:
    """Fail in seconds, in one line, when nothing listens at the URL's host and port
    (Spark itself would retry for a minute, then print a Java stack trace)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or default_port
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise RegularsError(f"cannot reach Spark at {url}: {exc.strerror or exc}") from None


def _spark_hint(exc: Exception) -> str:
    text = _first_line(exc)
    if "JAVA_GATEWAY_EXITED" in text or "JAVA_HOME" in text:
        java_home = os.environ.get("JAVA_HOME", "unset")
        return f"Java did not start (JAVA_HOME={java_home}); install Java 17, e.g. openjdk-17-jre"
    return text


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
