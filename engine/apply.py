"""The plan into PostgreSQL: staging by COPY, set-based compare-and-set writes, logged as written.

``apply_changes`` runs inside the caller's data transaction and never commits. The plan's
changes are copied from DuckDB, in one COPY, into a temporary table with a column typed like
each changed field; then, per changed field, ONE ``UPDATE ... FROM`` writes every row whose
value still prints as it did in the snapshot, and the same statement logs each write and each
conflict in ``reconcile.field_sync_logs``. New rows go through one ``INSERT ... SELECT``.
``read_back`` checks, after commit, that the table holds what was written (one COPY, one query).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import duckdb
import psycopg
from psycopg import sql

from .columns import TableInfo
from .errors import DatabaseError, MappingError
from .resources import sql as sql_text
from .results import Change
from .target import db_errors, duck_ident, key_is_unique, table_ident

_BATCH = 10_000  # rows fetched from DuckDB at a time while staging


@dataclass(frozen=True)
class ApplyResult:
    """What one ``apply_changes`` wrote: per-field counts, inserted rows, and every conflict."""

    updated: Mapping[str, int] = field(default_factory=dict)  # field -> rows updated
    inserted: Mapping[str, int] = field(default_factory=dict)  # field -> values written by inserts
    inserted_rows: int = 0
    conflicts: tuple[Change, ...] = ()

    @property
    def written(self) -> dict[str, int]:
        """Field writes committed per field: updates plus inserted values."""
        out = dict(self.updated)
        for name, n in self.inserted.items():
            out[name] = out.get(name, 0) + n
        return out

    @property
    def conflicts_by_field(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for change in self.conflicts:
            out[change.field] = out.get(change.field, 0) + 1
        return out

    @property
    def total_written(self) -> int:
        return sum(self.written.values())


def apply_changes(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, table_info: TableInfo, *,
                  run_id: int, rule_name: str, changes: str = "changes", inserts: str = "inserts",
                  fields: Sequence[str]) -> ApplyResult:
    """Write the DuckDB ``changes`` and ``inserts`` relations of ``fields`` to the table.

    Compare-and-set: a row whose value changed since the snapshot is a conflict (logged, not
    written). Runs in a savepoint of the caller's transaction; never commits. Nothing to write
    means no statement touches the table. A failing statement raises a classified
    ``DatabaseError`` with ``details["field"]``.
    """
    _check_fields(table_info, fields)
    updated: dict[str, int] = {}
    conflicts: list[Change] = []
    try:
        with conn.transaction():
            names = _fields_with_rows(duck, changes, fields)
            stage = _stage_changes(conn, duck, table_info, changes, names) if names else None
            for fi, name in enumerate(names):
                n, lost = _update_field(conn, table_info, stage, fi, name, run_id, rule_name)
                updated[name] = n
                conflicts += lost
            inserted, inserted_rows, lost = _insert_rows(conn, duck, table_info, inserts, fields, run_id, rule_name)
    except DatabaseError as err:  # the savepoint is rolled back: the catalog can be asked which field
        raise _with_field(conn, table_info, err, fields) from err
    return ApplyResult(updated, inserted, inserted_rows, tuple(conflicts + lost))


def read_back(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, table_info: TableInfo, *,
              changes: str = "changes", inserts: str = "inserts", written: ApplyResult) -> list[Change]:
    """Every written field whose current value is not the value written (typed comparison).

    Run after commit. Each mismatch is a ``Change`` with ``old_value`` = what the table holds
    now and ``new_value`` = what was written. One staging COPY of every written value (conflicts
    left out) and one query, whatever the number of fields.
    """
    names = [name for name, count in written.written.items() if count]
    relations = [rel for rel in (changes, inserts) if _exists(duck, rel)]
    if not names or not relations:
        return []
    lost = sorted((c.record_key, c.field) for c in written.conflicts)
    query, params = _written_values(relations, names, lost)
    columns = ("k", *_typed_columns(names), "fi", "record_key", "new_text")
    with conn.transaction():
        stage = _stage(conn, table_info, "reconcile_readback", names,
                       [("fi", "integer"), ("record_key", "text"), ("new_text", "text")])
        statement = sql.SQL(sql_text("apply/read_back.sql")).format(
            table=table_ident(table_info), key=sql.Identifier(table_info.key.name), stage=stage,
            current=_text_by_field("t", names), written=_text_by_field("s", _typed_columns(names)))
        with db_errors(f"read-back of {table_info.qualified}"):
            _copy_from_duck(conn, duck, query, params, stage, columns)
            rows = conn.execute(statement).fetchall()
    return [Change(key, names[fi], current, new) for fi, key, current, new in rows]


# -- updates -----------------------------------------------------------------------------------

def _stage_changes(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, info: TableInfo, changes: str,
                   names: Sequence[str]) -> sql.Identifier:
    """Every planned change of ``names`` in one temp table: its field's index ``fi`` and value in
    that field's typed column (PostgreSQL parses the text; the others stay NULL).

    One CREATE, one COPY, an index on ``fi`` and one ANALYZE (so each field's UPDATE reads
    only its rows and joins them by the key's index) instead of a staging table per field:
    30 fields cost 90 round trips less.
    """
    stage = _stage(conn, info, "reconcile_stage", names, [("fi", "integer"), ("record_key", "text"),
                                                           ("old_text", "text"), ("new_text", "text"),
                                                           ("sheet_row", "integer")])
    query = (f"SELECT record_key, {_spread(len(names))}, list_position($1::VARCHAR[], field) - 1, record_key, "
             f"old_value, new_value, sheet_row FROM {duck_ident(changes)} WHERE list_contains($1::VARCHAR[], field)")
    columns = ("k", *_typed_columns(names), "fi", "record_key", "old_text", "new_text", "sheet_row")
    try:
        with db_errors(f"writing {info.qualified}"):
            _copy_from_duck(conn, duck, query, [list(names)], stage, columns)
            _index_by_field(conn, stage)
    except DatabaseError as err:
        raise _field_of_copy(err, names, key=info.key.name) from err
    return stage


def _update_field(conn: psycopg.Connection, info: TableInfo, stage: sql.Identifier, fi: int, name: str,
                  run_id: int, rule_name: str) -> tuple[int, list[Change]]:
    with db_errors(f"writing {info.qualified}", field=name):
        written, lost = conn.execute(_format("update_field.sql", info, name, stage, fi),
                                     {"run_id": run_id, "rule_name": rule_name, "field": name, "fi": fi}).fetchone()
    return int(written), [Change(k, name, old, new, row) for k, old, new, row in lost]


def _spread(n: int) -> str:
    """DuckDB SQL of ``n`` columns: the row's ``new_value`` in the column of its field, else NULL."""
    return ", ".join(f"CASE WHEN field = $1[{i + 1}] THEN new_value END" for i in range(n))


def _typed_columns(names: Sequence[str]) -> list[str]:
    return [f"c{i}" for i in range(len(names))]


# -- inserts -----------------------------------------------------------------------------------

def _insert_rows(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, info: TableInfo, inserts: str,
                 fields: Sequence[str], run_id: int, rule_name: str) -> tuple[dict[str, int], int, list[Change]]:
    """New rows, grouped by the set of fields they carry (a field a row lacks keeps its default)."""
    written: dict[str, int] = {}
    rows = 0
    lost: list[Change] = []
    if not _has_rows(duck, inserts):
        return written, rows, lost
    unique = key_is_unique(conn, info)
    writable = [f for f in fields if f != info.key.name]
    for names in _field_sets(duck, inserts, writable):
        n_rows, by_field, conflicts = _insert_group(conn, duck, info, inserts, names, writable, unique, run_id,
                                                    rule_name)
        rows += n_rows
        for name, n in by_field.items():
            written[name] = written.get(name, 0) + n
        lost += conflicts
    return written, rows, lost


def _field_sets(duck: duckdb.DuckDBPyConnection, inserts: str, wanted: Sequence[str]) -> list[list[str]]:
    """The distinct sets of writable fields that new rows carry (usually one: every mapped field)."""
    found = duck.execute(
        f"SELECT DISTINCT list_sort(list(field)) FROM {duck_ident(inserts)} "
        f"WHERE field IN (SELECT unnest(?::VARCHAR[])) GROUP BY record_key", [wanted]).fetchall()
    return [[f for f in wanted if f in set(row[0])] for row in found if row[0]]


def _insert_group(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, info: TableInfo, inserts: str,
                  names: Sequence[str], writable: Sequence[str], unique: bool, run_id: int,
                  rule_name: str) -> tuple[int, dict[str, int], list[Change]]:
    """Insert the new rows that carry exactly the fields ``names`` (of all ``writable`` ones)."""
    texts = [f"t{i}" for i in range(len(names))]
    stage = _stage(conn, info, "reconcile_insert", names,
                   [("record_key", "text"), ("sheet_row", "integer")] + [(t, "text") for t in texts])
    values = ", ".join(f"v{i}" for i in range(len(names)))
    query = f"{_new_rows(inserts, names)} SELECT record_key, {values}, record_key, sheet_row, {values} FROM rows"
    columns = ("k", *_typed_columns(names), "record_key", "sheet_row", *texts)
    statement = sql.SQL(sql_text("apply/insert_rows.sql")).format(
        table=table_ident(info), key=sql.Identifier(info.key.name),
        cols=sql.SQL(", ").join(map(sql.Identifier, names)),
        staged=sql.SQL(", ").join(sql.Identifier(f"c{i}") for i in range(len(names))),
        stage=stage,
        conflict=sql.SQL("ON CONFLICT ({}) DO NOTHING").format(sql.Identifier(info.key.name)) if unique else sql.SQL(""),
        fields=sql.SQL(", ").join(sql.SQL("({}::text, s.{})").format(sql.Placeholder(f"f{i}"), sql.Identifier(t))
                                  for i, t in enumerate(texts)))
    params: dict[str, Any] = {"run_id": run_id, "rule_name": rule_name}
    params.update({f"f{i}": name for i, name in enumerate(names)})
    action = f"inserting new rows into {info.qualified}"
    try:
        with db_errors(action):  # the COPY names the column it could not parse: the key's, or a field's
            _copy_from_duck(conn, duck, query, [*names, list(names), list(writable)], stage, columns)
    except DatabaseError as err:
        raise _field_of_copy(err, names, key=info.key.name) from err
    with db_errors(action, field=names[0] if len(names) == 1 else None):
        rows, written, lost = conn.execute(statement, params).fetchone()
    return int(rows), {k: int(v) for k, v in written.items()}, [
        Change(k, f, None, new, row, action="insert") for k, f, new, row in lost]


def _new_rows(inserts: str, names: Sequence[str]) -> str:
    """DuckDB ``WITH rows AS (...)``: one row per new record carrying exactly the fields ``names``
    of the writable ones, its values as ``v0..vN``. Parameters: the names, then the group as a
    list, then every writable field as a list."""
    values = [f"v{i}" for i in range(len(names))]
    pivot = ", ".join(f"max(new_value) FILTER (WHERE field = ${i + 1}) AS {v}" for i, v in enumerate(values))
    group_param, writable_param = f"${len(names) + 1}::VARCHAR[]", f"${len(names) + 2}::VARCHAR[]"
    return (f"WITH rows AS (SELECT record_key, min(sheet_row) AS sheet_row, {pivot} "
            f"FROM {duck_ident(inserts)} GROUP BY record_key "
            f"HAVING list_sort(list(field) FILTER (WHERE list_contains({writable_param}, field))) "
            f"= list_sort({group_param}))")


def _with_field(conn: psycopg.Connection, info: TableInfo, err: DatabaseError, fields: Sequence[str]) -> DatabaseError:
    """Name the field a failed multi-column statement was about: the error's column, else the
    first mapped column of the violated constraint (asked of the catalog after the rollback)."""
    details = err.details or {}
    if details.get("field") or err.transient:
        return err
    found = details.get("column") if details.get("column") in fields else None
    if found is None and details.get("constraint"):
        with db_errors(f"reading the constraints of {info.qualified}"):
            covered = [r[0] for r in conn.execute(sql_text("apply/constraint_columns.sql"), {
                "schema": info.schema, "table": info.table, "constraint": details["constraint"]}).fetchall()]
        found = next((c for c in covered if c in fields), None)
    return err if found is None else _naming(err, found)


def _field_of_copy(err: DatabaseError, names: Sequence[str], key: str | None = None) -> DatabaseError:
    """A COPY into a stage rejected column c<N> ('line 1, column c2: ...'): field names[N]; or
    column k, the record's key (a new row's key out of the key column's range): ``key``."""
    match = re.search(r"column (?:c(\d+)|(k))\b", (err.details or {}).get("context", ""))
    if match is None or (err.details or {}).get("field"):
        return err
    if match[2]:
        return err if key is None else _naming(err, key)
    return err if int(match[1]) >= len(names) else _naming(err, names[int(match[1])])


def _naming(err: DatabaseError, field_name: str) -> DatabaseError:
    """The error with its field, placed as ``classify`` places it: after the action."""
    action, _, reason = err.message.partition(": ")  # every write's error starts with its action
    return type(err)(f"{action}: field {field_name!r}: {reason}", details={**err.details, "field": field_name},
                     hint=err.hint)


# -- after a failure ----------------------------------------------------------------------------

def failing_record(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, info: TableInfo, *,
                   changes: str = "changes", inserts: str = "inserts", field_name: str | None,
                   fields: Sequence[str] = ()) -> str | None:
    """The record whose write the database refuses, or None.

    Called after the data transaction failed and was rolled back, so the failure can be logged
    against its record. The updates of ``field_name`` (when the error named a field), then the
    new rows carrying any of ``fields``, are staged again and written by halves, each in a
    savepoint, down to one row (about log2(n) statements); everything is rolled back after.
    None when no set fails alone, or fails only together (a constraint over rows).
    """
    try:
        found = _failing_update(conn, duck, info, changes, field_name) if field_name else None
        if found is None and _has_rows(duck, inserts):
            writable = [f for f in fields if f != info.key.name]
            for names in _field_sets(duck, inserts, writable):
                found = _failing_insert(conn, duck, info, inserts, names, writable)
                if found is not None:
                    break
        return found
    except (psycopg.Error, DatabaseError):
        return None  # the search is a courtesy; the original error is what the run reports
    finally:
        conn.rollback()


def _failing_update(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, info: TableInfo, changes: str,
                    field_name: str) -> str | None:
    stage = _stage(conn, info, "reconcile_probe", [field_name], [("record_key", "text"), ("n", "integer")])
    query = (f"SELECT record_key, new_value, record_key, row_number() OVER (ORDER BY record_key) AS n "
             f"FROM {duck_ident(changes)} WHERE field = ? ORDER BY n")
    refused = _copy_for_probe(conn, duck, query, [field_name], stage, ("k", "c0", "record_key", "n"))
    return refused or _bisect(conn, _format("probe_field.sql", info, field_name, stage), stage)


def _failing_insert(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, info: TableInfo, inserts: str,
                    names: Sequence[str], writable: Sequence[str]) -> str | None:
    stage = _stage(conn, info, "reconcile_probe_insert", names, [("record_key", "text"), ("n", "integer")])
    values = ", ".join(f"v{i}" for i in range(len(names)))
    query = (f"{_new_rows(inserts, names)} SELECT record_key, {values}, record_key, "
             f"row_number() OVER (ORDER BY record_key) AS n FROM rows ORDER BY n")
    refused = _copy_for_probe(conn, duck, query, [*names, list(names), list(writable)], stage,
                              ("k", *_typed_columns(names), "record_key", "n"))
    if refused:
        return refused
    insert = sql.SQL(sql_text("apply/probe_insert.sql")).format(
        table=table_ident(info), key=sql.Identifier(info.key.name), stage=stage,
        cols=sql.SQL(", ").join(map(sql.Identifier, names)),
        staged=sql.SQL(", ").join(map(sql.Identifier, _typed_columns(names))))
    return _bisect(conn, insert, stage)


def _copy_for_probe(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, query: str, params: list[Any],
                    stage: sql.Identifier, columns: Sequence[str]) -> str | None:
    """Stage a probe's rows (``query`` numbers them ``n`` in order); when PostgreSQL refuses a
    value while the COPY parses it (a text too long for varchar(n)), that row's record, found by
    the line the COPY names, else None. The rows first go to ``k``, the record's key."""
    try:
        _copy_from_duck(conn, duck, query, params, stage, columns)
    except psycopg.Error as err:
        line = re.search(r"\bline (\d+)\b", err.diag.context or "")
        if line is None:
            raise
        row = duck.execute(f"SELECT * FROM ({query}) WHERE n = ?", [*params, int(line[1])]).fetchone()
        return None if row is None else row[0]
    return None


def _bisect(conn: psycopg.Connection, statement: sql.Composed, stage: sql.Identifier) -> str | None:
    """The record of the one staged row (numbered ``n`` from 1) that makes ``statement`` fail."""
    low, high = 1, conn.execute(sql.SQL("SELECT count(*) FROM {}").format(stage)).fetchone()[0]
    if not high or not _refused(conn, statement, low, high):
        return None
    while low < high:
        middle = (low + high) // 2
        if _refused(conn, statement, low, middle):
            high = middle
        else:
            low = middle + 1
    return conn.execute(sql.SQL("SELECT record_key FROM {} WHERE n = %s").format(stage), [low]).fetchone()[0]


def _refused(conn: psycopg.Connection, update: sql.Composed, low: int, high: int) -> bool:
    try:
        with conn.transaction():  # a savepoint: the probe's writes never stay
            conn.execute(update, {"low": low, "high": high})
            raise psycopg.Rollback()
    except psycopg.Error:
        return True
    return False


# -- staging -----------------------------------------------------------------------------------

def _stage(conn: psycopg.Connection, info: TableInfo, name: str, typed: Sequence[str],
           extra: Iterable[tuple[str, str]]) -> sql.Identifier:
    """A temp table (k, c0..cN typed like the key and ``typed`` columns, then ``extra``)."""
    stage = sql.Identifier(name)
    typed_sql = sql.SQL("").join(sql.SQL(", {} AS {}").format(sql.Identifier(col), sql.Identifier(f"c{i}"))
                                 for i, col in enumerate(typed))
    extra_sql = sql.SQL("").join(sql.SQL(", NULL::{} AS {}").format(sql.SQL(kind), sql.Identifier(col))
                                 for col, kind in extra if kind in ("text", "integer"))
    with db_errors(f"staging writes for {info.qualified}"):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(stage))
        conn.execute(sql.SQL(sql_text("apply/stage.sql")).format(
            stage=stage, key=sql.Identifier(info.key.name), typed=typed_sql, extra=extra_sql,
            table=table_ident(info)))
    return stage


