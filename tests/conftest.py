"""Fixtures shared by the whole suite.

PostgreSQL is real: the machine's server when ``RECONCILE_TEST_DSN`` is set (CI sets it),
otherwise an embedded server started once for the session. Each test that asks for
``pg_dsn`` gets a database of its own, dropped afterwards, so the fixed ``reconcile``
log schema never collides between tests.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from support import pg

# Property tests state their property in the docstring and run at least 100 examples.
settings.register_profile(
    "reconcile", max_examples=100, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reconcile"))


@pytest.fixture(scope="session")
def pg_admin_dsn():
    dsn, handle = pg.server_dsn()
    yield dsn
    del handle  # the embedded server stops at exit (cleanup_mode="stop")


@pytest.fixture
def pg_dsn(pg_admin_dsn):
    """A fresh, empty database on the test server, dropped after the test."""
    dsn = pg.create_database(pg_admin_dsn)
    yield dsn
    pg.drop_database(pg_admin_dsn, dsn)


@pytest.fixture
def buyers_dsn(pg_dsn):
    """A fresh database holding the sample public.buyers, seeded stale (buyer 6666 out of date)."""
    import psycopg

    from engine.resources import read_text

    with psycopg.connect(pg_dsn) as conn:
        conn.execute(read_text("sql", "buyers.sql"))
        conn.execute(read_text("examples", "seed_buyers.sql"))
    return pg_dsn
