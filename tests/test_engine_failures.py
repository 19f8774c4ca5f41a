"""A run whose write the database refuses: rolled back, logged once against its field and record
(found by bisection after the rollback), and watched by the alerts.

The world table refuses owner 'FORBIDDEN' (a CHECK constraint), so the data transaction fails
after the plan was made; the failure is seen by the apply step and again by ``run``.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest

from engine import api
from engine.errors import DatabaseError, DataError, MappingError
from engine.rules.model import Monitoring, Notify
from support.engine_world import fetch, load_table, rules_for, table_state, write_sheet
from support.rules import file_rules
from support.webhook import webhook_receiver

pytestmark = [pytest.mark.integration]

NEW_ROWS_INSERTED = "policy: {new_rows: insert}\n"
TABLE = [{"k": "K1", "note": "old", "owner": None, "amount": None, "due": None},
         {"k": "K2", "note": "old", "owner": None, "amount": None, "due": None}]
SHEET = [{"k": "K1", "note": "new", "owner": "FORBIDDEN", "amount": "", "due": ""},
         {"k": "K2", "note": "new", "owner": "", "amount": "", "due": ""}]


def test_a_refused_write_is_rolled_back_and_logged_once(pg_dsn, tmp_path):
    load_table(pg_dsn, TABLE)
    before = table_state(pg_dsn)
    rules = rules_for(write_sheet(tmp_path / "sheet.csv", SHEET))
    with pytest.raises(DatabaseError) as info:
        api.run(rules, dsn=pg_dsn)
    assert info.value.details.get("field") == "owner" and info.value.details.get("record_key") == "K1"
    assert info.value.message.startswith("writing public.world: record 'K1', field 'owner': new row for relation")
    assert table_state(pg_dsn) == before, "note was written although the transaction failed"
    assert fetch(pg_dsn, "SELECT status FROM reconcile.runs") == [("failed",)]
    stats = fetch(pg_dsn, "SELECT field_name, errors FROM reconcile.field_stats ORDER BY field_name")
    assert [name for name, _ in stats] == ["amount", "due", "note", "owner"], "one row per field, once"
    assert dict(stats)["owner"] == 1
    errors = fetch(pg_dsn, "SELECT record_key, field_name FROM reconcile.field_sync_logs WHERE NOT success")
    assert errors == [("K1", "owner")], "the failure must be logged exactly once, against its field and record"
    assert fetch(pg_dsn, "SELECT count(*) FROM reconcile.field_sync_logs WHERE success") == [(0,)]


def test_alerts_are_evaluated_after_a_failed_run(pg_dsn, tmp_path):
    load_table(pg_dsn, TABLE)
    with webhook_receiver() as hook:
        rules = replace(rules_for(write_sheet(tmp_path / "sheet.csv", SHEET)),
                        monitoring=Monitoring(window=timedelta(hours=1), field_failure_rate=0.5,
                                              zero_compared=False, notify=(Notify(webhook=hook.url),)))
        with pytest.raises(DatabaseError):
            api.run(rules, dsn=pg_dsn)
        run_id = fetch(pg_dsn, "SELECT id FROM reconcile.runs")[0][0]
    assert [(b["kind"], b["field"], b["state"], b["run_id"]) for b in hook.bodies] == \
        [("failure_rate", "owner", "firing", run_id)]


def test_a_failed_run_is_one_failure_not_zero_compared_or_drift_alerts(pg_dsn, tmp_path):
    """A run that stops (here: a refused write) compared nothing and left everything different;
    that must not read as every field going silent, nor as a drift, only as a failure."""
    load_table(pg_dsn, TABLE)
    with webhook_receiver() as hook:
        rules = replace(rules_for(write_sheet(tmp_path / "sheet.csv", SHEET)),
                        monitoring=Monitoring(window=timedelta(hours=1), field_failure_rate=0.5,
                                              persistent_drift_runs=1, zero_compared=True,
                                              notify=(Notify(webhook=hook.url),)))
        with pytest.raises(DatabaseError):
            api.run(rules, dsn=pg_dsn)
    assert [(b["kind"], b["field"]) for b in hook.bodies] == [("failure_rate", "owner")]


def test_the_refused_record_is_found_among_many(pg_dsn, tmp_path):
    """One bad value among 300 writes of the field: the log names that record, nothing is written."""
    keys = [f"K{i:03d}" for i in range(300)]
    load_table(pg_dsn, [{"k": k, "note": None, "owner": None, "amount": None, "due": None} for k in keys])
    before = table_state(pg_dsn)
    sheet = [{"k": k, "note": "", "owner": "FORBIDDEN" if k == "K187" else f"owner {k}", "amount": "", "due": ""}
             for k in keys]
    with pytest.raises(DatabaseError) as info:
        api.run(rules_for(write_sheet(tmp_path / "sheet.csv", sheet)), dsn=pg_dsn)
    assert info.value.details["record_key"] == "K187"
    assert table_state(pg_dsn) == before
    assert fetch(pg_dsn, "SELECT record_key, field_name FROM reconcile.field_sync_logs WHERE NOT success") == \
        [("K187", "owner")]


def test_a_refused_new_row_is_logged_against_its_record(pg_dsn, tmp_path):
    """new_rows: insert, and one of 40 new rows breaks the CHECK: the insert is rolled back whole
    and the log names the field and the new record (found by inserting the new rows by halves)."""
    load_table(pg_dsn, TABLE)
    before = table_state(pg_dsn)
    new = [{"k": f"N{i:02d}", "note": "n", "owner": "FORBIDDEN" if i == 29 else f"o{i}", "amount": "1", "due": ""}
           for i in range(40)]
    rules = rules_for(write_sheet(tmp_path / "sheet.csv", [SHEET[1], *new]), new_rows="insert")
    with pytest.raises(DatabaseError) as info:
        api.run(rules, dsn=pg_dsn)
    assert info.value.details.get("field") == "owner" and info.value.details.get("record_key") == "N29"
    assert info.value.message.startswith("inserting new rows into public.world: record 'N29', field 'owner': ")
    assert table_state(pg_dsn) == before
    assert fetch(pg_dsn, "SELECT record_key, field_name FROM reconcile.field_sync_logs WHERE NOT success") == \
        [("N29", "owner")]


def test_a_missing_table_fails_the_plan_while_the_sheet_waits_for_its_catalog(pg_dsn, tmp_path):
    """The snapshot thread hands the catalog to the sheet's keys pass; when reading it fails,
    that error (not a hang, not a secondary one) is what the plan raises."""
    load_table(pg_dsn, TABLE)
    rules = rules_for(write_sheet(tmp_path / "sheet.csv", SHEET))
    missing = replace(rules, target=replace(rules.target, table="world_gone"))
    with pytest.raises(MappingError) as info:
        api.plan(missing, dsn=pg_dsn)
    assert "world_gone" in info.value.message


def test_duplicate_keys_in_a_table_without_a_unique_index_stop_the_run_before_any_write(pg_dsn, tmp_path):
    """Keys are checked before the diff, now beside the sheet's read: RC201, nothing written."""
    load_table(pg_dsn, TABLE)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("ALTER TABLE world DROP CONSTRAINT world_pkey")
        conn.execute("INSERT INTO world (k, note) VALUES ('K1', 'twin')")
    before = table_state(pg_dsn)
    with pytest.raises(DataError) as info:
        api.run(rules_for(write_sheet(tmp_path / "sheet.csv", SHEET)), dsn=pg_dsn)
    assert info.value.code == "RC201" and "'K1'" in info.value.message
    assert table_state(pg_dsn) == before