def _index_by_field(conn: psycopg.Connection, stage: sql.Identifier) -> None:
    """Index the stage by field and ANALYZE it, so each field's statement reads only its rows
    (30 scans of the whole stage were a quarter of a 1M-row run's apply, 0.25 s of 0.9 s).

    Not for the read-back stage: its one query, planned with statistics, went from 0.2 s to
    0.8 s at 1M rows (it then looks rows up by the key's index, and the first lookups into
    the pages just updated were slow)."""
    conn.execute(sql.SQL("CREATE INDEX ON {} (fi)").format(stage))
    # Only the columns the plans filter and join on: all 36 of a 30-field stage took 56 ms at 1M rows.
    conn.execute(sql.SQL("ANALYZE {} (fi, k)").format(stage))


def _copy_from_duck(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, query: str, params: list[Any],
                    stage: sql.Identifier, columns: Sequence[str]) -> None:
    """DuckDB query -> ``COPY stage FROM STDIN``, rows streamed in batches: '' stays '', NULL stays NULL.

    Rows, not a CSV file: a plan writes a few rows per field, and a file per field cost more
    than the rows (1.5 ms each, 60 per 30-field run).
    """
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(stage, sql.SQL(", ").join(map(sql.Identifier, columns)))
    result = duck.execute(query, params)
    with conn.cursor().copy(copy) as cp:
        while rows := result.fetchmany(_BATCH):
            for row in rows:
                cp.write_row(row)


