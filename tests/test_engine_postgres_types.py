"""Columns of types DuckDB has no equivalent of (jsonb, inet, money, enums, arrays, domains):
PostgreSQL reads each distinct sheet value into the column and prints it back, so a value
written another way than PostgreSQL prints it compares equal, and one the column refuses is
an invalid cell. Before, such a value was rewritten by every run (verify never came clean),
and one PostgreSQL refused failed the whole run."""
from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from engine import api, target
from engine.rules import load_rules
from support.rules import file_rules

pytestmark = pytest.mark.integration

TABLE = """
CREATE TYPE public.mood AS ENUM ('happy', 'sad');
CREATE DOMAIN public.small_pos AS integer CHECK (VALUE > 0 AND VALUE < 100);
CREATE TABLE public.things (id text PRIMARY KEY, j jsonb, ip inet, m money, md public.mood, arr integer[],
                            sp public.small_pos);
INSERT INTO public.things VALUES ('a', '{"x": 1}', '10.0.0.1', 12.34, 'happy', '{1,2}', 5),
                                 ('b', '[1, 2]', '10.0.0.0/8', 1, 'sad', '{3}', 6);
"""
# Row a says what the table holds, each value written another way; b changes j and has two
# values the columns refuse; c is new, with one good value and five refused.
SHEET = ('id,j,ip,m,md,arr,sp\n'
         'a,"{""x"":1}",10.0.0.1,$12.34,happy,"{ 1, 2 }",5\n'
         'b,"[1,2,3]",10.0.0.0/8,$1.00,angry,{3},500\n'
         'c,not json,999.1.1.1,abc,sad,{x},7\n')
RULES = """version: 1
name: things
source: {type: file, path: things.csv}
target: {table: public.things}
key: {field: id, column: id}
fields:
  j: {column: j}
  ip: {column: ip}
  m: {column: m}
  md: {column: md}
  arr: {column: arr}
  sp: {column: sp}
policy: {new_rows: insert}
"""


@pytest.fixture
def things(pg_dsn, tmp_path: Path) -> Path:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(TABLE)
    (tmp_path / "things.csv").write_text(SHEET, encoding="utf-8")
    (tmp_path / "things.yaml").write_text(RULES, encoding="utf-8")
    return tmp_path / "things.yaml"


def test_values_are_compared_as_postgresql_prints_them_and_a_run_converges(things, pg_dsn):
    plan = api.plan(things, dsn=pg_dsn)
    planned = sorted((c.record_key, c.field, c.new_value) for c in plan.changes)
    assert planned == [("b", "j", "[1, 2, 3]"), ("c", "md", "sad"), ("c", "sp", "7")], planned
    invalid = sorted((d.record_key, d.field, d.message) for d in plan.differences if d.status == "invalid")
    assert invalid == [("b", "md", "type: 'angry' is not a valid mood"),
                       ("b", "sp", "type: '500' is not a valid small_pos"),
                       ("c", "arr", "type: '{x}' is not a valid integer[]"),
                       ("c", "ip", "type: '999.1.1.1' is not a valid inet"),
                       ("c", "j", "type: 'not json' is not a valid jsonb"),
                       ("c", "m", "type: 'abc' is not a valid money")]
    result = api.run(things, dsn=pg_dsn)
    assert (result.status, result.written, result.inserted_rows) == ("succeeded", 3, 1)
    again = api.plan(things, dsn=pg_dsn)
    assert (again.changed_rows, again.new_rows, again.invalid) == (0, 0, 6), "a second run would rewrite"
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT id, j::text, md::text, sp FROM public.things ORDER BY id").fetchall() == [
            ("a", '{"x": 1}', "happy", 5), ("b", "[1, 2, 3]", "sad", 6), ("c", None, "sad", 7)]


def test_postgresql_reads_each_text_and_refuses_some_without_stopping(things, pg_dsn):
    rules = load_rules(things)
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, rules)
    texts = ['{"b":2, "a":1}', "nope", "[ ]", "{", "null"]
    assert target.read_by_postgres(pg_dsn, info, "j", texts) == ['{"a": 1, "b": 2}', None, "[]", None, "null"]
    assert target.read_by_postgres(pg_dsn, info, "sp", ["0", "1", "99", "100"]) == [None, "1", "99", None]
    many = [f"bad {i}" for i in range(2500)] + ['{"a":1}']  # batches refused in part are read one by one
    assert target.read_by_postgres(pg_dsn, info, "j", many) == [None] * 2500 + ['{"a": 1}']
    with psycopg.connect(pg_dsn) as conn:  # tsvector refuses a text with a syntax error (42601), not 22xxx
        conn.execute("ALTER TABLE public.things ADD COLUMN tv tsvector")
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, rules, [*rules.field_names, "tv"])
    assert target.read_by_postgres(pg_dsn, info, "tv", ["b a", "'open", "c"]) == ["'a' 'b'", None, "'c'"]
    with psycopg.connect(pg_dsn) as conn:  # nothing of it stays
        assert conn.execute("SELECT to_regclass('pg_temp.reconcile_read')").fetchone()[0] is None


