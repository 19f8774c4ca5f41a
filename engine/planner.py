"""From the diff to what a run will write: small named passes, each testable alone.

``build_plan`` copies the diff into ``plan_diff`` and runs the passes in order:

1. ``select_fields`` and ``select_keys``: the targeted re-sync (``--fields``, ``--key``);
2. ``planned_updates``: changed fields of existing rows become ``changes``;
3. ``new_rows_policy``: new rows become ``inserts`` (``insert``), stay reported, or are dropped;
4. ``apply_on_invalid``: an unreadable cell keeps the table value, writes NULL, writes the
   field's default, or stops the plan (``fail``) before anything is written;
5. ``drop_never``: fields compared ``never`` are reported, never written;
6. ``missing_rows_policy``: rows only in the table are reported or not; never deleted;
7. ``guard_max_changed_rows``: a refusal is a value in the result, not an exception.

The apply step reads two DuckDB tables: ``changes(record_key, field, old_value, new_value,
sheet_row)`` and ``inserts(record_key, sheet_row, field, new_value)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import duckdb

from .columns import SNAPSHOT_KEY, TableInfo
from .diff import DiffSummary
from .duck_types import duck_type, render_sql
from .errors import DataError
from .results import Change, DiffRow, FieldCounts, PlanResult
from .rules.model import Policy, RowLimit, RuleSet
from .transforms import apply_chain, final_cast, ident

PLAN_DIFF = "plan_diff"
CHANGES = "changes"
INSERTS = "inserts"
PLAN_KEYS = "plan_keys"
INVALID_FAIL = "RC203"
BAD_DEFAULT = "RC205"


@dataclass(frozen=True)
class Plan:
    """The plan's figures and samples, and the DuckDB tables holding every planned write."""

    result: PlanResult
    fields_to_write: tuple[str, ...] = ()
    changes: str = CHANGES
    inserts: str = INSERTS
    diff: str = PLAN_DIFF  # the diff after selectors and policies (what is reported)


def _count(con: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] = ()) -> int:
    return int(con.execute(query, list(params)).fetchall()[0][0])


# -- 1. selectors -------------------------------------------------------------------------------

def select_fields(con: duckdb.DuckDBPyConnection, fields: Sequence[str] | None, *, rows: str = PLAN_DIFF) -> None:
    """Keep only rows of ``fields`` (row-level statuses, whose field is NULL, always stay)."""
    if fields is None:
        return
    con.execute(f"DELETE FROM {ident(rows)} WHERE field IS NOT NULL AND NOT list_contains(?::VARCHAR[], field)",
                [list(fields)])


def select_keys(con: duckdb.DuckDBPyConnection, rules: RuleSet, table_info: TableInfo, keys: Sequence[str] | None,
                *, rows: str = PLAN_DIFF, selected: str = PLAN_KEYS) -> None:
    """Keep only rows of ``keys``, given as a user typed them.

    The keys go through the key's transforms and type, as sheet keys do, and are compared
    typed to ``record_key`` (so ``--key 0042`` finds integer key 42). The typed keys are kept
    in ``selected`` for the counts.
    """
    if keys is None:
        return
    key_type = duck_type(table_info.key.pg_type)
    typed = [v for v, err in apply_chain(con, rules.key.transforms, list(keys), table_info.key.pg_type) if v]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(selected)} AS "
                f"SELECT DISTINCT TRY_CAST(unnest(?::VARCHAR[]) AS {key_type}) AS key_value", [typed])
    con.execute(f"DELETE FROM {ident(rows)} WHERE record_key IS NULL OR TRY_CAST(record_key AS {key_type}) "
                f"NOT IN (SELECT key_value FROM {ident(selected)} WHERE key_value IS NOT NULL)")


# -- 2. updates and inserts ---------------------------------------------------------------------

