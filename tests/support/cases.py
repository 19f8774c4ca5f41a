"""Build diff inputs directly in DuckDB: a sheet table, a target snapshot, and the rule objects.

Used by the diff, plan and case tests; no PostgreSQL involved (the snapshot is what the
PostgreSQL side would have written: ``SNAPSHOT_KEY`` plus one VARCHAR column per field).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import duckdb

from engine.columns import SNAPSHOT_KEY, ColumnMap, ColumnRef, ColumnType, TableInfo
from engine.rules.model import (Comparison, FieldRule, FileSource, KeyRule, Policy, RowLimit, RuleSet, Target,
                                Transform)
from engine.sources import column_letter
from engine.transforms import ident

if TYPE_CHECKING:
    from engine.diff import HashedTarget


@dataclass(frozen=True)
class FieldSpec:
    name: str
    pg_type: str = "text"
    transforms: tuple[Transform, ...] = ()
    compare: Comparison = Comparison()
    on_invalid: str = "keep"
    default: Any = None


@dataclass
class World:
    rules: RuleSet
    columns: ColumnMap
    table_info: TableInfo
    fields: list[FieldSpec] = field(default_factory=list)


def transform(item: Any) -> Transform:
    """A transform from its rule-file spelling: ``"trim"`` or ``{"map": {...}}`` (normal form args)."""
    from engine.rules.loader import transform_args

    if isinstance(item, str):
        return Transform(item, transform_args(item, None))
    name, args = next(iter(item.items()))
    return Transform(name, transform_args(name, args))


def comparison(spec: Any) -> Comparison:
    from engine.rules.loader import comparison as parse

    return parse(spec or "exact")


def build(con: duckdb.DuckDBPyConnection, fields: Sequence[FieldSpec], sheet_rows: Sequence[Mapping[str, str]],
          table_rows: Sequence[Mapping[str, Any]], *, key_type: str = "text",
          key_transforms: Sequence[Transform] = (), policy: Policy = Policy(),
          table_count: int | None = None) -> World:
    """Write ``sheet`` and ``target`` into ``con`` and return the matching rule objects.

    Sheet rows are dicts keyed by "key" and field names (missing cells are ''); the sheet's
    header order is key first, then fields. Table rows: "key" and field values (None = NULL).
    """
    names = ["key"] + [f.name for f in fields]
    con.execute("DROP TABLE IF EXISTS sheet")
    cols = ", ".join(f"c{i + 1} VARCHAR" for i in range(len(names)))
    con.execute(f"CREATE TABLE sheet (_row INTEGER, {cols})")
    if sheet_rows:
        con.executemany(f"INSERT INTO sheet VALUES ({', '.join('?' * (len(names) + 1))})",
                        [[i + 2] + [str(r.get(n, "")) for n in names] for i, r in enumerate(sheet_rows)])
    con.execute("DROP TABLE IF EXISTS target")
    tcols = ", ".join([f'{ident(SNAPSHOT_KEY)} VARCHAR'] + [f'"{f.name}" VARCHAR' for f in fields])
    con.execute(f"CREATE TABLE target ({tcols})")
    if table_rows:
        con.executemany(f"INSERT INTO target VALUES ({', '.join('?' * len(names))})",
                        [[_text(r.get(n)) for n in names] for r in table_rows])
    refs = {n: ColumnRef(i + 1, column_letter(i + 1), n) for i, n in enumerate(names)}
    columns = ColumnMap(key=refs["key"], fields={f.name: refs[f.name] for f in fields})
    info = TableInfo("public", "t", ColumnType("key", key_type, nullable=False),
                     {f.name: ColumnType(f.name, f.pg_type) for f in fields},
                     row_count=len(table_rows) if table_count is None else table_count)
    rules = RuleSet(version=1, name="cases", source=FileSource(Path("/dev/null")),
                    target=Target(None, "public", "t"), key=KeyRule("key", "key", tuple(key_transforms)),
                    fields=tuple(FieldRule(f.name, f.name, tuple(f.transforms), f.compare, f.on_invalid,
                                           f.default) for f in fields),
                    policy=policy)
    return World(rules, columns, info, list(fields))


@dataclass
class HashedSide:
    """The table side of a world as the engine's hash snapshot: ``target("key#", h)``; the text
    stays in ``target_text``, from which ``fetch`` copies rows as PostgreSQL would."""

    con: duckdb.DuckDBPyConnection
    fetched: list[list[str] | None] = field(default_factory=list)  # every fetch's keys, None for all

    def fetch(self, keys: Sequence[str] | None, table: str) -> int:
        self.fetched.append(None if keys is None else sorted(keys))
        self.con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM target_text '
                         f"WHERE ? OR list_contains(?::VARCHAR[], {ident(SNAPSHOT_KEY)})",
                         [keys is None, list(keys or [])])
        return int(self.con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def hash_target(con: duckdb.DuckDBPyConnection, world: World,
                fields: Sequence[str] | None = None) -> tuple[HashedTarget, HashedSide]:
    """Turn ``build``'s text ``target`` into a hash snapshot of ``fields`` (default: all, in order)."""
    from engine.diff import HashedTarget, row_hash_sql, table_hash_columns, text_hashed_fields

    hashed = tuple(fields if fields is not None else world.table_info.columns)
    text_fields = text_hashed_fields(world.rules, world.table_info, hashed)
    con.execute("CREATE OR REPLACE TABLE target_text AS SELECT * FROM target")
    # the hash snapshot's, from text
    table_hash = row_hash_sql(table_hash_columns(world.table_info, hashed, text_fields))
    con.execute(f"CREATE OR REPLACE TABLE target AS SELECT {ident(SNAPSHOT_KEY)}, {table_hash} AS h FROM target_text")
    side = HashedSide(con)
    return HashedTarget(hashed, side.fetch, text_fields), side


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def diff_rows(con: duckdb.DuckDBPyConnection, table: str = "diff") -> list[tuple]:
    """The diff relation as sorted tuples (record_key, field, status, sheet_row, raw, sheet, table, message)."""
    rows = con.execute(f"SELECT record_key, field, status, sheet_row, raw_value, sheet_value, table_value, "
                       f"message FROM {table}").fetchall()
    return sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r))


def row_limit(value: Any) -> RowLimit | None:
    from engine.rules.loader import row_limit as parse

    return None if value is None else parse(value)


__all__ = ["FieldSpec", "HashedSide", "World", "build", "comparison", "diff_rows", "hash_target", "row_limit",
           "transform", "Decimal"]
