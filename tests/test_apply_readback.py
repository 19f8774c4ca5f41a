"""Read-back after commit: a written field the table does not hold is reported."""
from __future__ import annotations

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import apply, runlog, target
from engine.results import Change
from support import tables


def _setup(dsn, ddl=tables.TYPED_DDL):
    tables.create(dsn, ddl, rows=[(1, "a", "x", "1.00", None, None, None, None, None, '{"b": 2, "a": 1}'),
                                  (2, "b", "y", "2.00", None, None, None, None, None, None)])
    duck = duckdb.connect()
    conn = target.connect(dsn)
    runlog.ensure_schema(conn)
    run_id = runlog.start_run(conn, tables.rules(), selectors={})
    info = target.read_table_info(conn, tables.rules())
    target.snapshot_to_duckdb(conn, duck, info, tables.TYPED_FIELDS)
    conn.commit()
    return conn, duck, info, run_id


def _apply_and_read_back(conn, duck, info, run_id):
    with conn.transaction():
        written = apply.apply_changes(conn, duck, info, run_id=run_id, rule_name="items", fields=tables.TYPED_FIELDS)
    mismatches = apply.read_back(conn, duck, info, written=written)
    conn.rollback()
    return written, mismatches


def test_read_back_is_clean_when_values_stick_typed(pg_dsn):
    conn, duck, info, run_id = _setup(pg_dsn)
    # '2.5' is stored as 2.50 and the jsonb keys are reordered: equal typed, so no mismatch.
    tables.plan_tables(duck, changes=[("1", "amount", "1.00", "2.5", 2), ("2", "doc", None, '{"z": 1,  "a": [1]}', 3),
                                      ("1", "note", "a", None, 2)],
                       inserts=[("9", 5, "note", "n"), ("9", 5, "amount", "7")])
    written, mismatches = _apply_and_read_back(conn, duck, info, run_id)
    assert written.written == {"amount": 2, "doc": 1, "note": 2}
    assert mismatches == []
    conn.close()


def test_read_back_reports_a_trigger_that_rewrites(pg_dsn):
    conn, duck, info, run_id = _setup(pg_dsn)
    with target.connect(pg_dsn) as other:
        other.execute("CREATE FUNCTION upper_note() RETURNS trigger LANGUAGE plpgsql AS "
                      "$$ BEGIN NEW.note := upper(NEW.note); RETURN NEW; END $$; "
                      "CREATE TRIGGER upper_note BEFORE INSERT OR UPDATE ON items "
                      "FOR EACH ROW EXECUTE FUNCTION upper_note()")
    tables.plan_tables(duck, changes=[("1", "note", "a", "new", 2), ("2", "note", "b", "B", 3),
                                      ("2", "code", "y", "z", 3)],
                       inserts=[("9", 5, "note", "ins")])
    written, mismatches = _apply_and_read_back(conn, duck, info, run_id)
    assert written.written == {"note": 3, "code": 1}
    assert mismatches == [Change("1", "note", "NEW", "new"), Change("9", "note", "INS", "ins")]
    conn.close()


def test_read_back_skips_conflicts_and_reports_rows_deleted_after_commit(pg_dsn):
    conn, duck, info, run_id = _setup(pg_dsn)
    tables.plan_tables(duck, changes=[("1", "note", "a", "A", 2), ("2", "note", "b", "B", 3)])
    with target.connect(pg_dsn) as other:
        other.execute("UPDATE items SET note = 'theirs' WHERE id = 2")
    with conn.transaction():
        written = apply.apply_changes(conn, duck, info, run_id=run_id, rule_name="items", fields=("note",))
    with target.connect(pg_dsn) as other:
        other.execute("DELETE FROM items WHERE id = 1")
    mismatches = apply.read_back(conn, duck, info, written=written)
    assert [c.record_key for c in written.conflicts] == ["2"]
    assert mismatches == [Change("1", "note", None, "A")]
    conn.close()


_texts = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                                      max_size=12))


@given(new=st.lists(_texts, min_size=3, max_size=3))
def test_property_written_values_read_back_unchanged(readback_world, new):
    """Property: any text (or NULL) written by apply_changes is what a fresh snapshot reads, and
    read_back reports nothing."""
    conn, duck, info, run_id = readback_world
    old = dict(conn.execute("SELECT id::text, note FROM items").fetchall())
    tables.plan_tables(duck, changes=[(str(i + 1), "note", old[str(i + 1)], v, i) for i, v in enumerate(new)])
    with conn.transaction():
        written = apply.apply_changes(conn, duck, info, run_id=run_id, rule_name="items", fields=("note",))
    assert apply.read_back(conn, duck, info, written=written) == []
    target.snapshot_to_duckdb(conn, duck, info, ["note"], table="after")
    conn.rollback()
    assert dict(duck.execute('SELECT "key#", note FROM after').fetchall()) == {"1": new[0], "2": new[1], "3": new[2]}



@pytest.fixture
def readback_world(pg_dsn):
    tables.create(pg_dsn, "CREATE TABLE {t} (id int PRIMARY KEY, note text)", rows=[(1, "a"), (2, None), (3, "")],
                  columns=("id", "note"))
    duck = duckdb.connect()
    conn = target.connect(pg_dsn)
    runlog.ensure_schema(conn)
    run_id = runlog.start_run(conn, tables.rules(fields=("note",)), selectors={})
    info = target.read_table_info(conn, tables.rules(fields=("note",)))
    conn.commit()
    yield conn, duck, info, run_id
    conn.close()