def planned_updates(con: duckdb.DuckDBPyConnection, *, rows: str = PLAN_DIFF, changes: str = CHANGES) -> None:
    """``changes``: one row per changed field of an existing row (old = the snapshot's text)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(changes)} AS "
                f"SELECT record_key, field, table_value AS old_value, sheet_value AS new_value, sheet_row "
                f"FROM {ident(rows)} WHERE status = 'changed'")


def new_rows_policy(con: duckdb.DuckDBPyConnection, policy: Policy, *, rows: str = PLAN_DIFF,
                    inserts: str = INSERTS) -> None:
    """``insert``: new rows into ``inserts``; ``report``: reported only; ``ignore``: not even reported."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(inserts)} AS "
                f"SELECT record_key, sheet_row, field, sheet_value AS new_value FROM {ident(rows)} "
                f"WHERE status = 'new_row' AND field IS NOT NULL AND ?", [policy.new_rows == "insert"])
    if policy.new_rows == "ignore":
        con.execute(f"DELETE FROM {ident(rows)} WHERE status = 'new_row'")


def apply_on_invalid(con: duckdb.DuckDBPyConnection, rules: RuleSet, table_info: TableInfo, *,
                     rows: str = PLAN_DIFF, changes: str = CHANGES, inserts: str = INSERTS,
                     target: str = "target") -> None:
    """What each field's ``on_invalid`` makes of its invalid cells.

    ``keep``: nothing written. ``null``: NULL written where the table's value is not NULL.
    ``default``: the field's default written where the table holds something else. New rows
    (when inserted) get NULL or the default the same way. ``fail``: ``DataError`` naming the
    field, record and cell; raised while planning, so before anything is written.
    """
    invalid = dict(con.execute(f"SELECT field, count(*) FROM {ident(rows)} WHERE status = 'invalid' "
                               f"GROUP BY field").fetchall())
    for rule in rules.fields:
        if not invalid.get(rule.name) or rule.on_invalid == "keep":
            continue
        if rule.on_invalid == "fail":
            _fail(con, rows, rule.name, invalid[rule.name])
        value = None if rule.on_invalid == "null" else _default_text(con, rule.name, rule.default, table_info)
        _write_instead(con, rule.name, value, table_info, rows, changes,
                       inserts if rules.policy.new_rows == "insert" else None, target)


def _fail(con: duckdb.DuckDBPyConnection, rows: str, name: str, count: int) -> None:
    record, row, raw, message = con.execute(
        f"SELECT record_key, sheet_row, raw_value, message FROM {ident(rows)} WHERE status = 'invalid' "
        f"AND field = ? ORDER BY sheet_row LIMIT 1", [name]).fetchall()[0]
    raise DataError(
        f"field {name!r} is invalid in {count} row(s) and its on_invalid is fail; first: record {record!r} "
        f"(sheet row {row}), cell {raw!r}: {message}", code=INVALID_FAIL,
        hint="fix the cells, or choose on_invalid: keep, null or default for this field",
        details={"field": name, "record_key": record, "sheet_row": row, "cell": raw, "count": count})


def _default_text(con: duckdb.DuckDBPyConnection, name: str, default: Any, table_info: TableInfo) -> str | None:
    """The field's default as the column's type prints it; a default the type refuses is an error."""
    if default is None:
        return None
    pg_type = table_info.columns[name].pg_type
    dtype = duck_type(pg_type)
    text = "true" if default is True else "false" if default is False else str(default)
    # The cast a cell gets, so 1.5 is no integer (DuckDB's own cast rounds it to 2) and a text
    # longer than a varchar(n) takes is refused.
    typed = final_cast("v", "VARCHAR", dtype, pg_type).value
    rendered = con.execute(f"SELECT {render_sql(typed, dtype)} FROM (SELECT ?::VARCHAR AS v)", [text]).fetchall()[0][0]
    if rendered is None:
        raise DataError(f"field {name!r}: default {default!r} is not a valid {pg_type}", code=BAD_DEFAULT,
                        details={"field": name})
    return rendered


