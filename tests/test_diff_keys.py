"""Keys checked before the diff, typed sheet keys, and what the diff leaves out."""
from __future__ import annotations

import duckdb
import pytest

from engine.columns import SNAPSHOT_KEY, ColumnMap
from engine.diff import compute_diff
from engine.errors import DataError
from engine.rules.model import Comparison, Transform
from engine.snapshot import check_target_keys, keyed_sheet
from engine.transforms import ident
from support.cases import FieldSpec, build, diff_rows, transform


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def target(con, keys):
    con.execute(f"CREATE OR REPLACE TABLE target ({ident(SNAPSHOT_KEY)} VARCHAR)")
    con.executemany("INSERT INTO target VALUES (?)", [[k] for k in keys])


def test_unique_non_null_keys_pass(con):
    target(con, ["1", "2", "3"])
    check_target_keys(con)


def test_duplicate_table_keys_are_refused_with_count_and_five_samples(con):
    target(con, [str(k) for k in range(8) for _ in range(2)] + ["x"])
    with pytest.raises(DataError) as caught:
        check_target_keys(con)
    err = caught.value
    assert err.code == "RC201"
    assert "8 key value(s) on more than one row (16 rows)" in err.message
    assert err.details["sample"] == ["0", "1", "2", "3", "4"]


def test_null_table_keys_are_refused(con):
    target(con, ["1", None, None])
    with pytest.raises(DataError) as caught:
        check_target_keys(con)
    assert caught.value.code == "RC202" and "2 row(s) with a NULL key" in caught.value.message


def test_keyed_sheet_types_and_counts_keys(con):
    w = build(con, [FieldSpec("a")], [{"key": "0042"}, {"key": " 42"}, {"key": "7"}, {"key": ""}], [],
              key_type="integer", key_transforms=(transform("trim"), transform("empty_to_null"),
                                                  transform("to_integer")))
    name = keyed_sheet(con, w.rules, w.columns, w.table_info)
    rows = con.execute(f"SELECT _row, record_key, occurrences, key_error FROM {name} ORDER BY _row").fetchall()
    assert rows == [(2, "42", 2, None), (3, "42", 2, None), (4, "7", 1, None), (5, None, 0, "key is empty")]


def test_skipped_and_absent_fields_are_left_out(con):
    w = build(con, [FieldSpec("a"), FieldSpec("b")], [{"key": "1", "a": "new", "b": "new"}],
              [{"key": "1", "a": "old", "b": "old"}])
    columns = ColumnMap(w.columns.key, w.columns.fields, skipped=("b",))
    summary = compute_diff(con, w.rules, columns, w.table_info)
    assert [c.field for c in summary.fields] == ["a"]
    assert [r[1] for r in diff_rows(con)] == ["a"]
    assert con.execute("SELECT * FROM diff_field_counts").fetchall() == [("a", 1, 1, 0)]


def test_a_failing_sql_transform_is_a_data_error(con):
    w = build(con, [FieldSpec("a", transforms=(Transform("sql", "CAST(value AS INTEGER)"),))],
              [{"key": "1", "a": "not a number"}], [{"key": "1", "a": "1"}])
    with pytest.raises(DataError) as caught:
        compute_diff(con, w.rules, w.columns, w.table_info)
    assert caught.value.code == "RC204"


def test_new_rows_are_reported_even_without_fields(con):
    w = build(con, [], [{"key": "1"}, {"key": "2"}], [{"key": "1"}])
    summary = compute_diff(con, w.rules, w.columns, w.table_info)
    assert diff_rows(con) == [("2", None, "new_row", 3, None, None, None, None)]
    assert (summary.matched_rows, summary.new_rows) == (1, 1)


def test_keys_match_typed_not_as_text(con):
    w = build(con, [FieldSpec("a")], [{"key": "ABCDEF00-0000-0000-0000-000000000001", "a": "x"}],
              [{"key": "abcdef00-0000-0000-0000-000000000001", "a": "x"}], key_type="uuid")
    summary = compute_diff(con, w.rules, w.columns, w.table_info)
    assert diff_rows(con) == [] and summary.matched_rows == 1


def test_a_split_scan_gives_the_same_diff_as_one_thread():
    """Tables of one row group are read as rowid ranges, one per thread; the rows are the same."""
    from engine.diff import MIN_SPLIT_ROWS, split_scan

    n = MIN_SPLIT_ROWS + 1001
    fields = [FieldSpec("a"), FieldSpec("n", "integer", (transform("to_integer"),))]
    sheet = [{"key": str(i), "a": f"v{i % 7}", "n": str(i) if i % 500 else "x"} for i in range(n)]
    table = [{"key": str(i), "a": f"v{i % 5}", "n": str(i)} for i in range(10, n + 10)]
    results = []
    for threads in (1, 3):
        con = duckdb.connect(config={"threads": threads})
        w = build(con, fields, sheet, table)
        scans = split_scan(con, "sheet"), split_scan(con, "target")
        assert all(("UNION ALL" in s) == (threads > 1) for s in scans)
        assert [con.execute(f"SELECT count(*) FROM {s}").fetchone()[0] for s in scans] == [n, n]
        summary = compute_diff(con, w.rules, w.columns, w.table_info)
        results.append((summary, diff_rows(con)))
        con.close()
    assert results[0] == results[1] and len(results[0][1]) > 1000


def test_rows_that_hash_alike_only_when_equal(con):
    """The narrow pass keeps a row when its hashed values differ at all: two fields' values
    swapped, one value moved to the next field, NULL against '' (no empty_to_null), a value
    equal under the comparison but not typed-equal; unchanged rows give nothing."""
    fields = [FieldSpec("a"), FieldSpec("b"), FieldSpec("c", compare=Comparison("ignore_case"))]
    sheet = [{"key": "1", "a": "x", "b": "y", "c": "z"}, {"key": "2", "a": "x", "b": "", "c": "z"},
             {"key": "3", "a": "", "b": "", "c": "z"}, {"key": "4", "a": "p", "b": "q", "c": "MiXed"},
             {"key": "5", "a": "same", "b": "same", "c": "same"}]
    table = [{"key": "1", "a": "y", "b": "x", "c": "z"}, {"key": "2", "a": "", "b": "x", "c": "z"},
             {"key": "3", "a": None, "b": "", "c": "z"}, {"key": "4", "a": "p", "b": "q", "c": "mixed"},
             {"key": "5", "a": "same", "b": "same", "c": "same"}]
    w = build(con, fields, sheet, table)
    summary = compute_diff(con, w.rules, w.columns, w.table_info)
    assert [(r[0], r[1], r[2]) for r in diff_rows(con)] == [
        ("1", "a", "changed"), ("1", "b", "changed"), ("2", "a", "changed"), ("2", "b", "changed"),
        ("3", "a", "changed")]
    assert (summary.matched_rows, summary.changed_rows) == (5, 3)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%candidates'").fetchone() == (0,)
