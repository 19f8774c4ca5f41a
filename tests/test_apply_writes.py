"""Compare-and-set writes: only planned fields and rows change, conflicts are logged, not written."""
from __future__ import annotations

import duckdb
import pytest

from engine import apply, runlog, target
from engine.errors import DatabaseError, MappingError
from engine.results import Change, FieldCounts
from support import tables

ROWS = [(1, "a", "x1", "1.00", 0.5, True, "2024-01-01", None, None, '{"a": 1}'),
        (2, "b", "x2", "2.00", None, False, None, None, None, None),
        (3, None, "", None, None, None, None, None, None, None)]
LOG_QUERY = ("SELECT record_key, field_name, success, old_value, new_value, error_message, kind, sheet_row "
             "FROM reconcile.field_sync_logs ORDER BY field_name, record_key, kind")


@pytest.fixture
def world(pg_dsn):
    """(dsn, conn, duck, info, run_id): the typed table, its snapshot in DuckDB and a started run."""
    tables.create(pg_dsn, rows=ROWS)
    duck = duckdb.connect()
    conn = target.connect(pg_dsn)
    runlog.ensure_schema(conn)
    run_id = runlog.start_run(conn, tables.rules(), selectors={})
    conn.commit()
    info = target.read_table_info(conn, tables.rules())
    target.snapshot_to_duckdb(conn, duck, info, tables.TYPED_FIELDS)
    conn.rollback()
    yield pg_dsn, conn, duck, info, run_id
    conn.close()


def _apply(conn, duck, info, run_id, fields=tables.TYPED_FIELDS) -> apply.ApplyResult:
    with conn.transaction():
        return apply.apply_changes(conn, duck, info, run_id=run_id, rule_name="items", fields=fields)


def _table(dsn):
    return tables.fetch(dsn, "SELECT id, note, code, amount::text, ok, doc::text FROM items ORDER BY id")


def test_updates_only_the_planned_fields_and_rows(world):
    dsn, conn, duck, info, run_id = world
    tables.plan_tables(duck, changes=[("1", "note", "a", "A", 2), ("3", "note", None, "", 4),
                                      ("2", "amount", "2.00", "2.5", 3), ("1", "doc", '{"a": 1}', None, 2),
                                      ("3", "code", "", None, 4)])
    result = _apply(conn, duck, info, run_id)
    assert result.updated == {"note": 2, "code": 1, "amount": 1, "doc": 1}
    assert result.written == {"note": 2, "code": 1, "amount": 1, "doc": 1}
    assert result.conflicts == () and result.inserted_rows == 0
    assert _table(dsn) == [(1, "A", "x1", "1.00", True, None), (2, "b", "x2", "2.50", False, None),
                           (3, "", None, None, None, None)]
    logs = tables.fetch(dsn, LOG_QUERY)
    assert sorted(logs) == sorted([
        ("2", "amount", True, "2.00", "2.5", None, "write", 3), ("3", "code", True, "", None, None, "write", 4),
        ("1", "doc", True, '{"a": 1}', None, None, "write", 2), ("1", "note", True, "a", "A", None, "write", 2),
        ("3", "note", True, None, "", None, "write", 4)])


def test_conflict_when_another_connection_changed_the_value(world):
    dsn, conn, duck, info, run_id = world
    tables.plan_tables(duck, changes=[("1", "note", "a", "A", 2), ("2", "note", "b", "B", 3),
                                      ("2", "code", "x2", "y2", 3)])
    with target.connect(dsn) as other:  # the application edits row 2 after our snapshot
        other.execute("UPDATE items SET note = 'edited' WHERE id = 2")
    result = _apply(conn, duck, info, run_id)
    assert result.updated == {"note": 1, "code": 1}
    assert result.conflicts == (Change("2", "note", "b", "B", 3),)
    assert result.conflicts_by_field == {"note": 1}
    assert tables.fetch(dsn, "SELECT id, note, code FROM items ORDER BY id") == [
        (1, "A", "x1"), (2, "edited", "y2"), (3, None, "")]
    assert ("2", "note", False, "b", "B", "conflict: value changed since snapshot", "conflict", 3) in \
        tables.fetch(dsn, LOG_QUERY)


def test_conflict_when_the_row_was_deleted(world):
    dsn, conn, duck, info, run_id = world
    tables.plan_tables(duck, changes=[("2", "note", "b", "B", 3)])
    with target.connect(dsn) as other:
        other.execute("DELETE FROM items WHERE id = 2")
    result = _apply(conn, duck, info, run_id)
    assert result.updated == {"note": 0} and [c.record_key for c in result.conflicts] == ["2"]
    assert [row[:3] + row[6:7] for row in tables.fetch(dsn, LOG_QUERY)] == [("2", "note", False, "conflict")]
    assert tables.fetch(dsn, "SELECT id FROM items ORDER BY id") == [(1,), (3,)], "the row is not brought back"


