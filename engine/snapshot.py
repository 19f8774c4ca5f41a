"""Keys on both sides, checked in DuckDB before any diff.

The table's snapshot must have a unique, non-NULL key (``check_target_keys``; the run stops
otherwise). The sheet's keys are transformed and typed once (``keyed_sheet``); duplicated
and empty sheet keys are not errors but statuses of the diff (``duplicate_key``, ``null_key``).
"""
from __future__ import annotations

import duckdb

from .columns import SNAPSHOT_KEY, ColumnMap, TableInfo
from .duck_types import duck_type, render_sql
from .errors import DUPLICATE_TABLE_KEYS, NULL_TABLE_KEYS, DataError
from .resources import sql as sql_text
from .rules.model import RuleSet
from .transforms import Lane, chain_query, compile_chain, ident, prepare_chains

SHEET_KEYS = "sheet_keys"


def check_target_keys(con: duckdb.DuckDBPyConnection, target: str = "target") -> None:
    """Raise ``DataError`` when the snapshot's key (``SNAPSHOT_KEY``) is NULL or not unique.

    The code tells the two apart (``RC201`` duplicates, ``RC202`` NULLs); the message gives
    the counts and up to 5 sample keys.
    """
    query = sql_text("diff/target_key_problems.sql").format(target=ident(target), key=ident(SNAPSHOT_KEY))
    nulls, dup_keys, dup_rows, sample = con.execute(query).fetchall()[0]
    if not nulls and not dup_keys:
        return
    problems = []
    if dup_keys:
        shown = ", ".join(repr(k) for k in sample)
        problems.append(f"{dup_keys} key value(s) on more than one row ({dup_rows} rows), e.g. {shown}")
    if nulls:
        problems.append(f"{nulls} row(s) with a NULL key")
    raise DataError(
        f"table snapshot {target!r}: the key is not unique and non-NULL: " + "; ".join(problems),
        code=DUPLICATE_TABLE_KEYS if dup_keys else NULL_TABLE_KEYS,
        hint="fix those rows in the table, or choose a unique key column",
        details={"null_keys": int(nulls), "duplicate_keys": int(dup_keys), "duplicate_rows": int(dup_rows),
                 "sample": list(sample)})


def key_lane(rules: RuleSet, columns: ColumnMap, table_info: TableInfo) -> Lane:
    """The key's sheet column, transform chain and typed target, as a transform lane."""
    if columns.key is None:
        raise ValueError("the key column was not resolved in the sheet")
    return Lane(ident(f"c{columns.key.index}"), compile_chain(rules.key.transforms),
                duck_type(table_info.key.pg_type), table_info.key.pg_type)


def keyed_sheet(con: duckdb.DuckDBPyConnection, rules: RuleSet, columns: ColumnMap, table_info: TableInfo,
                sheet: str = "sheet", *, table: str = SHEET_KEYS) -> str:
    """Create ``table``: one row per sheet row with its transformed, typed key; return its name.

    Columns: ``_row``, ``record_key`` (the typed key as PostgreSQL prints it; NULL when the
    key is empty or unreadable), ``key_value`` (typed), ``key_error``, ``raw_key`` (the cell)
    and ``occurrences`` (sheet rows with the same key; 0 for no key).
    """
    lane = key_lane(rules, columns, table_info)
    prepare_chains(con, sheet, [lane])
    raw = f"c{columns.key.index}" if columns.key else ""
    chain = chain_query(sheet, [lane], ["_row", raw])
    con.execute(sql_text("diff/sheet_keys.sql").format(
        table=ident(table), chain=chain, raw_key=ident(raw), record_key=render_sql("l0_v", lane.to_type)))
    return table


__all__ = ["DUPLICATE_TABLE_KEYS", "NULL_TABLE_KEYS", "SHEET_KEYS", "check_target_keys", "key_lane", "keyed_sheet"]
