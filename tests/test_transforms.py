"""Each transform and comparison, compiled to DuckDB SQL and run on real cells."""
from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from engine.duck_types import duck_type, render_sql
from engine.rules.model import Comparison, Transform
from engine.transforms import (NFKC_TABLE, Lane, apply_chain, chain_query, compile_chain, equal_sql, ident,
                               prepare_chains, sql_literal, sql_step_error)
from support.cases import transform


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def run(con, chain, cells, pg_type="text"):
    return apply_chain(con, [transform(t) for t in chain], cells, pg_type)


def values(con, chain, cells, pg_type="text"):
    out = run(con, chain, cells, pg_type)
    assert all(err is None for _, err in out), out
    return [v for v, _ in out]


def test_trim_removes_unicode_blanks_including_full_width_space(con):
    assert values(con, ["trim"], [" a ", "a\u3000", "\u00a0\tb\n", "", "c d"]) == ["a", "a", "b", "", "c d"]


def test_collapse_whitespace(con):
    assert values(con, ["collapse_whitespace"], ["a  b", "a\u3000\u3000b\tc", " x "]) == ["a b", "a b c", " x "]


def test_nfkc_full_width_and_half_width_kana(con):
    cells = ["０９０", "ＡＢＣ", "ﾀﾅｶ", "ｶﾞ", "①", "plain", "\u3000x"]
    assert values(con, ["nfkc"], cells) == ["090", "ABC", "タナカ", "ガ", "1", "plain", " x"]


def test_nfkc_keeps_its_dictionary_to_non_ascii_texts(con):
    values(con, ["nfkc"], ["ascii only", "ＡＢ", "ＡＢ", "x"])
    assert con.execute(f"SELECT src, dst FROM {NFKC_TABLE}").fetchall() == [("ＡＢ", "AB")]


def test_lower_upper(con):
    assert values(con, ["lower"], ["AbC", "ＡＢ", "Ä"]) == ["abc", "ａｂ", "ä"]
    assert values(con, ["upper"], ["abc", "é"]) == ["ABC", "É"]


def test_empty_to_null_and_null_passes_through(con):
    assert values(con, ["empty_to_null", "trim", "upper"], ["", "x"]) == [None, "X"]


def test_null_if(con):
    assert values(con, [{"null_if": ["-", "N/A", "未定"]}], ["-", "N/A", "未定", "n/a", ""]) == [None, None, None, "n/a", ""]


def test_map_keep_null_invalid(con):
    short = {"map": {"追客中": "active", "成約": "closed"}}
    assert values(con, [short], ["追客中", "成約", "other"]) == ["active", "closed", "other"]
    as_null = {"map": {"values": {"a": "A"}, "unmapped": "null"}}
    assert values(con, [as_null], ["a", "b"]) == ["A", None]
    strict = {"map": {"values": {"a": "A", "it's": "quote"}, "unmapped": "invalid"}}
    assert run(con, [strict], ["a", "it's", "b", ""]) == [
        ("A", None), ("quote", None), (None, "map: 'b' is not one of the mapped values (a, it's)"),
        (None, "map: '' is not one of the mapped values (a, it's)")]


def test_replace_is_a_global_re2_replace_with_groups(con):
    assert values(con, [{"replace": {"pattern": ",", "with": ""}}], ["1,234,567"]) == ["1234567"]
    assert values(con, [{"replace": {"pattern": "([0-9]+)-([0-9]+)", "with": "\\2/\\1"}}], ["12-34"]) == ["34/12"]


def test_to_integer(con):
    out = run(con, ["to_integer"], ["12", " -7 ", "+3", "1,234", "12.5", "三人", "", "１２", "99999999999999999999"],
              "integer")
    assert out[:3] == [("12", None), ("-7", None), ("3", None)]
    assert [e for _, e in out[3:]] == [
        "to_integer: '1,234' is not an integer", "to_integer: '12.5' is not an integer",
        "to_integer: '三人' is not an integer", "to_integer: '' is not an integer",
        "to_integer: '１２' is not an integer", "to_integer: '99999999999999999999' is not an integer"]


