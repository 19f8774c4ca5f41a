"""Fields hashed as text: an integer or numeric(p,s) field whose chain gives back every value
from PostgreSQL's text of it enters the row hash as its raw cell (engine.diff.text_hashed_fields).

The diff is only correct if that premise holds, so it is checked against PostgreSQL's own text;
and a cell written otherwise than PostgreSQL prints it must still compare as a value.
"""
from __future__ import annotations

from decimal import Decimal

import duckdb
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import sql

from engine.diff import cells_as_printed, compute_diff, text_hashed_fields
from engine.rules.model import FieldRule, Transform
from engine.duck_types import duck_type
from engine.transforms import (Lane, apply_chain, canonical_text_pattern, compile_chain, ident,
                               reads_canonical_text)
from support import tables
from support.cases import FieldSpec, build, diff_rows, hash_target, transform

COLUMNS = {
    "smallint": st.integers(-2**15, 2**15 - 1),
    "integer": st.integers(-2**31, 2**31 - 1),
    "bigint": st.integers(-2**63, 2**63 - 1),
    "numeric(12,2)": st.decimals(Decimal("-9999999999.99"), Decimal("9999999999.99"), places=2),
    "numeric(5)": st.integers(-99999, 99999).map(Decimal),
    "numeric(38,10)": st.decimals(Decimal("-1e27"), Decimal("1e27"), places=10),
}
CHAINS = {  # rule-file spelling; every one reads_canonical_text for the types it is listed with
    "integers": [[], ["to_integer"], ["trim", "empty_to_null", "to_integer"], ["empty_to_null", "to_decimal"]],
    "numerics": [[], ["to_decimal"], ["trim", "to_decimal"], ["empty_to_null"]],
}


def _chains(pg_type: str) -> list[list[str]]:
    return CHAINS["integers" if pg_type in ("smallint", "integer", "bigint") else "numerics"]


@pytest.fixture
def canonical(pg_dsn):
    columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(t), sql.SQL(t)) for t in COLUMNS)
    tables.create(pg_dsn, "CREATE TABLE {t} (" + columns.as_string(None) + ")", table="canonical")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


@given(values=st.lists(st.tuples(*[st.one_of(st.none(), s) for s in COLUMNS.values()]), min_size=1, max_size=6))
def test_property_a_chain_read_as_canonical_gives_back_each_value_from_postgresqls_text(canonical, values):
    """Property (the premises of hashing a field as text): for any values of integer and
    numeric(p,s) columns, each chain that reads_canonical_text turns the text PostgreSQL prints
    for a value back into that value, without an error; DuckDB prints the value as PostgreSQL
    does; and that text matches canonical_text_pattern."""
    canonical.execute("TRUNCATE canonical")
    with canonical.cursor().copy("COPY canonical FROM STDIN") as cp:
        for row in values:
            cp.write_row(row)
    columns = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(t)) for t in COLUMNS)
    printed = canonical.execute(sql.SQL("SELECT {} FROM canonical").format(columns)).fetchall()
    duck = duckdb.connect()
    for i, pg_type in enumerate(COLUMNS):
        texts = [row[i] for row in printed if row[i] is not None]
        for chain in _chains(pg_type):
            transforms = [Transform(name) for name in chain]
            assert reads_canonical_text(transforms, pg_type), (pg_type, chain)
            if texts:
                read = apply_chain(duck, transforms, texts, pg_type)
                assert [(Decimal(v), e) for v, e in read] == [(Decimal(t), None) for t in texts], (pg_type, chain)
        printed_by_duckdb = duck.execute(f"SELECT list(CAST(CAST(t AS {duck_type(pg_type)}) AS VARCHAR)), "
                                         f"bool_and(regexp_full_match(t, ?)) FROM unnest(?::VARCHAR[]) AS u(t)",
                                         [canonical_text_pattern(pg_type), texts]).fetchone()
        assert (printed_by_duckdb[0] or [], printed_by_duckdb[1] is not False) == (texts, True), pg_type


@pytest.mark.parametrize(("pg_type", "chain"), [
    ("text", []), ("numeric", ["to_decimal"]), ("numeric(12,2)", ["to_integer"]), ("integer", ["to_integer", "trim"]),
    ("bigint", ["nfkc", "to_integer"]), ("bigint", ["collapse_whitespace", "to_integer"]), ("date", []),
    ("double precision", ["to_decimal"]), ("numeric(50,2)", ["to_decimal"]), ("integer", [{"replace": {"pattern": ","}}]),
    ("numeric(3,3)", ["to_decimal"]),  # DuckDB prints .5 where PostgreSQL prints 0.5
])
def test_other_chains_and_types_are_hashed_typed(pg_type, chain):
    """Not text-hashed: types whose text is not one per value (or not read exactly by DuckDB),
    and chains holding a step that could change PostgreSQL's text of a value."""
    assert not reads_canonical_text([transform(t) for t in chain], pg_type)


# -- the diff over text-hashed fields -------------------------------------------------------------

FIELDS = [FieldSpec("n", "numeric(12,2)", (transform("trim"), transform("empty_to_null"), transform("to_decimal"))),
          FieldSpec("i", "integer", (transform("to_integer"),)),
          FieldSpec("a", transforms=(transform("trim"),))]
