"""Target tables for the PostgreSQL-side tests: a typed table, rule sets for it, plan relations in DuckDB."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import duckdb
import psycopg
from psycopg import sql

from engine.rules.model import FieldRule, FileSource, KeyRule, Mark, RuleSet, Target

RULE_PATH = "rules/items.yaml"

# Every type the diff has to read back as text, with the value forms that break naive syncs.
TYPED_DDL = """
CREATE TABLE {t} (
    id integer PRIMARY KEY,
    note text,
    code varchar(5),
    amount numeric(12,2),
    ratio double precision,
    ok boolean,
    due date,
    seen timestamptz,
    ref uuid,
    doc jsonb,
    CHECK (note IS DISTINCT FROM 'FORBIDDEN')
)"""
TYPED_FIELDS = ("note", "code", "amount", "ratio", "ok", "due", "seen", "ref", "doc")


def rules(table: str = "items", fields: Sequence[str] = TYPED_FIELDS, *, key: str = "id",
          schema: str = "public", dsn: str | None = None) -> RuleSet:
    """A rule set for ``schema.table``, with marks so errors can point at lines."""
    return RuleSet(
        version=1, name=table, source=FileSource(path=Path("/nonexistent.csv")),
        target=Target(dsn=dsn, schema=schema, table=table, mark=Mark(RULE_PATH, 4, 3)),
        key=KeyRule(field=key, column=key.upper(), mark=Mark(RULE_PATH, 6, 3)),
        fields=tuple(FieldRule(f, f.upper(), mark=Mark(RULE_PATH, 10 + i, 5)) for i, f in enumerate(fields)),
        hash="h", path=None)


def create(dsn: str, ddl: str = TYPED_DDL, table: str = "items", rows: Iterable[Sequence] = (),
           columns: Sequence[str] | None = None) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        t = sql.Identifier(table)
        conn.execute(sql.SQL(ddl).format(t=t))
        rows = list(rows)
        if rows:
            cols = sql.SQL(", ").join(map(sql.Identifier, columns or ("id",) + TYPED_FIELDS))
            with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(t, cols)) as cp:
                for row in rows:
                    cp.write_row(row)


def fetch(dsn: str, query: str, params: Sequence | None = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return conn.execute(query, params).fetchall()


def plan_tables(duck: duckdb.DuckDBPyConnection, changes: Iterable[tuple] = (),
                inserts: Iterable[tuple] = ()) -> None:
    """The relations engine.planner makes: changes(record_key, field, old, new, sheet_row), inserts (long)."""
    duck.execute("CREATE OR REPLACE TABLE changes (record_key VARCHAR, field VARCHAR, old_value VARCHAR, "
                 "new_value VARCHAR, sheet_row INTEGER)")
    duck.execute("CREATE OR REPLACE TABLE inserts (record_key VARCHAR, sheet_row INTEGER, field VARCHAR, "
                 "new_value VARCHAR)")
    for row in changes:
        duck.execute("INSERT INTO changes VALUES (?, ?, ?, ?, ?)", list(row))
    for row in inserts:
        duck.execute("INSERT INTO inserts VALUES (?, ?, ?, ?)", list(row))
