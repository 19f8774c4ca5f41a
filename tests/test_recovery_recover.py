"""`reconcile recover` through the real engine: backup first, P4 idempotence, exact rollback,
backup failure, partial recovery. The sheet is a CSV in tmp_path; the table is tiny."""
from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from hypothesis import given
from psycopg import sql

from engine import api, recovery
from engine.errors import ReconcileError
from support.engine_world import fetch, load_table, rules_for, worlds, write_sheet

pytestmark = [pytest.mark.integration]


def rows_text(dsn: str) -> list[str]:
    """Every column of every row as PostgreSQL prints it: equality here is byte for byte."""
    return [r[0] for r in fetch(dsn, "SELECT t::text FROM world t ORDER BY k")]


def row(k, note="", owner="", amount="1", due="2024-01-31"):
    """A sheet row; amount and due are readable and equal to trow's defaults."""
    return {"k": k, "note": note, "owner": owner, "amount": amount, "due": due}


def trow(k, note=None, owner=None, amount=Decimal("1.00"), due="2024-01-31"):
    return {"k": k, "note": note, "owner": owner, "amount": amount, "due": due}


@pytest.fixture
def sheet_path(tmp_path: Path) -> Path:
    return tmp_path / "sheet.csv"


@pytest.mark.slow
@given(world=worlds)
def test_p4_recovery_idempotence_and_exact_rollback(pg_dsn, sheet_path, world):
    """P4: recover --all-inconsistent repairs every existing record; applied twice it leaves the
    state recover applied once left, and the second writes nothing and takes no backup; rolling
    back the first recovery's backup restores every row exactly as PostgreSQL printed it before (every column, byte for byte)."""
    load_table(pg_dsn, world.table)
    rules = rules_for(write_sheet(sheet_path, world.sheet))
    before = rows_text(pg_dsn)
    first = recovery.recover(rules, dsn=pg_dsn, all_inconsistent=True)
    once = rows_text(pg_dsn)
    # (an unreadable cell is a failure of its record, but never a planned change)
    assert api.plan(rules, dsn=pg_dsn).changed_rows == 0, "the first recover repaired every existing record"
    second = recovery.recover(rules, dsn=pg_dsn, all_inconsistent=True)
    assert rows_text(pg_dsn) == once
    assert (second.written, second.backup_id, second.success_count) == (0, None, 0)
    assert (first.backup_id is None) == (first.written == 0)
    if first.backup_id:
        undone = recovery.rollback(first.backup_id, dsn=pg_dsn)
        assert undone.conflicts == () and undone.restored == first.written
    assert rows_text(pg_dsn) == before


def test_backup_is_written_and_logged(pg_dsn, sheet_path):
    """recover --key K1: the old values are in reconcile.backups under the logged backup id,
    tied to the recover run; other records are untouched; new sheet rows are not inserted."""
    load_table(pg_dsn, [trow("K1", note="old", owner="X"), trow("K2", note="keep")])
    rules = rules_for(write_sheet(sheet_path, [row("K1", note="new", owner="X"), row("K2", note="other"),
                                               row("K9", note="brand new")]))
    result = recovery.recover(rules, dsn=pg_dsn, keys=["K1"])
    assert (result.written, result.success_count, result.failure_count, result.exit_code) == (1, 1, 0, 0)
    backups = fetch(pg_dsn, "SELECT record_key, field_name, value, new_value, table_name, key_field, run_id "
                            "FROM reconcile.backups WHERE backup_id = %s", [result.backup_id])
    assert backups == [("K1", "note", "old", "new", "world", "k", result.run_ids[0])]
    assert fetch(pg_dsn, "SELECT k, note FROM world ORDER BY k") == [("K1", "new"), ("K2", "keep")]
    logs = fetch(pg_dsn, "SELECT record_keys, field_names, backup_id::text, success_count, failure_count "
                         "FROM reconcile.data_recovery_logs")
    assert logs == [(["K1"], ["note", "owner", "amount", "due"], result.backup_id, 1, 0)]
    assert fetch(pg_dsn, "SELECT command FROM reconcile.runs") == [("recover",)]