TABLE = [{"key": "1", "n": "12.30", "i": "7", "a": "x"},  # the sheet writes it as PostgreSQL prints it
         {"key": "2", "n": "12.30", "i": "7", "a": "x"},  # 12.3, 007: written otherwise, equal values
         {"key": "3", "n": None, "i": "7", "a": "x"},  # a blank cell, made NULL by empty_to_null
         {"key": "4", "n": "NaN", "i": "7", "a": "x"},  # NaN both sides: the sheet's is invalid
         {"key": "5", "n": "1.00", "i": "8", "a": "x"},  # changed: 1.01, and 9
         {"key": "6", "n": "1.00", "i": None, "a": "x"},  # '' is no integer: invalid
         *({"key": str(k), "n": f"{k}.50", "i": str(-k), "a": "y"} for k in range(10, 410))]
SHEET = [{"key": "1", "n": "12.30", "i": "7", "a": " x "}, {"key": "2", "n": " 12.3", "i": "007", "a": "x"},
         {"key": "3", "n": "", "i": "7", "a": "x"}, {"key": "4", "n": "NaN", "i": "7", "a": "x"},
         {"key": "5", "n": "1.01", "i": "9", "a": "x"}, {"key": "6", "n": "1.00", "i": "", "a": "x"},
         {"key": "7", "n": "3", "i": "x", "a": "new"},
         *({"key": str(k), "n": f"{k}.50", "i": str(-k), "a": "y"} for k in range(10, 410))]


def test_a_cell_written_otherwise_is_a_candidate_and_compared_as_a_value():
    """Text-hashed fields whose cells are nearly all written as PostgreSQL prints values: a row
    of such cells, or blank where the table holds NULL, is never fetched; 12.3 and 007 are
    fetched and equal; a NaN cell is invalid though the table holds NaN; the diff is the one a
    text snapshot gives."""
    con = duckdb.connect()
    w = build(con, FIELDS, SHEET, TABLE)
    compute_diff(con, w.rules, w.columns, w.table_info)
    from_text = diff_rows(con)
    w = build(con, FIELDS, SHEET, TABLE)
    assert text_hashed_fields(w.rules, w.table_info, ["n", "i", "a"]) == ("n", "i")
    hashed, side = hash_target(con, w)
    compute_diff(con, w.rules, w.columns, w.table_info, hashed=hashed)
    assert diff_rows(con) == from_text
    assert side.fetched == [["2", "4", "5", "6"]]
    assert [(r[0], r[1], r[2], r[6]) for r in from_text if r[0] != "7"] == [
        ("4", "n", "invalid", "NaN"), ("5", "i", "changed", "8"), ("5", "n", "changed", "1.00"),
        ("6", "i", "invalid", None)]
    assert {(r[1], r[2], r[5]) for r in from_text if r[0] == "7"} == {
        ("n", "new_row", "3.00"), ("i", "invalid", None), ("a", "new_row", "new")}


def test_cells_mostly_written_otherwise_are_hashed_as_values():
    """A numeric(12,2) column whose cells mostly read 12.5 (a sheet's own number format), and an
    integer column written 007: their chains run on every row and the values are hashed as
    PostgreSQL prints them, so only the rows that differ are fetched, not every row."""
    con = duckdb.connect()
    table = [{"key": str(k), "n": f"{k}.50", "i": str(k), "a": "y"} for k in range(1, 41)]
    sheet = [{"key": str(k), "n": f"{k}.5", "i": f"00{k}", "a": "y"} for k in range(1, 41)]
    sheet[4]["n"], sheet[6]["i"] = "5.25", "8"  # records 5 and 7 differ
    w = build(con, FIELDS, sheet, table)
    hashed, side = hash_target(con, w)
    compute_diff(con, w.rules, w.columns, w.table_info, hashed=hashed)
    assert side.fetched == [["5", "7"]]
    assert [(r[0], r[1], r[2], r[5]) for r in diff_rows(con)] == [("5", "n", "changed", "5.25"),
                                                                  ("7", "i", "changed", "8")]


@pytest.mark.parametrize(("cells", "chain", "as_printed"), [
    (["1.50"] * 99 + ["1.5"], ["to_decimal"], True),  # 99% as printed
    (["1.50"] * 98 + ["1.5"] * 2, ["to_decimal"], False),
    (["1.50"] * 98 + [""] * 2, ["empty_to_null", "to_decimal"], True),  # blank is NULL: as printed
    (["1.50"] * 98 + [""] * 2, ["to_decimal"], False),  # blank is invalid: not
    (["-0.05", "0.00", "10.00", "+1.00", "01.00"] * 20, [], False),  # a sign or a leading zero: not
    (["1.50"] * 4096 + ["1.5"] * 20480, ["to_decimal"], False),  # the sample spans the sheet
])
def test_cells_as_printed_samples_rows_over_the_whole_sheet(cells, chain, as_printed):
    """A field's raw cells are hashed when at least 99% of the cells of rows sampled evenly
    over the sheet are written as PostgreSQL prints the column's values (blank counts where
    the chain makes it NULL)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE sheet AS SELECT generate_subscripts(?::VARCHAR[], 1) + 1 AS _row, "
                "unnest(?::VARCHAR[]) AS c1", [cells, cells])
    rule = FieldRule("n", "c1", tuple(transform(t) for t in chain))
    lane = Lane(ident("c1"), compile_chain(rule.transforms), "DECIMAL(12,2)", "numeric(12,2)")
    assert cells_as_printed(con, "sheet", [rule], [lane]) == ({"n"} if as_printed else set())