def test_inserts_new_rows_and_logs_each_field(world):
    dsn, conn, duck, info, run_id = world
    tables.plan_tables(duck, inserts=[("7", 9, "note", "new"), ("7", 9, "amount", "3.5"), ("7", 9, "code", ""),
                                      ("8", 10, "note", None), ("8", 10, "amount", "0"), ("8", 10, "code", "c")])
    result = _apply(conn, duck, info, run_id)
    assert result.inserted_rows == 2 and result.inserted == {"note": 2, "amount": 2, "code": 2}
    assert tables.fetch(dsn, "SELECT id, note, code, amount::text FROM items WHERE id > 3 ORDER BY id") == [
        (7, "new", "", "3.50"), (8, None, "c", "0.00")]
    logs = [r for r in tables.fetch(dsn, LOG_QUERY) if r[6] == "insert"]
    assert sorted(logs) == sorted([
        ("7", "amount", True, None, "3.5", None, "insert", 9), ("7", "code", True, None, "", None, "insert", 9),
        ("7", "note", True, None, "new", None, "insert", 9), ("8", "amount", True, None, "0", None, "insert", 10),
        ("8", "code", True, None, "c", None, "insert", 10), ("8", "note", True, None, None, None, "insert", 10)])


def test_rows_with_different_fields_keep_defaults_for_the_rest(pg_dsn):
    tables.create(pg_dsn, "CREATE TABLE {t} (id int PRIMARY KEY, a text DEFAULT 'dflt', b text NOT NULL DEFAULT 'b0')",
                  table="d")
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        runlog.ensure_schema(conn)
        run_id = runlog.start_run(conn, tables.rules("d", ("a", "b")), selectors={})
        info = target.read_table_info(conn, tables.rules("d", ("a", "b")))
        tables.plan_tables(duck, inserts=[("1", 1, "a", "x"), ("2", 2, "b", "y"), ("3", 3, "a", "p"),
                                          ("3", 3, "b", "q")])
        with conn.transaction():
            result = apply.apply_changes(conn, duck, info, run_id=run_id, rule_name="d", fields=("a", "b"))
    assert result.inserted_rows == 3 and result.written == {"a": 2, "b": 2}
    assert tables.fetch(pg_dsn, "SELECT * FROM d ORDER BY id") == [(1, "x", "b0"), (2, "dflt", "y"), (3, "p", "q")]


def test_concurrent_insert_of_the_same_key_is_a_conflict(world):
    dsn, conn, duck, info, run_id = world
    tables.plan_tables(duck, inserts=[("7", 9, "note", "ours"), ("8", 10, "note", "fine")])
    with target.connect(dsn) as other:
        other.execute("INSERT INTO items (id, note) VALUES (7, 'theirs')")
    result = _apply(conn, duck, info, run_id)
    assert result.inserted_rows == 1 and result.inserted == {"note": 1}
    assert result.conflicts == (Change("7", "note", None, "ours", 9, action="insert"),)
    assert tables.fetch(dsn, "SELECT id, note FROM items WHERE id > 3 ORDER BY id") == [(7, "theirs"), (8, "fine")]
    assert ("7", "note", False, None, "ours", "conflict: key inserted since snapshot", "conflict", 9) in \
        tables.fetch(dsn, LOG_QUERY)


def test_nothing_to_change_touches_nothing(world):
    dsn, conn, duck, info, run_id = world
    tables.create(dsn, "CREATE TABLE {t} (n int); INSERT INTO touches VALUES (0); "
                       "CREATE FUNCTION count_touch() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN UPDATE touches SET n = n + 1; RETURN NULL; END $$; "
                       "CREATE TRIGGER touch AFTER INSERT OR UPDATE OR DELETE ON items "
                       "FOR EACH STATEMENT EXECUTE FUNCTION count_touch()", table="touches")
    tables.plan_tables(duck)
    result = _apply(conn, duck, info, run_id)
    conn.commit()
    assert result == apply.ApplyResult()
    assert tables.fetch(dsn, "SELECT n FROM touches") == [(0,)]  # not even a statement that matched no row
    assert tables.fetch(dsn, "SELECT count(*) FROM reconcile.field_sync_logs") == [(0,)]