def test_bounded_text_columns_converge_and_refuse_what_they_cannot_hold(pg_dsn, tmp_path: Path):
    """character(n) prints without its padding and varchar(n) keeps it: a run then a plan finds
    nothing more to do, and a text longer than the column takes is an invalid cell."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE public.codes (id text PRIMARY KEY, c character(3), v varchar(3))")
        conn.execute("INSERT INTO public.codes VALUES ('a', 'x', 'x'), ('b', 'x', 'x')")
    rules = file_rules(tmp_path, "codes", "id,c,v\na,cd    ,ab    \nb,long,long\n",
                       "  c: {column: c}\n  v: {column: v}\n")
    result = api.run(rules, dsn=pg_dsn)
    assert (result.status, result.written) == ("succeeded", 2)
    again = api.plan(rules, dsn=pg_dsn)
    assert (again.changed_rows, again.invalid) == (0, 2)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT id, c::text, v FROM public.codes ORDER BY id").fetchall() == [
            ("a", "cd", "ab "), ("b", "x", "x")]


def test_table_values_duckdb_cannot_hold_differ_from_a_blank_cell(pg_dsn, tmp_path: Path):
    """A NaN numeric, a BC date and a numeric past DECIMAL(38,10)'s 28 integer digits cast to
    NULL in DuckDB, as a blank cell does: their rows hashed alike and the full diff called them
    equal, so the table kept values the sheet had emptied. Now the field is changed, the run
    writes the sheet's blank, and a second plan finds nothing."""
    rules = _seeded(pg_dsn, tmp_path, "odd", "n numeric(10,2), d date, big numeric, note text",
                    "('a', 'NaN', '0044-03-15 BC', 1e30, 'x'), ('b', 1.5, '2024-01-02', 7, 'y')",
                    "id,n,d,big,note\na,,,,x\nb,1.50,2024-01-02,7,y\n",
                    "  n: {column: n, transform: [empty_to_null]}\n  d: {column: d, transform: [empty_to_null]}\n"
                    "  big: {column: big, transform: [empty_to_null]}\n  note: {column: note}\n")
    plan = api.plan(rules, dsn=pg_dsn)
    assert _differences(plan) == [
        ("a", "big", "changed", "1000000000000000000000000000000"), ("a", "d", "changed", "0044-03-15 BC"),
        ("a", "n", "changed", "NaN")]
    result = api.run(rules, dsn=pg_dsn)
    assert (result.status, result.written) == ("succeeded", 3)
    assert api.plan(rules, dsn=pg_dsn).changed_rows == 0
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT id, n, d, big FROM public.odd ORDER BY id").fetchall()[0] == ("a", None, None, None)


