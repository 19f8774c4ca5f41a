"""Properties of the DuckDB diff: it equals a plain-Python reference, and diff(a, a) is empty.

Each runs twice: on a text snapshot of the table, and on the engine's hash snapshot (one hash
per table row, the text of the rows that differ fetched afterwards).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.diff import compute_diff
from engine.rules.model import Comparison
from support.cases import FieldSpec, build, diff_rows, hash_target, transform
from support.diffref import reference_diff

TOKENS = ["", " ", "\u3000", "\t", "\u00a0", "a", "A", "ａ", "Ｂ", "b c", "1", "２", "12", "-3", "4.5", "0.25",
          "１２．５", ",", ".", "三人", "ﾀﾅｶ", "-", "N/A", "e3", "+7", "99999999"]
TEXT = st.lists(st.sampled_from(TOKENS), max_size=3).map("".join)
CELL = st.integers(0, 9).flatmap(lambda n: st.sampled_from(["#N/A", "#REF!"]) if n == 0 else TEXT)
DECORATE = st.sampled_from(["{}", "{}", "{}", " {}", "{}\u3000", "{} ", "\t{}"])

# (pg_type, chain in rule-file spelling, compare spelling)
MENU = [
    ("text", ["trim", "empty_to_null"], "exact"),
    ("text", ["trim", "collapse_whitespace"], "ignore_case"),
    ("text", ["nfkc", "lower"], "exact"),
    ("text", [], "ignore_whitespace"),
    ("text", ["upper", {"null_if": ["-", "N/A"]}], "exact"),
    ("text", ["trim", {"map": {"values": {"a": "x", "1": "one", "": None}, "unmapped": "invalid"}}], "exact"),
    ("text", ["trim", {"map": {"A": "big"}}], "never"),
    ("text", [{"map": {"values": {"b c": "bc"}, "unmapped": "null"}}], "exact"),
    ("bigint", ["nfkc", "trim", "empty_to_null", "to_integer"], "exact"),
    ("bigint", ["trim", "empty_to_null"], {"numeric": {"tolerance": 1}}),
    ("numeric(6,2)", ["nfkc", "empty_to_null", "to_decimal"], {"numeric": {"tolerance": 0.5}}),
    ("numeric(6,1)", ["trim", "empty_to_null"], "exact"),
    ("text", ["trim", "empty_to_null", "to_decimal"], {"numeric": {"tolerance": 0.25}}),
]
TABLE_VALUE = {
    "text": st.one_of(st.none(), CELL.filter(lambda c: not c.startswith("#"))),
    "bigint": st.one_of(st.none(), st.integers(-20, 20).map(str), st.just("99999999")),
    "numeric(6,2)": st.one_of(st.none(), st.decimals(-100, 100, places=2).map(str)),
    "numeric(6,1)": st.one_of(st.none(), st.decimals(-100, 100, places=1).map(str)),
}
SHEET_KEYS = ["1", "2", "3", " 1", "2\u3000", "", "\u3000", "k", "#N/A"]
TABLE_KEYS = ["1", "2", "3", "4", "k"]


def _spec(i: int, pg_type: str, chain: list, compare) -> FieldSpec:
    from support.cases import comparison

    return FieldSpec(f"f{i}", pg_type, tuple(transform(t) for t in chain), comparison(compare))


@st.composite
def worlds(draw):
    picks = draw(st.lists(st.integers(0, len(MENU) - 1), min_size=1, max_size=3, unique=True))
    fields = [_spec(i, *MENU[p]) for i, p in enumerate(picks)]
    keys = draw(st.lists(st.sampled_from(TABLE_KEYS), max_size=5, unique=True))
    table = {k: {f.name: draw(TABLE_VALUE[f.pg_type]) for f in fields} for k in keys}
    sheet_keys = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    sheet_keys += draw(st.lists(st.sampled_from(TABLE_KEYS), max_size=2, unique=True))
    sheet_keys += draw(st.lists(st.sampled_from(SHEET_KEYS), max_size=1))
    sheet = [dict({"key": draw(DECORATE).format(k)}, **{f.name: _cell(draw, table.get(k, {}).get(f.name))
                                                         for f in fields}) for k in sheet_keys]
    return fields, sheet, [dict({"key": k}, **values) for k, values in table.items()]


def _cell(draw, table_value):
    """A random cell, or (often) the table's own value, perhaps with blanks around it."""
    if draw(st.booleans()):
        return draw(DECORATE).format("" if table_value is None else table_value)
    return draw(CELL)


def _reference_fields(fields: list[FieldSpec]) -> list[dict]:
    return [{"name": f.name, "pg_type": f.pg_type, "chain": [(t.name, t.args) for t in f.transforms],
             "compare": f.compare.kind, "tolerance": f.compare.tolerance} for f in fields]


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


SNAPSHOTS = pytest.mark.parametrize("snapshot", ["text", "hashed"])