def test_to_integer_reads_what_postgresql_reads_and_nothing_duckdb_alone_would(con):
    # Texts that DuckDB's own cast takes ('1_000', '0x10', '1e3', '5.') must stay invalid;
    # integers PostgreSQL reads, canonical or not ('007', '-0', blanks around), are read, up to
    # bigint's limits.
    cells = ["0", "-0", "007", "-12", "9223372036854775807", "-9223372036854775808", "\t5\n",
             "1_000", "0x10", "1e3", "5.", "9223372036854775808", "--1"]
    out = run(con, ["to_integer"], cells, "bigint")
    assert [v for v, _ in out[:7]] == ["0", "0", "7", "-12", "9223372036854775807", "-9223372036854775808", "5"]
    assert [v for v, _ in out[7:]] == [None] * 6
    assert all(e and e.endswith("is not an integer") for _, e in out[7:]), out[7:]


def test_full_width_digits_read_after_nfkc(con):
    assert values(con, ["nfkc", "trim", "to_integer"], ["１２\u3000"], "bigint") == ["12"]


def test_to_decimal_and_the_column_scale(con):
    out = run(con, ["to_decimal"], ["12.5", "-3", ".25", "1e2", "1,000", "abc", "12.35"], "numeric(12,1)")
    assert out == [("12.5", None), ("-3.0", None), ("0.3", None), ("100.0", None),
                   (None, "to_decimal: '1,000' is not a decimal number"),
                   (None, "to_decimal: 'abc' is not a decimal number"), ("12.4", None)]


def test_commas_in_numbers_need_replace(con):
    chain = [{"replace": {"pattern": ",", "with": ""}}, "to_decimal"]
    assert values(con, chain, ["1,234.5"], "numeric") == ["1234.5"]


def test_overflow_of_the_column_type_is_invalid(con):
    assert run(con, ["to_decimal"], ["123456"], "numeric(5,2)") == [
        (None, "type: '123456' is not a valid numeric(5,2)")]


def test_to_date_tries_formats_in_order(con):
    chain = [{"to_date": {"formats": ["%Y/%m/%d", "%d.%m.%Y"]}}]
    assert run(con, chain, ["2024/01/31", "31.01.2024", "2024-01-31", "2024/02/30"], "date") == [
        ("2024-01-31", None), ("2024-01-31", None),
        (None, "to_date: '2024-01-31' matches none of the formats %Y/%m/%d, %d.%m.%Y"),
        (None, "to_date: '2024/02/30' matches none of the formats %Y/%m/%d, %d.%m.%Y")]
    assert values(con, ["to_date"], ["2024-01-31", "2024/1/5"], "date") == ["2024-01-31", "2024-01-05"]