def test_float_columns_refuse_what_postgresql_refuses_and_real_values_converge(pg_dsn, tmp_path: Path):
    """A real column was compared as DOUBLE. '0.1000000001' differs from the table's 0.1 as a
    double, but PostgreSQL stores it as the real 0.1: it was rewritten by every run. '1e39' and
    '1e-50' are valid doubles that PostgreSQL refuses for real, and DuckDB reads '1e-400' as a
    double zero where PostgreSQL refuses it: the write failed and the whole run with it. Now
    such a cell is invalid, and a run converges."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE public.floats (id text PRIMARY KEY, r real, d double precision)")
        conn.execute("INSERT INTO public.floats VALUES ('a', 0.1, 1), ('b', 1, 1), ('c', 1, 1), ('d', 1, 1)")
    rules = file_rules(tmp_path, "floats",
                       "id,r,d\na,0.1000000001,1\nb,1e39,1e-400\nc,1e-50,1e-310\nd,-Infinity,-0.0e5\n",
                       "  r: {column: r}\n  d: {column: d}\n")
    plan = api.plan(rules, dsn=pg_dsn)
    assert sorted((d.record_key, d.field, d.status) for d in plan.differences) == [
        ("b", "d", "invalid"), ("b", "r", "invalid"), ("c", "d", "changed"), ("c", "r", "invalid"),
        ("d", "d", "changed"), ("d", "r", "changed")]
    result = api.run(rules, dsn=pg_dsn)
    assert (result.status, result.written) == ("succeeded", 3)
    again = api.plan(rules, dsn=pg_dsn)
    assert (again.changed_rows, again.invalid) == (0, 3), "a second run would rewrite"
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT id, r::text, d::text FROM public.floats ORDER BY id").fetchall() == [
            ("a", "0.1", "1"), ("b", "1", "1"), ("c", "1", "1e-310"), ("d", "-Infinity", "-0")]


def test_a_sheet_date_postgresql_cannot_hold_is_invalid_not_written_otherwise(pg_dsn, tmp_path: Path):
    """PostgreSQL has no year 0 and refuses '0000-01-01'; DuckDB reads it as 1 BC, which it
    then wrote. Its dates end at 5874897-12-31, DuckDB's later: such a date failed the write
    and the run. Now such a cell is invalid, whether the final cast or a transform (to_date)
    read it; a timestamptz's year is taken as written ('0000-12-31 23:00:00-05' is year 0,
    though in UTC it is the year 1)."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE public.days (id text PRIMARY KEY, d date, t timestamp, f date, z timestamptz)")
        conn.execute("INSERT INTO public.days SELECT id, '2024-01-01', '2024-01-01', '2024-01-01', '2024-01-01 00:00:00+00' "
                     "FROM unnest(ARRAY['a', 'b', 'c']) AS id")
    rules = file_rules(tmp_path, "days", "id,d,t,f,z\n"
                       "a,0000-01-01,0000-06-01 10:00:00,0000-03-01,0000-12-31 23:00:00-05\n"
                       "b,0001-01-01,0001-01-01 00:00:00,0001-01-01,0001-01-02 00:00:00+00\n"
                       "c,5874898-01-01,2024-01-01 00:00:00,2024-01-01,2024-01-01 00:00:00+00\n",
                       "  d: {column: d}\n  t: {column: t}\n"
                       "  f: {column: f, transform: [{to_date: {formats: ['%Y-%m-%d']}}]}\n  z: {column: z}\n")
    plan = api.plan(rules, dsn=pg_dsn)
    assert sorted((d.record_key, d.field, d.status) for d in plan.differences) == [
        ("a", "d", "invalid"), ("a", "f", "invalid"), ("a", "t", "invalid"), ("a", "z", "invalid"),
        ("b", "d", "changed"), ("b", "f", "changed"), ("b", "t", "changed"), ("b", "z", "changed"),
        ("c", "d", "invalid")]
    result = api.run(rules, dsn=pg_dsn)
    assert (result.status, result.written) == ("succeeded", 4)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        assert conn.execute("SELECT id, d::text, t::text, f::text, z::text FROM public.days ORDER BY id").fetchall() == [
            ("a", "2024-01-01", "2024-01-01 00:00:00", "2024-01-01", "2024-01-01 00:00:00+00"),
            ("b", "0001-01-01", "0001-01-01 00:00:00", "0001-01-01", "0001-01-02 00:00:00+00"),
            ("c", "2024-01-01", "2024-01-01 00:00:00", "2024-01-01", "2024-01-01 00:00:00+00")]


def test_text_hashed_fields_against_postgresql(pg_dsn, tmp_path: Path):
    """Integer and numeric(p,s) fields read with to_integer/to_decimal are hashed as
    PostgreSQL's text: cells written otherwise (1.5 for 1.50, 007) are equal values, a NaN cell
    is invalid though the table holds NaN, a blank made NULL equals NULL, and a change is
    written and then found no more."""
    rules = _seeded(pg_dsn, tmp_path, "amounts", "n numeric(10,2), i integer",
                    "('a', 1.5, 7), ('b', 'NaN', 7), ('c', NULL, 7), ('d', 2, 8)",
                    "id,n,i\na,1.5,007\nb,NaN,7\nc,,7\nd,2.00,9\n",
                    "  n: {column: n, transform: [trim, empty_to_null, to_decimal]}\n"
                    "  i: {column: i, transform: [to_integer]}\n")
    plan = api.plan(rules, dsn=pg_dsn)
    assert _differences(plan) == [("b", "n", "invalid", "NaN"), ("d", "i", "changed", "8")]
    result = api.run(rules, dsn=pg_dsn)
    assert (result.status, result.written) == ("succeeded", 1)
    again = api.plan(rules, dsn=pg_dsn)
    assert (again.changed_rows, again.invalid) == (0, 1)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT id, n::text, i FROM public.amounts ORDER BY id").fetchall() == [
            ("a", "1.50", 7), ("b", "NaN", 7), ("c", None, 7), ("d", "2.00", 9)]


def _differences(plan) -> list[tuple]:
    """A plan's differences as sorted (record, field, status, table value)."""
    return sorted((d.record_key, d.field, d.status, d.table_value) for d in plan.differences)


def _seeded(pg_dsn: str, tmp_path: Path, table: str, columns: str, values: str, csv: str, fields: str):
    """public.<table> (id text key, ``columns``) holding ``values``, and rules reading ``csv``."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(f"CREATE TABLE public.{table} (id text PRIMARY KEY, {columns})")
        conn.execute(f"INSERT INTO public.{table} VALUES {values}")
    return file_rules(tmp_path, table, csv, fields)
