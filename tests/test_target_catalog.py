"""The catalog read (columns, types, row count) and its errors, and the key checks in SQL."""
from __future__ import annotations

import pytest

from engine import target
from engine.errors import DataError, MappingError
from support import tables


def test_read_table_info_types_and_count(pg_dsn):
    tables.create(pg_dsn, rows=[(i,) + (None,) * 9 for i in range(3)])
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
    assert info.qualified == "public.items" and info.row_count == 3
    assert info.key.name == "id" and info.key.pg_type == "integer" and not info.key.nullable
    assert {n: c.pg_type for n, c in info.columns.items()} == {
        "note": "text", "code": "character varying(5)", "amount": "numeric(12,2)", "ratio": "double precision",
        "ok": "boolean", "due": "date", "seen": "timestamp with time zone", "ref": "uuid", "doc": "jsonb"}
    assert list(info.columns) == list(tables.TYPED_FIELDS)


def test_read_table_info_only_selected_fields(pg_dsn):
    tables.create(pg_dsn)
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules(), ["amount"])
    assert list(info.columns) == ["amount"]


def test_missing_table_names_schema_and_similar_tables(pg_dsn):
    tables.create(pg_dsn, table="itemz")
    tables.create(pg_dsn, "CREATE SCHEMA other; CREATE TABLE other.items (id int)", table="unused")
    with target.connect(pg_dsn) as conn, pytest.raises(MappingError) as info:
        target.read_table_info(conn, tables.rules())
    err = info.value
    assert "public.items not found" in err.message and "'public'" in err.message
    assert "other.items" in err.hint and "itemz" in err.hint
    assert (err.location.path, err.location.line) == (tables.RULE_PATH, 4)


def test_missing_columns_are_all_listed_with_suggestions(pg_dsn):
    tables.create(pg_dsn)
    rules = tables.rules(fields=("note", "amout", "dues", "zzz_unknown"))
    with target.connect(pg_dsn) as conn, pytest.raises(MappingError) as info:
        target.read_table_info(conn, rules)
    err = info.value
    assert err.details["missing"] == ["amout", "dues", "zzz_unknown"]
    assert "3 mapped column(s) missing" in err.message
    assert "'amout' (rules/items.yaml:11) (closest: amount)" in err.message
    assert "'dues' (rules/items.yaml:12) (closest: due" in err.message
    assert "'zzz_unknown' (rules/items.yaml:13)" in err.message
    assert err.location.line == 11


def test_missing_key_column(pg_dsn):
    tables.create(pg_dsn)
    with target.connect(pg_dsn) as conn, pytest.raises(MappingError) as info:
        target.read_table_info(conn, tables.rules(key="idd"))
    assert "key column 'idd'" in info.value.message and "id" in info.value.hint
    assert info.value.location.line == 6


NO_PK = "CREATE TABLE {t} (code text, note text)"


def test_check_table_keys_reports_nulls_and_duplicates(pg_dsn):
    rows = [("a", "1"), ("a", "2"), ("b", "x"), ("c", None), ("c", None), ("c", None), (None, "n"), (None, "m"),
            ("d", "ok")] + [(f"k{i}", None) for i in range(3)] + [(f"z{i}", None) for i in range(6) for _ in (0, 1)]
    tables.create(pg_dsn, NO_PK, table="loose", rows=rows, columns=("code", "note"))
    rules = tables.rules("loose", ("note",), key="code")
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, rules)
        with pytest.raises(DataError) as err:
            target.check_table_keys(conn, info)
    d = err.value.details
    assert err.value.code == "RC201" and err.value.exit_code == 1  # duplicates name the error when both
    assert d["null_keys"] == 2 and d["duplicate_keys"] == 8 and d["duplicate_rows"] == 17
    assert d["sample"] == ["a", "c", "z0", "z1", "z2"]
    assert "2 row(s) with a NULL key" in err.value.message and "8 key(s) on more than one row" in err.value.message


def test_check_table_keys_passes_a_clean_table_without_pk(pg_dsn):
    tables.create(pg_dsn, NO_PK, table="loose", rows=[("a", "1"), ("b", None)], columns=("code", "note"))
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules("loose", ("note",), key="code"))
        target.check_table_keys(conn, info)  # no error
        assert not target.key_is_unique(conn, info)


def test_primary_key_is_unique(pg_dsn):
    tables.create(pg_dsn)
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        assert target.key_is_unique(conn, info)
        target.check_table_keys(conn, info)


def test_check_table_keys_nulls_alone_are_rc202(pg_dsn):
    tables.create(pg_dsn, NO_PK, table="loose", rows=[("a", "1"), (None, "n")], columns=("code", "note"))
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules("loose", ("note",), key="code"))
        with pytest.raises(DataError) as err:
            target.check_table_keys(conn, info)
    assert (err.value.code, err.value.details["null_keys"]) == ("RC202", 1)