def test_to_timestamp_reads_wall_time_in_its_zone(con):
    chain = [{"to_timestamp": {"formats": ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M%z"], "timezone": "Asia/Tokyo"}}]
    out = run(con, chain, ["2024-01-31 09:00", "2024-01-31 09:00+0000", "31/01/2024"], "timestamp with time zone")
    assert out[:2] == [("2024-01-31 00:00:00+00", None), ("2024-01-31 09:00:00+00", None)]
    assert out[2][1].startswith("to_timestamp: '31/01/2024' matches none of the formats")
    assert values(con, [chain[0]], ["2024-01-31 09:00"], "timestamp without time zone") == ["2024-01-31 00:00:00"]


def test_to_boolean(con):
    chain = [{"to_boolean": {"true": ["はい", "TRUE"], "false": ["いいえ", "0"]}}]
    assert run(con, chain, ["はい", "TRUE", "いいえ", "0", "maybe"], "boolean") == [
        ("true", None), ("true", None), ("false", None), ("false", None),
        (None, "to_boolean: 'maybe' is not one of はい, TRUE (true) or いいえ, 0 (false)")]


def test_sheet_serial_date_with_fractions_and_formatted_dates(con):
    cells = ["45322", "45322.5", "45322.541666666664", "1", "2024-01-31", "2024/01/31 10:00:00", "x"]
    out = run(con, ["sheet_serial_date"], cells, "timestamp without time zone")
    assert [v for v, _ in out[:6]] == ["2024-01-31 00:00:00", "2024-01-31 12:00:00", "2024-01-31 13:00:00",
                                       "1899-12-31 00:00:00", "2024-01-31 00:00:00", "2024-01-31 10:00:00"]
    assert out[6] == (None, "sheet_serial_date: 'x' is not a serial day number or a date")
    assert values(con, ["sheet_serial_date"], ["45322.75"], "date") == ["2024-01-31"]


def test_default_fills_null_only(con):
    assert values(con, ["empty_to_null", {"default": "none"}], ["", "x"]) == ["none", "x"]
    assert values(con, ["empty_to_null", "to_integer", {"default": 0}], ["", "5"], "integer") == ["0", "5"]
    assert run(con, ["empty_to_null", "to_integer", {"default": "abc"}], [""], "integer") == [
        (None, "default: 'abc' is not a valid BIGINT")]


def test_sql_transform_is_an_expression_over_value(con):
    assert values(con, [{"sql": "regexp_extract(value, '[0-9]+')"}, "to_integer"], ["No. 42"], "integer") == ["42"]


@pytest.mark.parametrize("chain, failing", [
    ([{"sql": "upper(value)"}], None),
    (["to_integer", {"sql": "value * 100"}], None),
    ([{"to_date": {"formats": ["%Y-%m-%d"]}}, {"sql": "value + INTERVAL 1 DAY"}], None),
    ([{"sql": "value::INTEGER"}, "to_integer"], None),
    (["nfkc", {"sql": "lower(value)"}, "trim"], None),
    (["to_integer", {"sql": "upper(value)"}], (1, "BIGINT")),
    (["trim", {"sql": "value + 1"}], (1, "VARCHAR")),
    ([{"sql": "length(value)"}, {"sql": "upper(value)"}], (1, "ANY")),
    ([{"to_date": {"formats": ["%Y-%m-%d"]}}, {"sql": "lower(value)"}], (1, "DATE")),
    ([{"sql": "uper(value)"}], (0, "VARCHAR")),
])
def test_sql_step_error_names_the_step_that_every_run_would_fail_on(con, chain, failing):
    """The check `reconcile validate` runs agrees with running the chain: a step it names
    makes the chain fail in DuckDB, whatever the cells; a chain it passes runs (on cells that
    fit it: `value::INTEGER` still fails at run time on a text that is no integer)."""
    transforms = [transform(t) for t in chain]
    found = sql_step_error(con, transforms)
    assert (found[:2] if found else None) == failing
    if failing is None:
        apply_chain(con, transforms, ["7"])
    else:
        assert found[2] and "\n" not in found[2]
        with pytest.raises(duckdb.Error):
            apply_chain(con, transforms, ["7"])


def test_cell_errors_are_invalid_whatever_the_chain(con):
    out = run(con, ["trim", "empty_to_null"], ["#N/A", "#REF!", "#DIV/0!", "N/A"])
    assert [e for _, e in out] == ["cell holds the spreadsheet error '#N/A'", "cell holds the spreadsheet error '#REF!'",
                                   "cell holds the spreadsheet error '#DIV/0!'", None]


def test_first_error_of_a_chain_wins(con):
    out = run(con, [{"map": {"values": {"a": "x"}, "unmapped": "invalid"}}, "to_integer"], ["b"], "integer")
    assert out == [(None, "map: 'b' is not one of the mapped values (a)")]


def test_text_into_typed_column_without_typed_transform(con):
    assert run(con, [], ["12", "12.5", ""], "bigint") == [
        ("12", None), (None, "type: '12.5' is not a valid bigint"), (None, "type: '' is not a valid bigint")]
    assert run(con, ["trim"], ["t", "false", "maybe"], "boolean") == [
        ("true", None), ("false", None), (None, "type: 'maybe' is not a valid boolean")]
    assert values(con, [], ["ABCDEF00-0000-0000-0000-000000000000"], "uuid") == ["abcdef00-0000-0000-0000-000000000000"]


def test_literals_are_escaped_by_one_helper():
    assert sql_literal("a'b") == "'a''b'"
    assert sql_literal("x'); DROP TABLE t; --") == "'x''); DROP TABLE t; --'"
    assert ident('we"ird') == '"we""ird"'
    with pytest.raises(ValueError):
        sql_literal("nul\x00")


def test_hostile_rule_values_stay_values(con):
    hostile = "') OR 1=1 --"
    assert values(con, [{"null_if": [hostile]}, {"map": {hostile: "hit"}}], [hostile, "x"]) == [None, "x"]


# -- comparisons --------------------------------------------------------------------------------

def equal(con, cmp: Comparison, s, t, pg_type="text") -> bool:
    dtype = duck_type(pg_type)
    expr = equal_sql(cmp, f"TRY_CAST($1::VARCHAR AS {dtype})", f"TRY_CAST($2::VARCHAR AS {dtype})", dtype)
    return con.execute(f"SELECT {expr}", [s, t]).fetchall()[0][0]


@pytest.mark.parametrize("cmp, s, t, pg_type, expected", [
    (Comparison("exact"), "a", "a", "text", True),
    (Comparison("exact"), "a", "A", "text", False),
    (Comparison("exact"), None, None, "text", True),
    (Comparison("exact"), None, "", "text", False),
    (Comparison("exact"), "12.5", "12.50", "numeric(12,2)", True),
    (Comparison("ignore_case"), "Buyer@Example.COM", "buyer@example.com", "text", True),
    (Comparison("ignore_case"), "a", None, "text", False),
    (Comparison("ignore_whitespace"), "a b\u3000c", "abc", "text", True),
    (Comparison("ignore_whitespace"), "a b", "a-b", "text", False),
    (Comparison("numeric", Decimal("0.5")), "12.5", "12", "numeric(12,1)", True),
    (Comparison("numeric", Decimal("0.5")), "12.6", "12", "numeric(12,1)", False),
    (Comparison("numeric", Decimal("0.3")), "1.3", "1.0", "text", True),
    (Comparison("numeric", Decimal("0.5")), "1.2", "1", "double precision", True),
    (Comparison("numeric", Decimal(0)), "abc", "abc", "text", True),
    (Comparison("numeric", Decimal(1)), None, "1", "bigint", False),
    (Comparison("numeric", Decimal(1)), None, None, "bigint", True),
    (Comparison("never"), "a", "b", "text", False),
    (Comparison("never"), "a", "a", "text", True),
])
def test_comparisons(con, cmp, s, t, pg_type, expected):
    assert equal(con, cmp, s, t, pg_type) is expected


def test_render_round_trips_each_type(con):
    cases = {"numeric": "12.5", "numeric(12,2)": "12.50", "timestamp with time zone": "2024-01-31 10:00:00+00",
             "boolean": "true", "date": "2024-01-31", "double precision": "0.1", "bigint": "-5"}
    for pg_type, text in cases.items():
        dtype = duck_type(pg_type)
        assert con.execute(f"SELECT {render_sql(f'TRY_CAST(? AS {dtype})', dtype)}", [text]).fetchall()[0][0] == text


def test_nfkc_on_ascii_cells_never_reaches_python(con):
    """ASCII cells are their own NFKC: none goes to the Python-built dictionary (its speed is
    measured in bench/, not asserted here)."""
    con.execute("CREATE TABLE big AS SELECT i::INTEGER AS _row, 'name ' || i AS c FROM range(200000) t(i)")
    lanes = [Lane(ident("c"), compile_chain([Transform("trim"), Transform("nfkc")]), "VARCHAR", "text")]
    prepare_chains(con, "big", lanes)
    n = con.execute(f"SELECT count(l0_v) FROM ({chain_query('big', lanes, ['_row'])})").fetchall()[0][0]
    assert n == 200_000
    assert con.execute(f"SELECT count(*) FROM {NFKC_TABLE}").fetchall()[0][0] == 0


def test_doctests_of_the_duckdb_core_pass():
    import doctest

    import engine.duck_types
    import engine.planner
    import engine.transforms

    for module in (engine.duck_types, engine.transforms, engine.planner):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_a_value_the_column_cannot_hold_is_invalid_not_a_failed_write(con):
    """Ranges of smallint, integer and double precision, lengths of varchar(n) and character(n): PostgreSQL
    would refuse the write and with it the whole run; here the cell is invalid, and the rest
    goes on. Only spaces running over a length are cut off, as PostgreSQL cuts them."""
    assert run(con, ["to_integer"], ["2147483647", "2147483648", "-2147483649"], "integer") == [
        ("2147483647", None), (None, "type: '2147483648' is not a valid integer"),
        (None, "type: '-2147483649' is not a valid integer")]
    assert run(con, [], ["32767", "32768"], "smallint") == [
        ("32767", None), (None, "type: '32768' is not a valid smallint")]
    assert run(con, [], ["abc", "abcd", "ab    ", "田中太郎", "田中"], "character varying(3)") == [
        ("abc", None), (None, "type: 'abcd' is longer than character varying(3) holds"), ("ab ", None),
        (None, "type: '田中太郎' is longer than character varying(3) holds"), ("田中", None)]
    assert run(con, [], ["abcd", "cd    ", "ab "], "character(3)") == [  # printed without padding
        (None, "type: 'abcd' is longer than character(3) holds"), ("cd", None), ("ab", None)]
    assert run(con, ["to_decimal"], ["1e400", "-1e400", "2.5"], "double precision") == [
        (None, "type: '1e400' is not a valid double precision"),
        (None, "type: '-1e400' is not a valid double precision"), ("2.5", None)]  # DuckDB read them as infinity
    assert values(con, [], ["inf", "-Infinity"], "double precision") == ["inf", "-inf"]  # said as such: kept
