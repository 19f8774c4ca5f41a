"""Each plan pass alone, over a diff table written by hand, then a few whole plans."""
from __future__ import annotations

import duckdb
import pytest

from engine.diff import DIFF_COLUMNS
from engine.errors import DataError
from engine.planner import (CHANGES, INSERTS, PLAN_DIFF, apply_on_invalid, drop_never, guard_max_changed_rows,
                         missing_rows_policy, new_rows_policy, planned_updates, select_fields, select_keys)
from engine.rules.model import Comparison, Policy, RowLimit
from support.cases import FieldSpec, build, transform


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def load(con, rows, table=PLAN_DIFF):
    cols = ", ".join(f"{c} {'INTEGER' if c == 'sheet_row' else 'VARCHAR'}" for c in DIFF_COLUMNS)
    con.execute(f"CREATE OR REPLACE TABLE {table} ({cols})")
    for r in rows:
        con.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(r) + [None] * (8 - len(r)))


def statuses(con, table=PLAN_DIFF):
    return sorted(con.execute(f"SELECT coalesce(record_key, '-'), coalesce(field, '-'), status FROM {table}").fetchall())


def world(con, fields, key_type="text", policy=Policy(), table=(), key_transforms=()):
    return build(con, fields, [], list(table), key_type=key_type, policy=policy, key_transforms=key_transforms)


ROWS = [("1", "a", "changed", 2, "x", "x", "y"), ("1", "b", "changed", 2, "p", "p", "q"),
        ("2", None, "missing_row"), ("3", None, "duplicate_key", 4), ("3", None, "duplicate_key", 5),
        ("4", "a", "new_row", 6, "n", "n"), ("5", "b", "invalid", 7, "bad", None, "old", "to_integer: 'bad' ...")]


def test_select_fields_keeps_row_level_statuses(con):
    load(con, ROWS)
    select_fields(con, ["a"])
    assert statuses(con) == [("1", "a", "changed"), ("2", "-", "missing_row"), ("3", "-", "duplicate_key"),
                             ("3", "-", "duplicate_key"), ("4", "a", "new_row")]


def test_select_fields_none_keeps_everything(con):
    load(con, ROWS)
    select_fields(con, None)
    assert len(statuses(con)) == len(ROWS)


def test_select_keys_applies_the_key_transforms_and_type(con):
    w = world(con, [FieldSpec("a")], key_type="integer", key_transforms=(transform("trim"), transform("nfkc")))
    load(con, [("42", "a", "changed", 2), ("7", "a", "changed", 3), (None, None, "null_key", 4)])
    select_keys(con, w.rules, w.table_info, [" ００４２ "])
    assert statuses(con) == [("42", "a", "changed")]


def test_planned_updates_take_changed_rows_only(con):
    load(con, ROWS)
    planned_updates(con)
    assert sorted(con.execute(f"SELECT * FROM {CHANGES}").fetchall()) == [
        ("1", "a", "y", "x", 2), ("1", "b", "q", "p", 2)]


@pytest.mark.parametrize("policy, inserted, reported", [("insert", 1, True), ("report", 0, True),
                                                        ("ignore", 0, False)])
def test_new_rows_policy(con, policy, inserted, reported):
    load(con, ROWS)
    new_rows_policy(con, Policy(new_rows=policy))
    assert con.execute(f"SELECT count(*) FROM {INSERTS}").fetchall()[0][0] == inserted
    assert (("4", "a", "new_row") in statuses(con)) is reported


@pytest.mark.parametrize("policy, reported", [("report", True), ("ignore", False)])
def test_missing_rows_policy_never_deletes_only_reports(con, policy, reported):
    load(con, ROWS)
    missing_rows_policy(con, Policy(missing_rows=policy))
    assert (("2", "-", "missing_row") in statuses(con)) is reported
    assert len(statuses(con)) == len(ROWS) - (0 if reported else 1)