def test_a_sheet_that_fails_cancels_the_table_snapshot_instead_of_waiting_for_it(pg_dsn, tmp_path):
    """The table is locked, so its snapshot (in the background) waits on the lock. A sheet that
    lacks its key column must still fail as soon as it is read: the snapshot is cancelled,
    not waited out (before, the plan returned only once the lock was released)."""
    load_table(pg_dsn, TABLE)
    rules = rules_for(write_sheet(tmp_path / "sheet.csv", SHEET, drop="k"))
    raised: list[BaseException] = []

    def plan() -> None:
        try:
            api.plan(rules, dsn=pg_dsn)
        except BaseException as exc:  # handed to the test's thread
            raised.append(exc)

    with psycopg.connect(pg_dsn) as locker:
        locker.execute("LOCK TABLE world IN ACCESS EXCLUSIVE MODE")
        worker = threading.Thread(target=plan, daemon=True)
        worker.start()
        worker.join(60)
        finished_while_locked = not worker.is_alive()
        with psycopg.connect(pg_dsn, autocommit=True) as watcher:
            left = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'reconcile' "
                                   "AND datname = current_database()").fetchone()[0]
        locker.rollback()
    worker.join(60)
    assert finished_while_locked, "the failed sheet waited for the locked table's snapshot"
    assert left == 0, "the snapshot's connection was left open"
    assert len(raised) == 1 and isinstance(raised[0], MappingError)
    assert "key column" in raised[0].message


