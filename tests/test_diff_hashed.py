"""The diff over a hash snapshot: only the rows whose hashes disagree have their text fetched."""
from __future__ import annotations

import duckdb
import pytest

from engine.diff import compute_diff
from support.cases import FieldSpec, build, diff_rows, hash_target, transform

FIELDS = [FieldSpec("a", transforms=(transform("trim"),)), FieldSpec("n", "integer", (transform("empty_to_null"),))]
TABLE = [{"key": str(k), "a": f"v{k}", "n": k} for k in range(1, 21)]


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def _sheet() -> list[dict]:
    rows = [{"key": r["key"], "a": f" {r['a']} ", "n": str(r["n"])} for r in TABLE if r["key"] != "6"]
    rows[1]["a"] = "changed"  # record 2
    rows[3]["n"] = "x"  # record 4: not an integer
    return rows + [{"key": "99", "a": "new", "n": "99"}]


def test_only_differing_rows_are_fetched_and_the_diff_is_the_text_diff(con):
    w = build(con, FIELDS, _sheet(), TABLE)
    compute_diff(con, w.rules, w.columns, w.table_info)
    from_text = diff_rows(con)
    w = build(con, FIELDS, _sheet(), TABLE)
    hashed, side = hash_target(con, w)
    summary = compute_diff(con, w.rules, w.columns, w.table_info, hashed=hashed)
    assert diff_rows(con) == from_text
    # 2 changed, 4 invalid, 6 missing from the sheet; 99 is new (nothing to fetch); the rest equal
    assert side.fetched == [["2", "4", "6"]]
    assert {(r[0], r[2]) for r in from_text} >= {("2", "changed"), ("4", "invalid"), ("6", "missing_row"),
                                                  ("99", "new_row")}
    assert (summary.table_rows, summary.matched_rows, summary.new_rows, summary.missing_rows) == (20, 19, 1, 1)


def test_a_hash_of_other_fields_fetches_every_row(con):
    """A hash snapshot of fields other than those diffed (here in another order) cannot be
    compared with the sheet's: the diff fetches every row and is still right."""
    w = build(con, FIELDS, _sheet(), TABLE)
    compute_diff(con, w.rules, w.columns, w.table_info)
    from_text = diff_rows(con)
    w = build(con, FIELDS, _sheet(), TABLE)
    hashed, side = hash_target(con, w, fields=["n", "a"])
    compute_diff(con, w.rules, w.columns, w.table_info, hashed=hashed)
    assert side.fetched == [None]
    assert diff_rows(con) == from_text


def test_many_differing_rows_are_fetched_in_one_sweep(con):
    """Above a quarter of the table, one sequential copy of it beats a lookup by key."""
    sheet = [{"key": r["key"], "a": "other", "n": str(r["n"])} for r in TABLE]
    w = build(con, FIELDS, sheet, TABLE)
    hashed, side = hash_target(con, w)
    summary = compute_diff(con, w.rules, w.columns, w.table_info, hashed=hashed)
    assert side.fetched == [None]
    assert summary.fields[0].differing == 20 and summary.fields[1].differing == 0
