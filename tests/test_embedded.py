"""`dsn: embedded`: the bundled server under $RECONCILE_HOME/pg, a `reconcile` database, stopped at exit."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from engine import embedded, target

pytestmark = pytest.mark.integration


def test_connect_embedded_creates_database_keeps_data_and_stops_at_exit(tmp_path, monkeypatch):
    home = tmp_path / "home"
    script = textwrap.dedent("""
        from engine import target
        with target.connect("embedded") as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('survives a restart')")
            print(conn.execute("SELECT current_database(), current_setting('TimeZone')").fetchone())
    """)
    env = {**os.environ, "RECONCILE_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "('reconcile', 'UTC')" in done.stdout
    pgdata = home / "pg"
    assert (pgdata / "PG_VERSION").exists()
    assert not (pgdata / "postmaster.pid").exists()  # the server stopped when the process exited

    monkeypatch.setenv("RECONCILE_HOME", str(home))
    try:
        with target.connect("embedded") as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("survives a restart",)]
    finally:
        embedded.stop()
    assert not (pgdata / "postmaster.pid").exists()