@pytest.mark.parametrize("unexpected, logged", [
    (RuntimeError("a bug at postgresql://app:s3cret@db/x"),
     "internal error: RuntimeError: a bug at postgresql://app:***@db/x"),
    (KeyboardInterrupt(), "interrupted"),
])
def test_a_run_ended_by_an_unexpected_exception_is_failed_not_left_running(pg_dsn, tmp_path, unexpected, logged):
    """A bug, or Ctrl-C, between the plan and the write: the exception reaches the caller as it
    was, nothing is written, and the run's record says failed, with why and every field's
    stats (it would otherwise stay `running` for ever, and monitoring would never see it)."""
    load_table(pg_dsn, TABLE)
    before = table_state(pg_dsn)

    def crash(session: api.Session) -> None:
        raise unexpected

    rules = rules_for(write_sheet(tmp_path / "sheet.csv", [{**row, "owner": ""} for row in SHEET]))
    with pytest.raises(type(unexpected)):
        api.run(rules, dsn=pg_dsn, before_apply=crash)
    assert table_state(pg_dsn) == before
    assert fetch(pg_dsn, "SELECT status, error FROM reconcile.runs") == [("failed", logged)]
    assert fetch(pg_dsn, "SELECT field_name, errors FROM reconcile.field_stats ORDER BY field_name") == \
        [("amount", 1), ("due", 1), ("note", 1), ("owner", 1)]
    assert fetch(pg_dsn, "SELECT success, error_message FROM reconcile.field_sync_logs") == [(False, logged)]