def test_failing_write_rolls_back_table_and_logs_then_log_failure_records_it(world):
    dsn, conn, duck, info, run_id = world
    before = _table(dsn)
    tables.plan_tables(duck, changes=[("1", "code", "x1", "ok", 2), ("2", "note", "b", "FORBIDDEN", 3)])
    with pytest.raises(DatabaseError) as info_err:
        _apply(conn, duck, info, run_id, fields=("code", "note"))
    conn.rollback()
    err = info_err.value
    assert err.details["field"] == "note" and err.details["sqlstate"] == "23514" and not err.transient
    assert _table(dsn) == before
    assert tables.fetch(dsn, "SELECT count(*) FROM reconcile.field_sync_logs") == [(0,)]
    runlog.log_failure(dsn, run_id, "items", [(None, err.details["field"], str(err))],
                       [FieldCounts("code"), FieldCounts("note", errors=1, error=str(err))])
    assert tables.fetch(dsn, "SELECT field_name, success, kind FROM reconcile.field_sync_logs") == [
        ("note", False, "error")]
    assert tables.fetch(dsn, "SELECT status FROM reconcile.runs WHERE id = %s", [run_id]) == [("failed",)]


def test_value_too_long_names_the_field(world):
    dsn, conn, duck, info, run_id = world
    tables.plan_tables(duck, changes=[("1", "code", "x1", "much too long", 2)])
    with pytest.raises(DatabaseError) as err:
        _apply(conn, duck, info, run_id)
    assert err.value.details == {**err.value.details, "field": "code", "sqlstate": "22001"}
    assert "field 'code'" in err.value.message


def test_a_value_refused_while_staged_is_traced_to_its_record(world):
    """varchar(5) refuses a long text while the staging COPY parses it, before any UPDATE or
    INSERT runs; after the rollback the probe finds the record from the line the COPY names,
    for an update (record 2) and for a new row (record 8), and writes nothing either time."""
    dsn, conn, duck, info, run_id = world
    tables.plan_tables(duck, changes=[("1", "code", "x1", "abc", 2), ("2", "code", "x2", "much too long", 3),
                                      ("3", "code", "", "xy", 4)])
    with pytest.raises(DatabaseError):
        _apply(conn, duck, info, run_id)
    conn.rollback()
    assert apply.failing_record(conn, duck, info, field_name="code") == "2"
    assert _table(dsn)[1][2] == "x2", "the probe writes nothing"
    tables.plan_tables(duck, inserts=[("7", 9, "code", "ok"), ("7", 9, "note", "n"), ("8", 10, "code", "far too long"),
                                      ("8", 10, "note", "n")])
    with pytest.raises(DatabaseError):
        _apply(conn, duck, info, run_id)
    conn.rollback()
    assert apply.failing_record(conn, duck, info, field_name=None, fields=("note", "code")) == "8"
    assert tables.fetch(dsn, "SELECT count(*) FROM items") == [(3,)]


def test_unknown_field_is_refused_before_writing(world):
    dsn, conn, duck, info, run_id = world
    tables.plan_tables(duck)
    with pytest.raises(MappingError):
        _apply(conn, duck, info, run_id, fields=("nope",))


def test_compare_and_set_uses_the_snapshot_text_of_every_type(world):
    """Snapshot texts of bool, float, date, jsonb and NULL match the row as it is: all written, no conflict."""
    dsn, conn, duck, info, run_id = world
    snap = dict(((k, f), v) for k, *vals in duck.execute("SELECT * FROM target").fetchall()
                for f, v in zip(tables.TYPED_FIELDS, vals))
    plan = [("1", "ok", "false"), ("1", "ratio", "0.25"), ("1", "due", "2025-12-31"), ("1", "doc", "[1]"),
            ("2", "ok", None), ("3", "seen", "2024-05-01 00:00:00+00")]
    tables.plan_tables(duck, changes=[(k, f, snap[(k, f)], new, 1) for k, f, new in plan])
    assert snap[("1", "ok")] == "true" and snap[("2", "ratio")] is None
    result = _apply(conn, duck, info, run_id)
    assert result.conflicts == () and sum(result.updated.values()) == len(plan)
    assert tables.fetch(dsn, "SELECT ok, ratio, due::text, doc::text FROM items WHERE id = 1") == [
        (False, 0.25, "2025-12-31", "[1]")]


def test_failing_insert_names_the_field(world):
    """A multi-column INSERT fails on a constraint (the catalog names its column) or on a value
    the staging COPY rejects (its column c<N> names the field)."""
    dsn, conn, duck, info, run_id = world
    tables.plan_tables(duck, inserts=[("7", 9, "note", "FORBIDDEN"), ("7", 9, "amount", "1")])
    with pytest.raises(DatabaseError) as err:
        _apply(conn, duck, info, run_id)
    conn.rollback()
    assert err.value.details["field"] == "note" and err.value.details["sqlstate"] == "23514"
    tables.plan_tables(duck, inserts=[("7", 9, "note", "x"), ("7", 9, "amount", "not a number")])
    with pytest.raises(DatabaseError) as err:
        _apply(conn, duck, info, run_id)
    conn.rollback()
    assert err.value.details["field"] == "amount" and err.value.details["sqlstate"] == "22P02"
    assert "field 'amount'" in err.value.message
    assert tables.fetch(dsn, "SELECT count(*) FROM items") == [(3,)]
