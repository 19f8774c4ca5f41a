"""DSN resolution, connection settings and the classification of driver errors."""
from __future__ import annotations


import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engine import target
from engine.errors import ConfigurationError, DatabaseError, TransientDatabaseError
from support import tables


def test_resolve_dsn_precedence():
    rules = tables.rules(dsn="postgresql:///from_rules")
    env = {"DATABASE_URL": "postgresql:///from_env"}
    assert target.resolve_dsn("postgresql:///cli", rules, env) == "postgresql:///cli"
    assert target.resolve_dsn(None, rules, env) == "postgresql:///from_rules"
    assert target.resolve_dsn(None, tables.rules(), env) == "postgresql:///from_env"
    assert target.resolve_dsn(None, None, env) == "postgresql:///from_env"


def test_resolve_dsn_says_every_place_it_tried():
    with pytest.raises(ConfigurationError) as info:
        target.resolve_dsn(None, tables.rules(), {})
    assert info.value.message == ("no database: tried --dsn (not given), rules/items.yaml:4 target.dsn (not set), "
                                  "$DATABASE_URL (not set)")
    assert info.value.location.line == 4


def test_connect_sets_the_session(pg_dsn):
    with target.connect(pg_dsn) as conn:
        row = conn.execute("SELECT current_setting('DateStyle'), current_setting('TimeZone'), "
                           "current_setting('extra_float_digits'), current_setting('application_name')").fetchone()
        assert not conn.autocommit
    assert row == ("ISO, MDY", "UTC", "3", "reconcile")
    with target.connect(pg_dsn, autocommit=True) as conn:
        assert conn.autocommit
        assert conn.execute("SHOW TimeZone").fetchone()[0] == "UTC"


def test_connect_failure_is_classified_without_the_password(pg_dsn):
    params = conninfo_to_dict(pg_dsn)
    bad_port = make_conninfo(pg_dsn, port="1", password="s3cretPW", connect_timeout="3")
    with pytest.raises(TransientDatabaseError) as info:
        target.connect(bad_port)
    assert "s3cretPW" not in str(info.value) and "s3cretPW" not in repr(info.value.to_dict())
    assert "cannot connect" in info.value.message
    url = f"postgresql://nobody_here:s3cretPW@{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/x"
    with pytest.raises(DatabaseError) as info:
        target.connect(url)
    assert not info.value.transient  # a role that does not exist: retrying will not help
    assert "s3cretPW" not in str(info.value)
    assert "nobody_here:***@" in info.value.message


@pytest.mark.parametrize("option", [{"sslmode": "bogus"}, {"port": "notaport"}, {"target_session_attrs": "nope"}])
def test_a_dsn_libpq_cannot_use_is_not_worth_a_retry(pg_dsn, option):
    """libpq refuses such a DSN before any server answers, so it has no SQLSTATE, which had made
    it look like an unreachable server: RC521, 'this may pass on retry'. It never will."""
    with pytest.raises(DatabaseError) as info:
        target.connect(make_conninfo(pg_dsn, **option))
    assert not info.value.transient and info.value.code == "RC520", info.value
    assert "invalid" in info.value.message and "retry" not in (info.value.hint or "")


def test_unique_violation_is_terminal_with_details(pg_dsn):
    tables.create(pg_dsn, rows=[(1,) + (None,) * 9])
    with target.connect(pg_dsn) as conn, pytest.raises(DatabaseError) as info:
        with target.db_errors("inserting", field="id"):
            conn.execute("INSERT INTO items (id) VALUES (1)")
    err = info.value
    assert type(err) is DatabaseError and not err.transient
    assert err.details["sqlstate"] == "23505"
    assert err.details["table"] == "items" and err.details["constraint"] == "items_pkey"
    assert err.details["field"] == "id" and "field 'id'" in err.message


def test_check_violation_and_bad_value_are_terminal(pg_dsn):
    tables.create(pg_dsn, rows=[(1,) + (None,) * 9])
    with target.connect(pg_dsn) as conn:
        for statement, state in (("UPDATE items SET note = 'FORBIDDEN'", "23514"),
                                 ("UPDATE items SET code = 'toolong'", "22001"),
                                 ("SELECT nosuchcolumn FROM items", "42703")):
            with pytest.raises(DatabaseError) as info, target.db_errors():
                conn.execute(statement)
            conn.rollback()
            assert info.value.details["sqlstate"] == state and not info.value.transient


def test_serialization_failure_is_transient(pg_dsn):
    tables.create(pg_dsn, rows=[(1,) + (None,) * 9])
    first = target.connect(pg_dsn)
    second = target.connect(pg_dsn)
    try:
        for conn in (first, second):
            conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            conn.execute("SELECT note FROM items WHERE id = 1").fetchone()
        first.execute("UPDATE items SET note = 'a' WHERE id = 1")
        first.commit()
        with pytest.raises(TransientDatabaseError) as info, target.db_errors():
            second.execute("UPDATE items SET note = 'b' WHERE id = 1")
        assert info.value.details["sqlstate"] == "40001"
    finally:
        first.close()
        second.close()


def test_lock_not_available_is_transient(pg_dsn):
    tables.create(pg_dsn, rows=[(1,) + (None,) * 9])
    with target.connect(pg_dsn) as holder, target.connect(pg_dsn) as waiter:
        holder.execute("SELECT * FROM items FOR UPDATE")
        waiter.execute("SET lock_timeout = '50ms'")
        with pytest.raises(TransientDatabaseError) as info, target.db_errors():
            waiter.execute("UPDATE items SET note = 'x'")
        assert info.value.details["sqlstate"] == "55P03"