def _diff(con, w, snapshot: str):
    """compute_diff over the world's table as a text snapshot or as a hash snapshot; with the
    keys the hashed diff fetched (None for the text snapshot)."""
    if snapshot == "text":
        return compute_diff(con, w.rules, w.columns, w.table_info), None
    hashed, side = hash_target(con, w)
    return compute_diff(con, w.rules, w.columns, w.table_info, hashed=hashed), side.fetched


@SNAPSHOTS
@given(world=worlds())
def test_duckdb_diff_equals_python_reference(con, world, snapshot):
    """Differential: on random small sheets and tables (NULLs, '', unicode and full-width text,
    whitespace variants, numbers with tolerances, cell errors, duplicate, empty and missing keys)
    the DuckDB diff relation equals the plain-Python reference diff row for row, and the
    summary's counts agree with those rows. A hashed diff fetches the text of a row at most once."""
    fields, sheet, table = world
    w = build(con, fields, sheet, table, key_transforms=(transform("trim"),))
    summary, fetched = _diff(con, w, snapshot)
    expected = reference_diff(_reference_fields(fields), [("trim", None)], sheet, table)
    assert diff_rows(con) == expected
    if fetched is not None:
        assert len(fetched) == 1
        assert fetched[0] is None or len(set(fetched[0])) == len(fetched[0])
    for counts in summary.fields:
        assert counts.differing == sum(1 for r in expected if r[1] == counts.field and r[2] == "changed")
        assert counts.invalid == sum(1 for r in expected if r[1] == counts.field and r[2] == "invalid")
    assert summary.missing_rows == sum(1 for r in expected if r[2] == "missing_row")


# -- diff(a, a) is empty ------------------------------------------------------------------------

INSTANT = st.datetimes(datetime(1990, 1, 1), datetime(2040, 1, 1)).map(lambda d: d.replace(microsecond=0))
TYPED = {
    "text": st.text(alphabet=st.sampled_from("aZ ｱ三\u3000,.-'\"\\é"), min_size=1, max_size=6),
    "character varying(20)": st.text(alphabet=st.sampled_from("xy12 "), min_size=1, max_size=5),
    "integer": st.integers(-2**31, 2**31 - 1).map(str),
    "bigint": st.integers(-2**63, 2**63 - 1).map(str),
    "numeric(12,2)": st.decimals(-10**9, 10**9, places=2).map(str),
    "numeric": st.decimals(-10**6, 10**6, places=4).map(lambda d: str(d.normalize()) if d != 0 else "0"),
    "double precision": st.floats(-1e12, 1e12, allow_nan=False).map(repr),
    "real": st.floats(-2.0 ** 40, 2.0 ** 40, allow_nan=False, width=32).map(repr),
    "boolean": st.sampled_from(["t", "f"]),
    "date": st.dates(date(1900, 1, 1), date(2100, 1, 1)).map(str),
    "timestamp without time zone": INSTANT.map(str),
    "timestamp with time zone": INSTANT.map(lambda d: str(d.replace(tzinfo=timezone.utc)).replace("+00:00", "+00")),
    "uuid": st.uuids().map(str),
}
KEY_TYPES = {"text": st.text(alphabet="abc12", min_size=1, max_size=4), "integer": st.integers(-999, 999).map(str),
             "uuid": st.uuids().map(str)}


@st.composite
def same_worlds(draw):
    types = draw(st.lists(st.sampled_from(sorted(TYPED)), min_size=1, max_size=4))
    key_type = draw(st.sampled_from(sorted(KEY_TYPES)))
    compares = [Comparison("numeric", Decimal(0)) if t in ("numeric(12,2)", "bigint") and draw(st.booleans())
                else Comparison(draw(st.sampled_from(["exact", "ignore_case", "ignore_whitespace"])))
                for t in types]
    fields = [FieldSpec(f"f{i}", t, (transform("empty_to_null"),), c) for i, (t, c) in enumerate(zip(types, compares))]
    keys = draw(st.lists(KEY_TYPES[key_type], max_size=6, unique=True))
    table = [dict({"key": k}, **{f.name: draw(st.one_of(st.none(), TYPED[f.pg_type])) for f in fields}) for k in keys]
    return key_type, fields, table


@SNAPSHOTS
@given(world=same_worlds())
def test_diff_of_a_table_with_itself_is_empty(con, world, snapshot):
    """diff(a, a) is empty: a sheet rendered from a table's own values (PostgreSQL's text for
    every type, NULL as an empty cell, read with empty_to_null) differs from it nowhere; and
    a hashed diff of it fetches no row's text (every hash agrees)."""
    key_type, fields, table = world
    sheet = [{k: ("" if v is None else v) for k, v in row.items()} for row in table]
    w = build(con, fields, sheet, table, key_type=key_type)
    summary, fetched = _diff(con, w, snapshot)
    assert diff_rows(con) == []
    assert fetched in (None, [[]])
    assert summary.matched_rows == len(table) and summary.new_rows == 0 and summary.missing_rows == 0

