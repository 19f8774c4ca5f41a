"""A typed table and hand-made "writes" (logged like the engine logs them) for rollback tests."""
from __future__ import annotations

import json
import uuid

import psycopg
from psycopg import sql

from engine import monitor

DDL = """CREATE TABLE {t} (
    id integer PRIMARY KEY,
    note text,
    amount numeric(10,2),
    due date,
    seen timestamptz,
    flags jsonb,
    ok boolean CHECK (ok IS DISTINCT FROM false OR note IS NOT NULL)
)"""
FIELDS = ("note", "amount", "due", "seen", "flags", "ok")


def make_table(dsn: str, rows: list[tuple], name: str = "items") -> None:
    with psycopg.connect(dsn) as conn:
        monitor.ensure_tables(conn)
        t = sql.Identifier(name)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(t))
        conn.execute(sql.SQL(DDL).format(t=t))
        with conn.cursor().copy(sql.SQL("COPY {} (id, note, amount, due, seen, flags, ok) FROM STDIN").format(t)) as cp:
            for row in rows:
                cp.write_row(row)


def snapshot(dsn: str, name: str = "items") -> list[str]:
    """Every column of every row, as PostgreSQL prints the row."""
    with psycopg.connect(dsn) as conn:
        q = sql.SQL("SELECT t::text FROM {} t ORDER BY id").format(sql.Identifier(name))
        return [r[0] for r in conn.execute(q).fetchall()]


def write(dsn: str, changes: dict[tuple[int, str], str | None], *, command: str = "recover",
          backup: bool = True, name: str = "items") -> tuple[int, str]:
    """Write new values (text) like a recover does: backup first, then the write with its log."""
    backup_id = str(uuid.uuid4())
    with psycopg.connect(dsn) as conn:
        run_id = conn.execute("INSERT INTO reconcile.runs (rule_name, rule_hash, command, selectors, status) "
                              "VALUES ('items', 'h', %s, %s, 'succeeded') RETURNING id",
                              [command, json.dumps({})]).fetchone()[0]
        for (key, field), new in changes.items():
            col = sql.Identifier(field)
            old = conn.execute(sql.SQL("SELECT {}::text FROM {} WHERE id = %s").format(col, sql.Identifier(name)),
                               [key]).fetchone()[0]
            if backup:
                conn.execute("INSERT INTO reconcile.backups (backup_id, rule_name, table_schema, table_name, key_field, "
                             "record_key, field_name, value, new_value, run_id) "
                             "VALUES (%s, 'items', 'public', %s, 'id', %s, %s, %s, %s, %s)",
                             [backup_id, name, str(key), field, old, new, run_id])
            conn.execute(sql.SQL("UPDATE {} SET {} = %s::text::{} WHERE id = %s").format(
                sql.Identifier(name), col, sql.SQL(_type(field))), [new, key])
            conn.execute("INSERT INTO reconcile.field_sync_logs (run_id, rule_name, record_key, field_name, success, "
                         "old_value, new_value, kind) VALUES (%s, 'items', %s, %s, true, %s, %s, 'write')",
                         [run_id, str(key), field, old, new])
    return run_id, backup_id


def _type(field: str) -> str:  # test-only: fixed names, never user input
    return {"note": "text", "amount": "numeric", "due": "date", "seen": "timestamptz", "flags": "jsonb",
            "ok": "boolean"}[field]


def set_value(dsn: str, key: int, field: str, value: str | None, name: str = "items") -> None:
    """Someone else edits the table (a concurrent writer)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("UPDATE {} SET {} = %s::text::{} WHERE id = %s").format(
            sql.Identifier(name), sql.Identifier(field), sql.SQL(_type(field))), [value, key])