def _write_instead(con: duckdb.DuckDBPyConnection, name: str, value: str | None, table_info: TableInfo,
                   rows: str, changes: str, inserts: str | None, target: str) -> None:
    dtype = duck_type(table_info.columns[name].pg_type)
    existing = f"record_key IN (SELECT {ident(SNAPSHOT_KEY)} FROM {ident(target)})"
    con.execute(f"INSERT INTO {ident(changes)} SELECT record_key, field, table_value, ?, sheet_row "
                f"FROM {ident(rows)} WHERE status = 'invalid' AND field = ? AND {existing} "
                f"AND TRY_CAST(table_value AS {dtype}) IS DISTINCT FROM TRY_CAST(?::VARCHAR AS {dtype})",
                [value, name, value])
    if inserts is not None:
        con.execute(f"INSERT INTO {ident(inserts)} SELECT record_key, sheet_row, field, ? FROM {ident(rows)} "
                    f"WHERE status = 'invalid' AND field = ? AND NOT {existing}", [value, name])


def drop_never(con: duckdb.DuckDBPyConnection, rules: RuleSet, *, changes: str = CHANGES,
               inserts: str = INSERTS) -> None:
    """Fields compared ``never`` stay in the diff (reported) and leave ``changes`` and ``inserts``."""
    never = [f.name for f in rules.fields if f.compare.kind == "never"]
    for table in (changes, inserts):
        con.execute(f"DELETE FROM {ident(table)} WHERE list_contains(?::VARCHAR[], field)", [never])


def missing_rows_policy(con: duckdb.DuckDBPyConnection, policy: Policy, *, rows: str = PLAN_DIFF) -> None:
    """``report``: rows only in the table are reported; ``ignore``: not. They are never deleted."""
    if policy.missing_rows == "ignore":
        con.execute(f"DELETE FROM {ident(rows)} WHERE status = 'missing_row'")


def guard_max_changed_rows(limit: RowLimit | None, changed_rows: int, inserted_rows: int,
                           table_rows: int) -> str | None:
    """Why ``max_changed_rows`` refuses the plan, or None when it allows it.

    >>> guard_max_changed_rows(RowLimit(percent=10), 5, 6, 100)
    'the plan changes 11 row(s) (5 updated, 6 inserted), more than max_changed_rows 10% of 100 table rows'
    >>> guard_max_changed_rows(RowLimit(count=11), 5, 6, 100) is None
    True
    """
    total = changed_rows + inserted_rows
    if limit is None or limit.allows(total, table_rows):
        return None
    shown = f"{limit.count}" if limit.count is not None and total > limit.count else \
        f"{limit.percent:g}% of {table_rows} table rows"
    return (f"the plan changes {total} row(s) ({changed_rows} updated, {inserted_rows} inserted), "
            f"more than max_changed_rows {shown}")


# -- the whole plan -----------------------------------------------------------------------------

