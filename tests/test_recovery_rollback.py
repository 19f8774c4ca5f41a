"""`reconcile rollback`: compare-and-set restore from a backup or a run's log, exact to the byte."""
from __future__ import annotations

import psycopg
import pytest

from engine import recovery
from engine.errors import ConfigurationError, UserError
from support.recovery import make_table, set_value, snapshot, write

pytestmark = pytest.mark.integration
ROWS = [
    (1, "  spaced ", "1.20", "2024-02-29", "2024-03-01 10:00:00.123456+00", '{"a": [1, 2]}', True),
    (2, None, None, None, None, None, None),
    (3, "田中\nline", "-0.50", "1999-12-31", "2000-01-01 00:00:00+09", '"x"', False),
]
NEW = {(1, "note"): "new", (1, "amount"): "99.9", (2, "due"): "2030-01-01", (2, "flags"): '{"b": null}',
       (3, "seen"): "2020-06-01 12:00:00+00", (3, "ok"): None, (2, "note"): "", (1, "ok"): "false"}


@pytest.fixture
def table(pg_dsn):
    make_table(pg_dsn, ROWS)
    return pg_dsn


def test_rollback_backup_restores_every_byte(table):
    """Write 8 fields of 6 types, roll back the backup: the rows print exactly as before."""
    before = snapshot(table)
    _run, backup = write(table, NEW)
    assert snapshot(table) != before
    result = recovery.rollback(backup, dsn=table)
    assert (result.restored, result.conflicts, result.exit_code) == (len(NEW), (), 0)
    assert snapshot(table) == before


def test_rollback_by_run_and_rollback_of_the_rollback(table):
    """--run uses the run's logged old values; the rollback is a run with its own backup, so
    rolling it back (by backup, then by run) returns to the written state each time."""
    before = snapshot(table)
    run_id, _backup = write(table, NEW)
    written = snapshot(table)
    first = recovery.rollback(run_id=run_id, dsn=table)
    assert snapshot(table) == before and first.restored == len(NEW)
    second = recovery.rollback(first.backup_id, dsn=table)
    assert snapshot(table) == written and second.restored == len(NEW)
    third = recovery.rollback(run_id=second.run_id, dsn=table)
    assert snapshot(table) == before and third.restored == len(NEW)
    with psycopg.connect(table) as conn:
        runs = conn.execute("SELECT command, status FROM reconcile.runs ORDER BY id").fetchall()
        logged = conn.execute("SELECT count(*) FROM reconcile.field_sync_logs WHERE run_id = %s AND success",
                              [first.run_id]).fetchone()[0]
    assert runs == [("recover", "succeeded")] + [("rollback", "succeeded")] * 3
    assert logged == len(NEW)


def test_changed_value_is_a_conflict_unless_forced(table):
    """A field edited after the write is reported and left alone; --force restores it."""
    before = snapshot(table)
    _run, backup = write(table, NEW)
    set_value(table, 1, "note", "edited by a person")
    result = recovery.rollback(backup, dsn=table)
    assert [(c.record_key, c.field, c.current, c.expected) for c in result.conflicts] == \
        [("1", "note", "edited by a person", "new")]
    assert result.restored == len(NEW) - 1 and result.exit_code == 1
    with psycopg.connect(table) as conn:
        assert conn.execute("SELECT note FROM items WHERE id = 1").fetchone()[0] == "edited by a person"
        kinds = conn.execute("SELECT kind, success FROM reconcile.field_sync_logs WHERE run_id = %s "
                             "AND field_name = 'note' AND record_key = '1'", [result.run_id]).fetchall()
    assert kinds == [("conflict", False)]
    forced = recovery.rollback(backup, dsn=table, force=True)
    assert (forced.forced, forced.restored, forced.already, forced.conflicts) == (1, 1, len(NEW) - 1, ())
    assert snapshot(table) == before
    again = recovery.rollback(backup, dsn=table)
    assert (again.restored, again.already, again.conflicts, again.backup_id) == (0, len(NEW), (), None)


def test_numeric_written_as_short_text_still_matches(table):
    """The log may hold '99.9' while numeric(10,2) prints '99.90': compared through the type."""
    _run, backup = write(table, {(1, "amount"): "99.9"})
    assert recovery.rollback(backup, dsn=table).conflicts == ()


def test_deleted_row_is_a_conflict(table):
    _run, backup = write(table, {(2, "note"): "x"})
    with psycopg.connect(table) as conn:
        conn.execute("DELETE FROM items WHERE id = 2")
    result = recovery.rollback(backup, dsn=table)
    assert [c.reason for c in result.conflicts] == ["the row no longer exists"]


def test_run_without_backup_or_rule_file_names_no_table(table):
    """A plain run logs no table; without its rule file the rollback says so instead of guessing."""
    run_id, _backup = write(table, {(1, "note"): "x"}, command="run", backup=False)
    with pytest.raises(UserError, match="names no table"):
        recovery.rollback(run_id=run_id, dsn=table)


def test_unknown_backup_and_missing_dsn(table, monkeypatch):
    with pytest.raises(UserError, match="not found"):
        recovery.rollback("00000000-0000-0000-0000-000000000000", dsn=table)
    with pytest.raises(UserError, match="not a backup id"):
        recovery.rollback("nope", dsn=table)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        recovery.rollback("00000000-0000-0000-0000-000000000000")
