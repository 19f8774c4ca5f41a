"""``reconcile check``: is every mapped column found, in the sheet and in the table?

The original design's ``validateFieldCoverage``. It reads the sheet's header row and the
table's catalog, resolves every rule column, and counts duplicate and empty keys on both
sides. It writes nothing. A field whose sheet header drifted (renamed, re-spaced, doubled)
or whose table column is gone is a mapping problem: ``ok`` is false and the command exits 2,
before any run can silently stop syncing that field.
"""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import duckdb

from . import target
from .columns import ColumnMap, ColumnRef, HeaderProblem, TableInfo
from .errors import EXIT_OK, EXIT_USAGE, DataError, MappingError
from .rules.model import Mark, RuleSet
from .sources import SheetData, open_source
from .sources.headers import resolve

KEY_SAMPLE = 5  # duplicated keys shown per side
REFUSED_TABLE_KEYS = "a run refuses the table until the key is unique and not NULL"
SKIPPED_SHEET_KEYS = "those rows are reported as duplicate_key and never applied"

# Key statistics of the sheet in DuckDB; {key} is an expression in which an empty cell is NULL.
KEY_STATS = """
WITH k AS (SELECT CAST({key} AS TEXT) AS key FROM {table}),
     d AS (SELECT key, count(*) AS n FROM k WHERE key IS NOT NULL GROUP BY key HAVING count(*) > 1)
SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM k WHERE key IS NULL),
       (SELECT count(*) FROM d), (SELECT coalesce(sum(n), 0) FROM d),
       (SELECT (array_agg(key ORDER BY key))[1:{sample}] FROM d)
"""


@dataclass(frozen=True)
class FieldCheck:
    """One rule column: where it was found in the sheet and in the table, or why not."""

    field: str  # table column
    column: str  # sheet header the rule file asks for
    is_key: bool = False
    sheet: ColumnRef | None = None
    sheet_problem: str | None = None  # HeaderProblem.message()
    candidates: tuple[ColumnRef, ...] = ()  # closest headers (missing) or the matches (ambiguous)
    table_type: str | None = None  # format_type of the table column; None when not found/checked
    table_problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.sheet_problem is None and self.table_problem is None


@dataclass(frozen=True)
class KeyCheck:
    """Key uniqueness on one side: duplicated and empty keys, with a sample of duplicates."""

    side: str  # 'sheet' | 'table'
    column: str  # sheet header or table column
    rows: int
    empty: int  # '' cells in the sheet, NULLs in the table
    duplicate_keys: int  # distinct keys occurring more than once
    duplicate_rows: int  # rows carrying those keys
    sample: tuple[str, ...] = ()

    @property
    def unique(self) -> bool:
        return self.empty == 0 and self.duplicate_keys == 0


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found. ``ok`` is false on any mapping problem or an unusable table key.

    Duplicate or empty keys in the sheet are reported but do not fail the check: a run
    reports those rows (``duplicate_key``) and applies none of them. Duplicate or NULL keys
    in the table do fail it: a run refuses such a table.
    """

    rule_name: str
    sheet: str  # where the sheet was read
    header_row: int
    table: str  # schema.table
    fields: tuple[FieldCheck, ...]
    unmapped: tuple[ColumnRef, ...] = ()
    sheet_keys: KeyCheck | None = None
    table_keys: KeyCheck | None = None
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_USAGE

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["exit_code"] = self.exit_code
        return out


@dataclass(frozen=True)
class TableSide:
    """The table half of a check: column types by name, problems, key statistics."""

    types: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # field -> why not usable
    table_problem: str | None = None  # the table itself (not found, unreadable)
    keys: KeyCheck | None = None


def check(rules: RuleSet | str | Path, dsn: str | None = None) -> CheckReport:
    """Check the rule file against the sheet's header and the table's catalog; write nothing."""
    ruleset = rules if isinstance(rules, RuleSet) else _load(rules)
    sheet, columns, sheet_keys = check_sheet(ruleset)
    with target.connect(target.resolve_dsn(dsn, ruleset)) as conn:
        table = check_table(conn, ruleset)
        conn.rollback()
    return build_report(ruleset, sheet, columns, sheet_keys, table)


def _load(path: str | Path) -> RuleSet:
    from .rules import load_rules

    return load_rules(path)


def check_sheet(rules: RuleSet) -> tuple[SheetData, ColumnMap, KeyCheck | None]:
    """Read the sheet once: its header resolved against the rules, and its key column counted.

    The whole sheet goes into an in-memory DuckDB (counting keys needs every row); the
    header comes from that same read, so the two can never disagree.
    """
    con = duckdb.connect()
    try:
        sheet = open_source(rules.source).read(con, "sheet")
        columns = resolve(sheet.headers, rules)
        keys = None
        if columns.key is not None:
            keys = _key_stats(con, "sheet", columns.key.header, f"NULLIF(c{columns.key.index}, '')", "sheet")
    finally:
        con.close()
    return sheet, columns, keys


def check_table(conn: Any, rules: RuleSet) -> TableSide:
    """The table's catalog for every rule column, and its key checked (reads only)."""
    try:
        info = target.read_table_info(conn, rules)
        missing: dict[str, str] = {}
    except MappingError as err:
        if not err.details.get("missing"):  # the table or its key column: nothing else to learn
            return TableSide(table_problem=f"{err.message} ({err.hint})" if err.hint else err.message)
        missing = _missing_columns(rules, err.details["missing"], err.details.get("columns", []))
        info = target.read_table_info(conn, rules, [f for f in rules.field_names if f not in missing])
    types = {name: col.pg_type for name, col in info.columns.items()}
    types[info.key.name] = info.key.pg_type
    return TableSide(types, missing, None, _table_keys(conn, info))