def build_plan(con: duckdb.DuckDBPyConnection, rules: RuleSet, summary: DiffSummary, table_info: TableInfo, *,
               fields: Sequence[str] | None = None, keys: Sequence[str] | None = None,
               sample_limit: int = 50) -> Plan:
    """Run the passes over ``summary``'s diff and return the plan (tables ``changes``, ``inserts``)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(PLAN_DIFF)} AS SELECT * FROM {ident(summary.table)}")
    chosen = [f for f in summary.field_names if fields is None or f in fields]
    select_fields(con, chosen)
    select_keys(con, rules, table_info, keys)
    planned_updates(con)
    new_rows_policy(con, rules.policy)
    apply_on_invalid(con, rules, table_info, target=summary.target)
    drop_never(con, rules)
    missing_rows_policy(con, rules.policy)
    changed = _count(con, f"SELECT count(DISTINCT record_key) FROM {ident(CHANGES)}")
    inserted = _count(con, f"SELECT count(DISTINCT record_key) FROM {ident(INSERTS)}")
    refused = guard_max_changed_rows(rules.policy.max_changed_rows, changed, inserted, table_info.row_count)
    never = {f.name for f in rules.fields if f.compare.kind == "never"}
    result = PlanResult(
        rule_name=rules.name, table=table_info.qualified,
        fields=_field_counts(con, summary, chosen, keys is not None),
        sheet_rows=summary.sheet_rows, table_rows=table_info.row_count, changed_rows=changed,
        new_rows=_new_rows(con, rules.policy, summary.target),
        missing_rows=_status_count(con, "missing_row"),
        duplicate_keys=_count(con, f"SELECT count(DISTINCT record_key) FROM {ident(PLAN_DIFF)} "
                                   f"WHERE status = 'duplicate_key'"),
        invalid=_status_count(con, "invalid"),
        changes=_sample_changes(con, sample_limit), differences=_sample_diff(con, sample_limit),
        refused=refused,
        selectors={"fields": list(fields or []), "keys": list(keys or []), "new_rows": rules.policy.new_rows,
                   "missing_rows": rules.policy.missing_rows})
    return Plan(result, tuple(f for f in chosen if f not in never))


def _new_rows(con: duckdb.DuckDBPyConnection, policy: Policy, target: str) -> int:
    """Distinct new records still reported (a new record may have only invalid cells)."""
    if policy.new_rows == "ignore":
        return 0
    return _count(con, f"SELECT count(DISTINCT record_key) FROM {ident(PLAN_DIFF)} WHERE status = 'new_row' "
                       f"OR (status = 'invalid' AND record_key NOT IN (SELECT {ident(SNAPSHOT_KEY)} FROM {ident(target)}))")


def _status_count(con: duckdb.DuckDBPyConnection, status: str) -> int:
    return _count(con, f"SELECT count(*) FROM {ident(PLAN_DIFF)} WHERE status = ?", [status])


def _field_counts(con: duckdb.DuckDBPyConnection, summary: DiffSummary, chosen: Sequence[str],
                  by_key: bool) -> tuple[FieldCounts, ...]:
    per_field = {name: (d, i) for name, d, i in con.execute(
        f"SELECT field, count(*) FILTER (WHERE status = 'changed'), count(*) FILTER (WHERE status = 'invalid') "
        f"FROM {ident(PLAN_DIFF)} WHERE field IS NOT NULL GROUP BY field").fetchall()}
    compared = summary.matched_rows
    if by_key:  # only the selected keys were compared
        compared = _count(con, f"SELECT count(*) FROM {ident(summary.sheet_keys)} AS s "
                               f"JOIN {ident(summary.target)} AS t "
                               f"ON s.key_value = TRY_CAST(t.{ident(SNAPSHOT_KEY)} AS {summary.key_type}) "
                               f"WHERE s.occurrences = 1 AND s.key_value IN (SELECT key_value FROM {ident(PLAN_KEYS)})")
    return tuple(FieldCounts(name, compared=compared, differing=per_field.get(name, (0, 0))[0],
                             invalid=per_field.get(name, (0, 0))[1]) for name in chosen)


def _sample_changes(con: duckdb.DuckDBPyConnection, limit: int) -> tuple[Change, ...]:
    rows = con.execute(
        f"SELECT record_key, field, old_value, new_value, sheet_row, 'update' FROM {ident(CHANGES)} "
        f"UNION ALL SELECT record_key, field, NULL, new_value, sheet_row, 'insert' FROM {ident(INSERTS)} "
        f"ORDER BY sheet_row NULLS LAST, record_key, field LIMIT ?", [limit]).fetchall()
    return tuple(Change(*r) for r in rows)


def _sample_diff(con: duckdb.DuckDBPyConnection, limit: int) -> tuple[DiffRow, ...]:
    rows = con.execute(
        f"SELECT record_key, field, status, sheet_row, raw_value, sheet_value, table_value, message "
        f"FROM {ident(PLAN_DIFF)} ORDER BY sheet_row NULLS LAST, record_key, field LIMIT ?", [limit]).fetchall()
    return tuple(DiffRow(*r) for r in rows)


__all__ = ["CHANGES", "INSERTS", "PLAN_DIFF", "Plan", "apply_on_invalid", "build_plan", "drop_never",
           "guard_max_changed_rows", "missing_rows_policy", "new_rows_policy", "planned_updates", "select_fields",
           "select_keys"]
