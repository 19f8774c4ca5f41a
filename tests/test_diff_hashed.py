"""The diff over a hash snapshot: only the rows whose hashes disagree have their text fetched."""
from __future__ import annotations

import duckdb
import pytest

from engine.columns import SNAPSHOT_KEY
from engine.diff import compute_diff
from engine.transforms import ident
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
    # 2 changed, 4 invalid: fetched; 6 missing from the sheet and 99 new: nothing to compare,
    # so nothing fetched; the rest equal
    assert side.fetched == [["2", "4"]]
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


def test_a_sheet_lacking_most_of_the_table_diffs_in_little_memory(con):
    """200,000 rows only the table has, 30 fields: reported missing without a sheet value or
    any text stored or fetched for them. (Kept as NULL columns, their sheet values took
    16 bytes each, and this diff ran a 1M-row table out of DuckDB's memory.)"""
    fields = [FieldSpec(f"f{i}", transforms=(transform("trim"),)) for i in range(30)]
    sheet = [{"key": f"new{i}", **{f.name: "x" for f in fields}} for i in range(10)]
    w = build(con, fields, sheet, [])
    nulls = ", ".join(f'NULL::VARCHAR AS "{f.name}"' for f in fields)
    con.execute(f"CREATE OR REPLACE TABLE target AS SELECT CAST(i AS VARCHAR) AS {ident(SNAPSHOT_KEY)}, {nulls} "
                f"FROM range(200000) t(i)")
    hashed, side = hash_target(con, w)
    con.execute("CREATE OR REPLACE TABLE target_text AS FROM target_text LIMIT 0")  # nothing may be fetched
    con.execute("SET memory_limit = '96MB'")
    con.execute("SET temp_directory = ''")  # no spilling: too much memory is an error
    summary = compute_diff(con, w.rules, w.columns, w.table_info, hashed=hashed)
    assert (summary.missing_rows, summary.new_rows) == (200_000, 10)
    assert side.fetched == [[]]
    assert con.execute("SELECT count(*) FROM diff WHERE status = 'missing_row'").fetchone()[0] == 200_000