def test_a_new_rows_key_the_key_column_refuses_names_the_key_not_a_field(pg_dsn, tmp_path):
    """An enum key DuckDB cannot check: the insert stage's COPY refuses it ('column k'), and the
    error named the one field being inserted instead of the key."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TYPE public.code AS ENUM ('a1', 'b2')")
        conn.execute("CREATE TABLE public.small (id public.code PRIMARY KEY, x text)")
    rules = file_rules(tmp_path, "small", "id,x\na1,a\nzz,b\n", "  x: {column: x}\n", extra=NEW_ROWS_INSERTED)
    with pytest.raises(DatabaseError) as info:
        api.run(rules, dsn=pg_dsn)
    assert info.value.details.get("field") == "id", info.value
    assert "field 'id'" in info.value.message and "field 'x'" not in info.value.message
    assert fetch(pg_dsn, "SELECT count(*) FROM public.small") == [(0,)]


def test_an_integer_key_out_of_the_columns_range_is_an_unusable_key_not_a_failed_run(pg_dsn, tmp_path):
    """integer is INTEGER in DuckDB now, not BIGINT: a key the column cannot hold is reported
    (null_key, 'not a valid integer') and its row left out; the other rows are inserted."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE public.small (id integer PRIMARY KEY, x text)")
    rules = file_rules(tmp_path, "small", "id,x\n1,a\n99999999999,b\n", "  x: {column: x}\n", extra=NEW_ROWS_INSERTED)
    result = api.run(rules, dsn=pg_dsn)
    assert result.status == "succeeded" and result.inserted_rows == 1
    assert fetch(pg_dsn, "SELECT id, x FROM public.small") == [(1, "a")]
    unusable = [(d.status, d.message) for d in result.plan.differences if d.status == "null_key"]
    assert unusable == [("null_key", "key: type: '99999999999' is not a valid integer")], unusable


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), RuntimeError("a bug in the read-back")])
def test_a_run_stopped_after_its_writes_committed_is_partial_not_failed(pg_dsn, tmp_path, monkeypatch, stop):
    """The data transaction had committed; a Ctrl-C or a bug in the read-back made the record say
    failed, with written 0, for writes that are in the table (found in review)."""
    load_table(pg_dsn, TABLE)

    def stopped(*args, **kwargs):
        raise stop

    monkeypatch.setattr(api.apply_mod, "read_back", stopped)  # the fault, injected after the commit
    rules = rules_for(write_sheet(tmp_path / "sheet.csv", [{**row, "owner": ""} for row in SHEET]))
    with pytest.raises(type(stop)):
        api.run(rules, dsn=pg_dsn)
    assert fetch(pg_dsn, "SELECT note FROM world ORDER BY k") == [("new",), ("new",)], "the writes stay"
    (status, error, written), = fetch(pg_dsn, "SELECT status, error, (counts->>'written')::int FROM reconcile.runs")
    assert (status, written) == ("partial", 2)
    assert error.startswith("the writes were committed, then the run stopped before its read-back ended: ")
    assert fetch(pg_dsn, "SELECT sum(written) FROM reconcile.field_stats") == [(2,)]


def test_sigterm_stops_a_waiting_run_recorded_as_terminated_with_exit_143(pg_dsn, tmp_path):
    """A cron or CI timeout sends SIGTERM. The table is locked, so the run waits in its snapshot;
    SIGTERM stops it as Ctrl-C would: exit 143, nothing written, and the run recorded failed
    (before, the process died at once and its run stayed `running`)."""
    load_table(pg_dsn, TABLE)
    (tmp_path / "sheet.csv").write_text("番号,メモ\nK1,new\n", encoding="utf-8")
    rules = tmp_path / "world.yaml"
    rules.write_text("version: 1\nname: world\nsource: {type: file, path: sheet.csv}\n"
                     "target: {table: public.world}\nkey: {field: k, column: 番号}\nfields:\n  note: {column: メモ}\n",
                     encoding="utf-8")
    command = [sys.executable, "-c", "import sys; from engine.cli import entry; sys.argv[0] = 'reconcile'; entry()",
               "run", str(rules), "--dsn", pg_dsn]
    with psycopg.connect(pg_dsn) as locker:
        locker.execute("LOCK TABLE world IN ACCESS EXCLUSIVE MODE")
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            waiting = _wait_for(lambda: fetch(pg_dsn, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                                                      "'Lock' AND application_name = 'reconcile'")[0][0] > 0)
            assert waiting, "the run never reached the locked table"
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=60)
        finally:
            process.kill()
        locker.rollback()
    assert process.returncode == 143 and "terminated (SIGTERM)" in err, err
    assert fetch(pg_dsn, "SELECT status, error FROM reconcile.runs") == [("failed", "terminated (SIGTERM)")]
    assert fetch(pg_dsn, "SELECT note FROM world ORDER BY k") == [("old",), ("old",)]


def _wait_for(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