def _missing_columns(rules: RuleSet, missing: Sequence[str], columns: Sequence[str]) -> dict[str, str]:
    out = {}
    for name in missing:
        close = difflib.get_close_matches(name, list(columns), n=3, cutoff=0.5)
        shown = f"; closest columns: {', '.join(close)}" if close else ""
        out[name] = f"field {name!r}: column not found in table {rules.target.qualified}{shown}"
    return out


def _table_keys(conn: Any, info: TableInfo) -> KeyCheck:
    """Key uniqueness through ``engine.target.check_table_keys``, its refusal turned into counts."""
    try:
        target.check_table_keys(conn, info)
    except DataError as err:
        d = err.details
        return KeyCheck("table", info.key.name, info.row_count, int(d.get("null_keys", 0)),
                        int(d.get("duplicate_keys", 0)), int(d.get("duplicate_rows", 0)),
                        tuple(map(str, d.get("sample", ())))[:KEY_SAMPLE])
    return KeyCheck("table", info.key.name, info.row_count, 0, 0, 0)


def _key_stats(con: duckdb.DuckDBPyConnection, side: str, label: str, key_expr: str, table: str) -> KeyCheck:
    row = con.execute(KEY_STATS.format(key=key_expr, table=table, sample=KEY_SAMPLE)).fetchone()
    rows, empty, dup_keys, dup_rows, sample = row
    return KeyCheck(side, label, int(rows), int(empty), int(dup_keys), int(dup_rows), tuple(sample or ()))


def build_report(rules: RuleSet, sheet: SheetData, columns: ColumnMap, sheet_keys: KeyCheck | None,
                 table: TableSide | None) -> CheckReport:
    """Per-field results and the list of problems, from both halves."""
    by_field: dict[str, HeaderProblem] = {p.field: p for p in columns.problems}
    fields = [_field_check(rules.key.field, rules.key.column, True, columns.key, by_field, table)]
    fields += [_field_check(f.name, f.column, False, columns.fields.get(f.name), by_field, table)
               for f in rules.fields]
    marks = {rules.key.field: rules.key.mark, **{f.name: f.mark for f in rules.fields}}
    problems = [_at(marks[f.field], p) for f in fields for p in (f.sheet_problem, f.table_problem) if p]
    warnings = []
    if table is not None and table.table_problem:
        problems.append(table.table_problem)
    if table is not None and table.keys is not None and not table.keys.unique:
        problems.append(_key_message(table.keys, REFUSED_TABLE_KEYS))
    if sheet_keys is not None and not sheet_keys.unique:
        warnings.append(_key_message(sheet_keys, SKIPPED_SHEET_KEYS))
    return CheckReport(
        rule_name=rules.name, sheet=sheet.origin, header_row=sheet.header_row, table=rules.target.qualified,
        fields=tuple(fields), unmapped=columns.unmapped, sheet_keys=sheet_keys,
        table_keys=table.keys if table else None, problems=tuple(dict.fromkeys(problems)),
        warnings=tuple(warnings))


def _field_check(name: str, column: str, is_key: bool, ref: ColumnRef | None,
                 header_problems: dict[str, HeaderProblem], table: TableSide | None) -> FieldCheck:
    problem = header_problems.get(name)
    table_type = table.types.get(name) if table else None
    table_problem = None
    if table is not None and table.table_problem is None and table_type is None:
        table_problem = table.problems.get(name, f"field {name!r}: column not found in the table")
    return FieldCheck(
        field=name, column=column, is_key=is_key, sheet=ref,
        sheet_problem=problem.message() if problem else None,
        candidates=problem.candidates if problem else (),
        table_type=table_type, table_problem=table_problem)


def _at(mark: Mark | None, message: str) -> str:
    """Prefix a problem with the rule file line that asked for the column."""
    return f"{mark}: {message}" if mark else message


def _key_message(keys: KeyCheck, consequence: str) -> str:
    shown = f" (e.g. {', '.join(map(repr, keys.sample))})" if keys.sample else ""
    return (f"{keys.side} key {keys.column!r}: {keys.duplicate_keys} duplicated key(s) on "
            f"{keys.duplicate_rows} rows{shown}, {keys.empty} empty; {consequence}")
