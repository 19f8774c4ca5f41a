"""The log schema: migrations once each, concurrent-safe; runs, field logs, field stats, failures."""
from __future__ import annotations

import threading

import psycopg
import pytest

from engine import runlog, target
from engine.errors import DatabaseError
from engine.resources import migrations
from engine.results import FieldCounts
from support import tables

LATEST = max(v for v, _, _ in migrations())


def test_ensure_schema_applies_every_migration_once(pg_dsn):
    with target.connect(pg_dsn) as conn:
        assert runlog.schema_version(conn) is None
        assert runlog.ensure_schema(conn) == LATEST
        assert runlog.ensure_schema(conn) == LATEST
        rows = conn.execute("SELECT version, name FROM reconcile.schema_migrations ORDER BY version").fetchall()
        assert runlog.schema_version(conn) == LATEST
    assert rows == [(v, n) for v, n, _ in migrations()]
    assert tables.fetch(pg_dsn, "SELECT to_regclass('reconcile.runs') IS NOT NULL, "
                                "to_regclass('reconcile.field_stats') IS NOT NULL")[0] == (True, True)


def test_ensure_schema_after_tables_made_without_the_record(pg_dsn):
    """Tables created by running the migration files directly (monitor.ensure_tables does) are adopted."""
    with psycopg.connect(pg_dsn) as conn:
        for _, _, text in migrations():
            conn.execute(text)
        conn.execute("DELETE FROM reconcile.schema_migrations")
    with target.connect(pg_dsn) as conn:
        assert runlog.ensure_schema(conn) == LATEST
        assert conn.execute("SELECT count(*) FROM reconcile.schema_migrations").fetchone()[0] == len(migrations())


def test_ensure_schema_concurrent(pg_dsn):
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            with target.connect(pg_dsn) as conn:
                barrier.wait()
                runlog.ensure_schema(conn)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert tables.fetch(pg_dsn, "SELECT count(*), count(DISTINCT version) FROM reconcile.schema_migrations")[0] == (
        len(migrations()), len(migrations()))


@pytest.fixture
def logdb(pg_dsn):
    with target.connect(pg_dsn) as conn:
        runlog.ensure_schema(conn)
        conn.commit()
    return pg_dsn


def test_run_lifecycle_and_logs(logdb):
    rules = tables.rules()
    with target.connect(logdb) as conn:
        run_id = runlog.start_run(conn, rules, command="run", selectors={"fields": ["note"], "keys": []})
        # start_run committed on its own: another connection sees the running run
        assert tables.fetch(logdb, "SELECT status, selectors FROM reconcile.runs WHERE id = %s", [run_id]) == [
            ("running", {"fields": ["note"], "keys": []})]
        n = runlog.log_field_events(conn, run_id, rules.name, [
            ("1", "note", True, None, "", None, "write", 2),
            ("2", "note", False, "", None, "invalid: 'x'", "invalid", 3),
            (None, "amount", False, None, None, "column missing", "error", None)])
        runlog.write_field_stats(conn, run_id, rules.name, [FieldCounts("note", compared=2, differing=2, written=1,
                                                                        invalid=1), FieldCounts("amount", errors=1,
                                                                                                error="missing")])
        runlog.finish_run(conn, run_id, "partial", {"written": 1}, "field 'amount' skipped")
        conn.commit()
    assert n == 3
    assert tables.fetch(logdb, "SELECT record_key, field_name, success, old_value, new_value, error_message, kind, "
                               "sheet_row FROM reconcile.field_sync_logs ORDER BY id") == [
        ("1", "note", True, None, "", None, "write", 2),
        ("2", "note", False, "", None, "invalid: 'x'", "invalid", 3),
        ("*", "amount", False, None, None, "column missing", "error", None)]
    assert tables.fetch(logdb, "SELECT field_name, compared, differing, written, conflicts, invalid, errors, error "
                               "FROM reconcile.field_stats ORDER BY field_name") == [
        ("amount", 0, 0, 0, 0, 0, 1, "missing"), ("note", 2, 2, 1, 0, 1, 0, None)]
    assert tables.fetch(logdb, "SELECT status, counts, error, finished_at IS NOT NULL FROM reconcile.runs") == [
        ("partial", {"written": 1}, "field 'amount' skipped", True)]


def test_log_failure_uses_its_own_transaction(logdb):
    rules = tables.rules()
    with target.connect(logdb) as conn:
        run_id = runlog.start_run(conn, rules, selectors={})
        runlog.log_field_events(conn, run_id, rules.name, [("1", "note", True, "a", "b", None, "write", 1)])
        conn.rollback()  # the data transaction failed
    runlog.log_failure(logdb, run_id, rules.name, [("7", "note", "check violation"), (None, None, "boom")],
                       [FieldCounts("note", errors=1, error="check violation"), FieldCounts("amount")])
    assert tables.fetch(logdb, "SELECT record_key, field_name, success, error_message, kind "
                               "FROM reconcile.field_sync_logs ORDER BY id") == [
        ("7", "note", False, "check violation", "error"), ("*", "*", False, "boom", "error")]
    assert tables.fetch(logdb, "SELECT field_name, errors FROM reconcile.field_stats ORDER BY 1") == [
        ("amount", 0), ("note", 1)]
    assert tables.fetch(logdb, "SELECT status, error FROM reconcile.runs") == [("failed", "check violation\nboom")]


def test_log_failure_that_cannot_log_names_the_original_error(logdb):
    with pytest.raises(DatabaseError) as info:
        runlog.log_failure(logdb, 424242, "items", [(None, None, "the original failure")], [])
    assert "the failure was: the original failure" in info.value.message
    assert info.value.details["sqlstate"] == "23503"  # no such run