def _invalid_world(con, on_invalid, default=None, new_rows="report"):
    w = world(con, [FieldSpec("b", "integer", on_invalid=on_invalid, default=default)],
              policy=Policy(new_rows=new_rows), table=[{"key": "5", "b": "3"}, {"key": "6", "b": None}])
    load(con, [("5", "b", "invalid", 7, "bad", None, "3", "to_integer: 'bad' is not an integer"),
               ("6", "b", "invalid", 8, "worse", None, None, "to_integer: 'worse' is not an integer"),
               ("9", "b", "invalid", 9, "new", None, None, "to_integer: 'new' is not an integer")])
    planned_updates(con)
    new_rows_policy(con, w.rules.policy)
    return w


def test_on_invalid_keep_writes_nothing(con):
    w = _invalid_world(con, "keep")
    apply_on_invalid(con, w.rules, w.table_info)
    assert con.execute(f"SELECT count(*) FROM {CHANGES}").fetchall() == [(0,)]


def test_on_invalid_null_writes_null_only_over_a_value(con):
    w = _invalid_world(con, "null", new_rows="insert")
    apply_on_invalid(con, w.rules, w.table_info)
    assert con.execute(f"SELECT record_key, old_value, new_value FROM {CHANGES}").fetchall() == [("5", "3", None)]
    assert con.execute(f"SELECT record_key, field, new_value FROM {INSERTS}").fetchall() == [("9", "b", None)]


def test_on_invalid_default_writes_the_typed_default(con):
    w = _invalid_world(con, "default", default="0042")
    apply_on_invalid(con, w.rules, w.table_info)
    assert sorted(con.execute(f"SELECT record_key, old_value, new_value FROM {CHANGES}").fetchall()) == [
        ("5", "3", "42"), ("6", None, "42")]


@pytest.mark.parametrize("default", ["many", 1.5, "1.5", 99999999999])
def test_on_invalid_default_the_type_refuses_is_an_error(con, default):
    """Checked as a cell is: 1.5 is no integer (DuckDB's plain cast rounded it to 2 and wrote
    that), and 99999999999 does not fit one (it passed here, then failed the run's write)."""
    w = _invalid_world(con, "default", default=default)
    with pytest.raises(DataError) as caught:
        apply_on_invalid(con, w.rules, w.table_info)
    assert caught.value.code == "RC205" and f"{default!r} is not a valid integer" in caught.value.message


def test_on_invalid_fail_raises_naming_field_record_and_cell(con):
    w = _invalid_world(con, "fail")
    with pytest.raises(DataError) as caught:
        apply_on_invalid(con, w.rules, w.table_info)
    err = caught.value
    assert err.code == "RC203"
    assert err.details == {"field": "b", "record_key": "5", "sheet_row": 7, "cell": "bad", "count": 3}
    assert "field 'b'" in err.message and "record '5'" in err.message and "'bad'" in err.message
    assert con.execute(f"SELECT count(*) FROM {CHANGES}").fetchall() == [(0,)]


def test_drop_never_removes_writes_not_reports(con):
    w = world(con, [FieldSpec("a", compare=Comparison("never")), FieldSpec("b")])
    load(con, ROWS)
    planned_updates(con)
    new_rows_policy(con, Policy(new_rows="insert"))
    drop_never(con, w.rules)
    assert con.execute(f"SELECT field FROM {CHANGES}").fetchall() == [("b",)]
    assert con.execute(f"SELECT count(*) FROM {INSERTS}").fetchall() == [(0,)]
    assert ("1", "a", "changed") in statuses(con)


@pytest.mark.parametrize("limit, changed, inserted, table_rows, refused", [
    (None, 10**6, 10**6, 1, False),
    (RowLimit(count=3), 2, 1, 100, False),
    (RowLimit(count=3), 3, 1, 100, True),
    (RowLimit(percent=10), 1, 1, 20, False),
    (RowLimit(percent=10), 2, 1, 20, True),
    (RowLimit(percent=10), 0, 1, 0, True),
    (RowLimit(percent=100), 20, 0, 20, False),
])
def test_guard_max_changed_rows(limit, changed, inserted, table_rows, refused):
    reason = guard_max_changed_rows(limit, changed, inserted, table_rows)
    assert (reason is not None) is refused
    if refused:
        assert f"changes {changed + inserted} row(s)" in reason