def _text_by_field(alias: str, columns: Sequence[str]) -> sql.Composed:
    """SQL of the text of a staged row's field (the stage is ``s``, its field index ``s.fi``):
    ``CASE s.fi WHEN 0 THEN <alias>.<columns[0]>::text ... END``."""
    whens = [sql.SQL("WHEN {} THEN {}::text").format(sql.Literal(fi), sql.Identifier(alias, column))
             for fi, column in enumerate(columns)]
    return sql.SQL("CASE s.fi {} END").format(sql.SQL(" ").join(whens))


def _format(name: str, info: TableInfo, column: str, stage: sql.Identifier, fi: int = 0) -> sql.Composed:
    """A statement of ``sql/apply`` about ``column``, whose value is the stage's column ``c<fi>``."""
    return sql.SQL(sql_text(f"apply/{name}")).format(
        table=table_ident(info), key=sql.Identifier(info.key.name), col=sql.Identifier(column), stage=stage,
        staged=sql.Identifier(f"c{fi}"))


# -- DuckDB side -------------------------------------------------------------------------------

def _written_values(relations: Sequence[str], names: Sequence[str],
                    lost: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
    """DuckDB query of the read-back stage's rows: each written value of ``names`` (from the
    changes and the inserts), spread like ``_stage_changes``; the ``lost`` (key, field) pairs,
    which were conflicts and not written, left out."""
    union = " UNION ALL ".join(f"SELECT record_key, field, new_value FROM {duck_ident(rel)}" for rel in relations)
    query = (f"SELECT record_key, {_spread(len(names))}, list_position($1::VARCHAR[], field) - 1, record_key, "
             f"new_value FROM ({union}) AS w WHERE list_contains($1::VARCHAR[], field) "
             f"AND NOT EXISTS (SELECT 1 FROM (SELECT unnest($2::VARCHAR[]) AS k, unnest($3::VARCHAR[]) AS f) AS c "
             f"WHERE c.k = w.record_key AND c.f = w.field)")
    return query, [list(names), [k for k, _ in lost], [f for _, f in lost]]


def _fields_with_rows(duck: duckdb.DuckDBPyConnection, changes: str, fields: Sequence[str]) -> list[str]:
    if not _exists(duck, changes):
        return []
    present = {r[0] for r in duck.execute(f"SELECT DISTINCT field FROM {duck_ident(changes)}").fetchall()}
    return [f for f in fields if f in present]


def _has_rows(duck: duckdb.DuckDBPyConnection, name: str) -> bool:
    return _exists(duck, name) and duck.execute(f"SELECT EXISTS (FROM {duck_ident(name)})").fetchone()[0]


def _exists(duck: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(duck.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                             [name]).fetchone()[0])


def _check_fields(info: TableInfo, fields: Sequence[str]) -> None:
    unknown = [f for f in fields if f not in info.columns]
    if unknown:
        raise MappingError(f"cannot write {', '.join(map(repr, unknown))}: not columns of {info.qualified} "
                           f"known to this run", details={"fields": unknown})


__all__ = ["ApplyResult", "apply_changes", "failing_record", "read_back"]