def test_recover_needs_keys_or_all(pg_dsn, sheet_path):
    rules = rules_for(write_sheet(sheet_path, []))
    with pytest.raises(ReconcileError, match="--all-inconsistent") as err:
        recovery.recover(rules, dsn=pg_dsn)
    assert err.value.exit_code == 2


def test_partial_recovery_logs_failures_and_completes_the_rest(pg_dsn, sheet_path):
    """K2's owner violates a CHECK constraint: the engine's one transaction fails, so recover
    repairs record by record; K1 and K3 are written, K2 is logged as a failure, and a rollback
    of the backup touches only what was written."""
    table = [trow("K1", note="a"), trow("K2", note="b"), trow("K3", note="c")]
    load_table(pg_dsn, table)
    before = rows_text(pg_dsn)
    rules = rules_for(write_sheet(sheet_path, [row("K1", note="A"), row("K2", note="B", owner="FORBIDDEN"),
                                               row("K3", note="C")]))
    result = recovery.recover(rules, dsn=pg_dsn, all_inconsistent=True)
    assert result.retried_per_record
    assert (result.success_count, result.failure_count, result.exit_code) == (2, 1, 1)
    assert [(f.record_key, f.kind) for f in result.failures] == [("K2", "error")]
    assert fetch(pg_dsn, "SELECT k, note FROM world ORDER BY k") == [("K1", "A"), ("K2", "b"), ("K3", "C")]
    logged = fetch(pg_dsn, "SELECT success_count, failure_count, failures -> 0 ->> 'record_key', "
                           "record_keys FROM reconcile.data_recovery_logs")
    assert logged == [(2, 1, "K2", ["K1", "K2", "K3"])]
    assert fetch(pg_dsn, "SELECT DISTINCT record_key FROM reconcile.backups ORDER BY 1") == [("K1",), ("K3",)]
    undone = recovery.rollback(result.backup_id, dsn=pg_dsn)
    assert undone.conflicts == () and rows_text(pg_dsn) == before


@pytest.fixture
def restricted_role(pg_dsn):
    """A role that may do everything a recover needs except INSERT into reconcile.backups."""
    name = f"rc_nobackup_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_backup_failure_aborts_with_nothing_written(pg_dsn, sheet_path, restricted_role):
    """Without INSERT on reconcile.backups the recover fails (exit 1) before any data write."""
    load_table(pg_dsn, [trow("K1", note="old")])
    rules = rules_for(write_sheet(sheet_path, [row("K1", note="old")]))
    recovery.recover(rules, dsn=pg_dsn, keys=["K1"])  # consistent: creates the log schema, writes nothing
    role = sql.Identifier(restricted_role)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for stmt in ("GRANT USAGE, CREATE ON SCHEMA reconcile TO {r}",
                     "GRANT ALL ON ALL TABLES IN SCHEMA reconcile TO {r}",
                     "GRANT ALL ON ALL SEQUENCES IN SCHEMA reconcile TO {r}",
                     "GRANT ALL ON world TO {r}",
                     "REVOKE INSERT ON reconcile.backups FROM {r}"):
            conn.execute(sql.SQL(stmt).format(r=role))
    write_sheet(sheet_path, [row("K1", note="new")])
    before = rows_text(pg_dsn)
    dsn = psycopg.conninfo.make_conninfo(pg_dsn, user=restricted_role)
    with pytest.raises(recovery.BackupFailed) as err:
        recovery.recover(rules, dsn=dsn, keys=["K1"])
    assert err.value.exit_code == 1 and "reconcile.backups" in str(err.value)
    assert rows_text(pg_dsn) == before
    assert fetch(pg_dsn, "SELECT count(*) FROM reconcile.backups") == [(0,)]
    assert fetch(pg_dsn, "SELECT count(*) FROM reconcile.field_sync_logs WHERE success") == [(0,)]
