"""The field-level diff, in DuckDB only: what differs between the sheet and the table.

``compute_diff`` never asks where its data came from. It reads two DuckDB tables (the
sheet as a source wrote it, the table's snapshot) and writes the long relation ``diff``
with the columns of ``engine.results.DiffRow``:

- ``changed``: a matched row whose value differs under the field's comparison (also for
  ``compare: never``: reported; ``engine.planner`` never writes it);
- ``invalid``: a transform could not read the cell (matched and new rows alike);
- ``new_row``: the key is not in the table (one row per field, with its sheet value);
- ``missing_row``: the key is not in the sheet (field NULL);
- ``duplicate_key``: the key is on several sheet rows (each row reported, none applied);
- ``null_key``: the key is empty, NULL or unreadable after its transforms.

Equal values give no rows. ``sheet_value`` is the typed value as text PostgreSQL parses back
to the same value; ``table_value`` is the snapshot's text, unchanged (the compare-and-set value).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterator, Sequence

import duckdb

from .columns import SNAPSHOT_KEY, ColumnMap, TableInfo
from .duck_types import csv_read_type, days_sql, duck_type, reads_through_postgres, render_sql
from .errors import DataError
from .resources import sql as sql_text
from .results import FieldCounts
from .rules.model import FieldRule, RuleSet
from .snapshot import SHEET_KEYS, keyed_sheet
from .transforms import (Lane, blank_is_null, canonical_text_pattern, canonical_text_sql, chain_query, compile_chain,
                         equal_sql, ident, prepare_chains, reads_canonical_text, sql_literal)

DIFF_TABLE = "diff"
FIELD_COUNTS_TABLE = "diff_field_counts"
DIFF_COLUMNS = ("record_key", "field", "status", "sheet_row", "raw_value", "sheet_value", "table_value", "message")
DIFF_FAILED = "RC204"
# DuckDB scans a table in parallel by row groups of this many rows, so a smaller table is
# read by one thread, and so is every projection above the scan (the transform chains).
ROW_GROUP_ROWS = 122_880
MIN_SPLIT_ROWS = 4_096  # below two vectors a split only adds pipelines


@dataclass(frozen=True)
class DiffSummary:
    """Figures of one diff; the rows stay in DuckDB (``table``), the per-field figures too
    (``diff_field_counts``: field, compared, differing, invalid)."""

    fields: tuple[FieldCounts, ...]  # compared, differing, invalid per diffed field
    sheet_rows: int = 0
    table_rows: int = 0
    matched_rows: int = 0  # sheet rows with a unique key found in the table
    new_rows: int = 0  # unique sheet keys not in the table
    missing_rows: int = 0  # table keys not in the sheet
    duplicate_keys: int = 0  # distinct keys on several sheet rows
    duplicate_rows: int = 0  # the sheet rows holding them
    null_keys: int = 0  # sheet rows without a usable key
    changed_rows: int = 0  # matched rows with at least one changed field
    invalid: int = 0  # invalid cells
    table: str = DIFF_TABLE
    sheet_keys: str = SHEET_KEYS
    target: str = "target"
    key_type: str = "VARCHAR"  # DuckDB type of the key

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.fields)


def diffed_fields(rules: RuleSet, columns: ColumnMap, table_info: TableInfo) -> list[FieldRule]:
    """Fields read from the sheet and present in the table; header problems are left out."""
    return [f for f in rules.fields
            if f.name in columns.fields and f.name not in columns.skipped and f.name in table_info.columns]


@dataclass(frozen=True)
class HashedTarget:
    """The table side as one hash per row: ``target`` holds ``SNAPSHOT_KEY`` and ``h`` only.

    ``h`` is ``row_hash_sql`` of ``fields`` (in that order) over the snapshot's text, the
    ``text_fields`` among them hashed as text (``text_hashed_fields``). ``fetch(keys, table)``
    copies the text of those records (every record for None), as of the same snapshot, into
    the DuckDB table ``table("key#", <field>...)``; the diff calls it for the few rows whose
    hashes disagree, so the table's values never all sit in DuckDB.
    """

    fields: tuple[str, ...]
    fetch: Callable[[Sequence[str] | None, str], Any]
    text_fields: tuple[str, ...]


# Above this share of the table's rows, fetching the candidates by key costs more than one
# plain sequential COPY of the whole table.
FETCH_ALL_SHARE = 0.25
# A text-hashed field's raw cells enter the hash when at least this share of about this many
# sheet rows, spread over the sheet, are written as PostgreSQL prints values
# (``cells_as_printed``): a field then adds at most about 1% of the rows as candidates.
AS_PRINTED_SAMPLE_ROWS = 2048
AS_PRINTED_SHARE = 0.99


# Not a DuckDB type: the "type" of a field hashed as PostgreSQL prints it (``text_hashed_fields``).
# The table side hashes its text as read (a NaN counts as unreadable); the sheet side its raw
# cell or its value printed (``cells_as_printed``).
TEXT_HASHED = "TEXT"


def text_hashed_fields(rules: RuleSet, table_info: TableInfo, fields: Sequence[str]) -> tuple[str, ...]:
    """The ``fields`` whose hashes compare the raw cell with the table's text, not typed values.

    Those whose chain gives back every value of the column from PostgreSQL's text of it
    (``reads_canonical_text``: integer and ``numeric(p,s)`` columns read with ``to_integer``,
    ``to_decimal``, ``trim``, ``empty_to_null``). Equal texts then mean equal values, so the
    candidate pass runs their chains only on the rows it keeps (at 1M rows x 14 such fields,
    1 s of CPU less). A cell written otherwise (``12.3`` for ``12.30``) only makes its row a
    candidate, whose values the full diff compares as before; and a field whose cells are
    not nearly all written as printed has its chain run on every row after all, its values
    hashed as printed (``cells_as_printed``).
    """
    rules_by_name = {f.name: f for f in rules.fields}
    return tuple(f for f in fields if f in rules_by_name and f in table_info.columns
                 and reads_canonical_text(rules_by_name[f].transforms, table_info.columns[f].pg_type))


def cells_as_printed(con: duckdb.DuckDBPyConnection, sheet: str, fields: Sequence[FieldRule],
                     lanes: Sequence[Lane]) -> set[str]:
    """Of these text-hashed fields, those whose cells the sheet writes as PostgreSQL prints
    values: at least ``AS_PRINTED_SHARE`` of the cells of about ``AS_PRINTED_SAMPLE_ROWS``
    rows spread evenly over the sheet (by ``_row``, so every run samples the same rows) match
    ``canonical_text_pattern``, or are blank where the chain makes '' NULL.

    Their raw cells are hashed. The other fields' chains run on every row, and their values
    are hashed as DuckDB prints them, which is PostgreSQL's text again: a sheet whose numbers
    read ``12.3`` in a ``numeric(12,2)`` column would otherwise make every row a candidate.
    """
    if not fields:
        return set()
    counts = []
    for f, lane in zip(fields, lanes):
        blank = f" OR {lane.source} = ''" if blank_is_null(f.transforms) else ""
        pattern = sql_literal(canonical_text_pattern(lane.pg_type) or "")
        counts.append(f"count(*) FILTER (WHERE regexp_full_match({lane.source}, {pattern}){blank})")
    rows = int(con.execute(f"SELECT count(*) FROM {ident(sheet)}").fetchone()[0])
    step = max(1, rows // AS_PRINTED_SAMPLE_ROWS)
    row = con.execute(f"SELECT count(*), {', '.join(counts)} FROM {ident(sheet)} WHERE _row % {step} = 0").fetchone()
    return {f.name for f, matched in zip(fields, row[1:]) if matched >= AS_PRINTED_SHARE * row[0]}


def row_hash_sql(columns: Sequence[tuple[str, str]]) -> str:
    """One 64-bit hash of a row's values cast to their DuckDB types: ``(column, type)`` pairs.

    The table side of the candidate pass, whether computed while the snapshot loads or from
    a text snapshot. DuckDB's ``hash()`` of several values depends on their order and tells
    NULL from '' (two different rows agree once in 2^64, the rate a change would be missed).
    A date is hashed as its days (``days_sql``), as the hash snapshot's dates arrive. A table
    text its type cannot hold in DuckDB (a ``NaN`` numeric, a BC date's text) casts to NULL,
    so the hash also takes whether any did: such a row never hashes like a sheet row (whose
    blank cell is NULL too), and the full diff reports the field changed.

    A ``TEXT_HASHED`` column is hashed as its text; its one text DuckDB cannot read is a
    numeric's ``NaN`` (PostgreSQL refuses infinities in a ``numeric(p,s)``), which counts as
    unreadable, so that a sheet cell ``NaN`` is still reported invalid.
    """
    if not columns:
        return "0"
    casts = [ident(name) if kind == TEXT_HASHED else f"TRY_CAST({ident(name)} AS {kind})" for name, kind in columns]
    unreadable = [f"coalesce({ident(name)} = 'NaN', false)" if kind == TEXT_HASHED
                  else f"({ident(name)} IS NOT NULL AND {cast} IS NULL)"
                  for (name, kind), cast in zip(columns, casts) if _cast_may_fail(kind)]
    terms = [_hash_term(cast, kind) for cast, (_, kind) in zip(casts, columns)]
    return "hash(" + ", ".join(terms) + f", {' OR '.join(unreadable) or 'false'})"


def sheet_hash_sql(values: Sequence[tuple[str, str]]) -> str:
    """The sheet side's ``row_hash_sql`` over ``(typed value, type)`` pairs, which are never
    unreadable; a ``TEXT_HASHED`` value is text (the raw cell, or the value printed)."""
    if not values:
        return "0"
    return "hash(" + ", ".join(_hash_term(value, kind) for value, kind in values) + ", false)"


def _cast_may_fail(kind: str) -> bool:
    """Whether a table text can fail its cast to ``kind`` (be unreadable): any type but text."""
    return kind != "VARCHAR"


def _hash_term(value: str, kind: str) -> str:
    return days_sql(value) if kind == "DATE" else value


def table_hash_columns(table_info: TableInfo, fields: Sequence[str],
                       text_fields: Collection[str] = ()) -> list[tuple[str, str]]:
    """The ``(column, DuckDB type)`` pairs ``row_hash_sql`` hashes for these table fields
    (``TEXT_HASHED`` for the ``text_fields``)."""
    return [(f, TEXT_HASHED if f in text_fields else duck_type(table_info.columns[f].pg_type)) for f in fields]


@dataclass(frozen=True)
class HashSnapshot:
    """How the table's hash snapshot is read (``target.snapshot_to_duckdb``'s arguments).

    ``keep``: the key text (``SNAPSHOT_KEY``) and ``row_hash_sql`` as ``h``; ``days``: the date
    fields PostgreSQL prints as days (``DAYS_EPOCH``), hashed as the integers they are;
    ``typed``: the fields DuckDB's reader parses straight into their type (``csv_read_type``,
    and the days), so their text is never cast (0.25 s of CPU at 1M rows); ``text_fields``:
    those hashed as their text (``TEXT_HASHED``), read as text. The hash is the one
    ``sheet_hash_sql`` gives the same values, and ``row_hash_sql``'s over the table's text but
    for a BC date, whose text DuckDB's cast cannot read.
    """

    keep: str
    typed: dict[str, str]
    days: tuple[str, ...]
    text_fields: tuple[str, ...] = ()


def hash_snapshot(table_info: TableInfo, fields: Sequence[str], text_fields: Collection[str] = ()) -> HashSnapshot:
    columns = table_hash_columns(table_info, fields, text_fields)
    days = tuple(name for name, kind in columns if kind == "DATE")
    hashed = [(name, "BIGINT" if name in days else kind) for name, kind in columns]
    typed = {name: "BIGINT" for name in days}
    typed.update((f, kind) for f in fields
                 if f not in text_fields and (kind := csv_read_type(table_info.columns[f].pg_type)) is not None)
    return HashSnapshot(f"{ident(SNAPSHOT_KEY)}, {row_hash_sql(hashed)} AS h", typed, days,
                        tuple(f for f in fields if f in text_fields))


def build_sheet_keys(con: duckdb.DuckDBPyConnection, rules: RuleSet, columns: ColumnMap, table_info: TableInfo, *,
                     sheet: str = "sheet") -> None:
    """The diff's first pass on its own (``engine.snapshot.keyed_sheet``): it needs only the
    sheet and the table's catalog, so ``api`` runs it while the table's snapshot is copied."""
    with _duckdb_errors(rules):
        con.execute("SET TimeZone = 'UTC'")
        keyed_sheet(con, rules, columns, table_info, sheet)


def compute_diff(con: duckdb.DuckDBPyConnection, rules: RuleSet, columns: ColumnMap, table_info: TableInfo, *,
                 sheet: str = "sheet", target: str = "target", table: str = DIFF_TABLE,
                 hashed: HashedTarget | None = None, sheet_keys_built: bool = False,
                 read_by_postgres: Callable[[str, list[str]], list[str | None]] | None = None) -> DiffSummary:
    """Create the DuckDB table ``table`` (the long diff) and return its counts.

    Set-based: one pass for the sheet's keys; a pass over every row (transform chains in
    layered projections, one hash of each row's values a side, typed or as text, a full join
    on the typed key) that keeps only the rows whose hashes or keys disagree, with their sheet values (the
    chains of ``text_hashed_fields`` run only on the rows kept); the full diff of those
    against their table text (statuses per field, only the differing rows expanded); and a
    few counting queries.

    ``target`` is the table's text snapshot (``k``, one column per field), or, with
    ``hashed``, its hashes; the values of the rows that differ are then fetched into
    ``{target}_values``. A hash snapshot of other fields than those diffed (a column the
    sheet lacks), or hashing other fields as text, is of no use: every row is fetched.
    ``sheet_keys_built``: ``build_sheet_keys`` has already run for this sheet and table.
    ``read_by_postgres(column, texts)``: what PostgreSQL prints for each text once read into
    that column, or None where it refuses it; given, it is asked for the fields whose type
    DuckDB cannot hold (``reads_through_postgres``).
    """
    fields = diffed_fields(rules, columns, table_info)
    key_type = duck_type(table_info.key.pg_type)
    lanes = [_lane(f, columns, table_info, read_by_postgres is not None) for f in fields]
    text_fields = text_hashed_fields(rules, table_info, [f.name for f in fields])
    values = target
    if hashed is not None:
        values = f"{target}_values"
        if hashed.fields != tuple(f.name for f in fields) or hashed.text_fields != text_fields:
            hashed.fetch(None, values)
            hashed = None
    candidates = f"{table}_candidates"
    if not sheet_keys_built:
        build_sheet_keys(con, rules, columns, table_info, sheet=sheet)
    with _duckdb_errors(rules):
        prepare_chains(con, sheet, lanes, read_by_postgres)
        table_side = target if hashed is not None else values
        as_printed = cells_as_printed(con, sheet, [f for f in fields if f.name in text_fields],
                                      [lane for f, lane in zip(fields, lanes) if f.name in text_fields])
        table_hash = "h" if hashed is not None else row_hash_sql(
            table_hash_columns(table_info, [f.name for f in fields], text_fields))
        con.execute(_candidates_sql(fields, lanes, columns, sheet, key_type, candidates, text_fields, as_printed,
                                    scans=(split_scan(con, sheet), split_scan(con, table_side)),
                                    table_hash=table_hash))
    if hashed is not None:
        _fetch_candidates(con, hashed, candidates, target, values)
    with _duckdb_errors(rules):
        con.execute(_diff_sql(fields, lanes, columns, candidates, values, table))
        con.execute(f"DROP TABLE {ident(candidates)}")
        return _summary(con, fields, table, target, key_type)


def _lane(f: FieldRule, columns: ColumnMap, table_info: TableInfo, postgres_reads: bool) -> Lane:
    pg_type = table_info.columns[f.name].pg_type
    return Lane(ident(_sheet_column(columns, f)), compile_chain(f.transforms), duck_type(pg_type), pg_type,
                through_postgres=f.name if postgres_reads and reads_through_postgres(pg_type) else None)


@contextmanager
def _duckdb_errors(rules: RuleSet) -> Iterator[None]:
    try:
        yield
    except duckdb.Error as err:
        raise DataError(f"the diff of {rules.name} failed in DuckDB: {err}", code=DIFF_FAILED,
                        hint="a `sql:` transform may not fit the cells it reads; run `reconcile check`") from err


def _fetch_candidates(con: duckdb.DuckDBPyConnection, hashed: HashedTarget, candidates: str, target: str,
                      values: str) -> None:
    """The text of the table rows the full diff needs: those of the candidate rows that the
    sheet has too (a row only the table has is reported without its values)."""
    keys = [k for (k,) in con.execute(f"SELECT table_key FROM {ident(candidates)} "
                                      f"WHERE table_key IS NOT NULL AND _row IS NOT NULL").fetchall()]
    total = con.execute(f"SELECT count(*) FROM {ident(target)}").fetchone()[0]
    hashed.fetch(None if len(keys) > FETCH_ALL_SHARE * total else keys, values)


def split_scan(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """SQL reading every row of ``table`` in a way all of DuckDB's threads can share.

    A table within one row group becomes a UNION ALL of rowid ranges, one per thread, whose
    pipelines run side by side (the 100k-row diff: 0.52 s -> 0.37 s on 2 cores). A larger
    table, a view, or a single thread: the table itself.
    """
    threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
    found = con.execute("SELECT estimated_size FROM duckdb_tables() WHERE table_name = ? "
                        "ORDER BY temporary DESC LIMIT 1", [table]).fetchall()
    rows = int(found[0][0]) if found else 0
    if threads < 2 or not MIN_SPLIT_ROWS <= rows <= ROW_GROUP_ROWS:
        return ident(table)
    step = -(-rows // threads)
    parts = [f"SELECT * FROM {ident(table)} WHERE rowid >= {i * step}" + (f" AND rowid < {(i + 1) * step}"
                                                                          if i < threads - 1 else "")
             for i in range(threads)]
    return "(" + " UNION ALL ".join(parts) + ")"


def _candidates_sql(fields: list[FieldRule], lanes: list[Lane], columns: ColumnMap, sheet: str, key_type: str,
                    candidates: str, text_fields: Collection[str], as_printed: Collection[str],
                    scans: tuple[str, str], table_hash: str) -> str:
    """SQL of the first pass (``sql/diff/candidates.sql``): the rows worth a full diff, with
    their raw cells and typed sheet values.

    The sheet's hash is ``sheet_hash_sql`` over the typed lanes, and over the raw cells of the
    ``text_fields`` written ``as_printed`` (``canonical_text_sql``, ``cells_as_printed``), whose
    chains run after the join, on the rows kept only; the other text fields' values are
    hashed as text. The table's is ``table_hash``: computed from the text snapshot, or a
    column the hash snapshot already holds.
    """
    sheet_scan, target_scan = scans
    raw = _raw_columns(fields, columns)
    late = [i for i, f in enumerate(fields) if f.name in as_printed]
    early = [i for i in range(len(lanes)) if i not in late]
    terms = [(canonical_text_sql(f"s.{lanes[i].source}", f.transforms), TEXT_HASHED) if i in late
             else (f"CAST(s.l{i}_v AS VARCHAR)", TEXT_HASHED) if f.name in text_fields
             else (f"s.l{i}_v", lanes[i].to_type) for i, f in enumerate(fields)]
    errors = ", ".join(f"s.l{i}_e" for i in early)
    kept = ["_row", "sheet_key", "key_value", "table_key", "kt", *raw,
            *(f"l{i}_{part}" for i in early for part in ("v", "e"))]
    return sql_text("diff/candidates.sql").format(
        candidates=ident(candidates),
        chain=chain_query(sheet, [lanes[i] for i in early], ["_row", *raw], source=sheet_scan, numbers=early),
        sheet_keys=ident(SHEET_KEYS), target=target_scan, key_type=key_type, snapshot_key=ident(SNAPSHOT_KEY),
        sheet_hash=sheet_hash_sql(terms),
        sheet_bad=f"coalesce({errors}) IS NOT NULL" if early else "false",
        table_hash=table_hash,
        late_chain=chain_query("kept", [lanes[i] for i in late], kept, source="kept", numbers=late),
        sheet_values=_packed_sheet_values(raw, len(lanes)))


def _packed_sheet_values(raw: list[str], lanes: int) -> str:
    """The candidate pass's ``sv`` column: a kept sheet row's raw cells and lane values and
    errors as a list of one struct (NULL for a table-only row); none when no field is read."""
    names = raw + [f"l{i}_{part}" for i in range(lanes) for part in ("v", "e")]
    if not names:
        return ""
    struct = ", ".join(f"{sql_literal(name)}: {ident(name)}" for name in names)
    return f", CASE WHEN _row IS NOT NULL THEN [{{{struct}}}] END AS sv"


def _sheet_column(columns: ColumnMap, f: FieldRule) -> str:
    """The name of the sheet table's column that ``f`` reads (``c<index>``)."""
    return f"c{columns.fields[f.name].index}"


def _raw_columns(fields: list[FieldRule], columns: ColumnMap) -> list[str]:
    """The sheet columns the fields read (each once): the diff reports a changed cell's text."""
    return list(dict.fromkeys(_sheet_column(columns, f) for f in fields))


def _diff_sql(fields: list[FieldRule], lanes: list[Lane], columns: ColumnMap, candidates: str, values: str,
              table: str) -> str:
    """SQL of the full diff (``sql/diff/field_diff.sql``) of the candidate rows."""
    table_columns, typed_columns, statuses, structs = [], [], [], []
    for i, (f, lane) in enumerate(zip(fields, lanes)):
        raw = ident(_sheet_column(columns, f))
        table_columns.append(f", {ident(f.name)} AS t{i}")
        typed_columns.append(f", TRY_CAST(t{i} AS {lane.to_type}) AS tt{i}")
        equal = equal_sql(f.compare, f"l{i}_v", f"tt{i}", lane.to_type)
        unreadable = f"WHEN t{i} IS NOT NULL AND tt{i} IS NULL THEN 'changed' " if _cast_may_fail(lane.to_type) else ""
        statuses.append(f", CASE WHEN l{i}_e IS NOT NULL THEN 'invalid' "
                        f"WHEN table_key IS NULL THEN 'new_row' {unreadable}WHEN NOT {equal} THEN 'changed' END AS st{i}")
        structs.append(f"{{'field': {sql_literal(f.name)}, 'status': st{i}, 'raw_value': r.{raw}, "
                       f"'sheet_value': CASE WHEN st{i} <> 'invalid' THEN {render_sql(f'l{i}_v', lane.to_type)} END, "
                       f"'table_value': t{i}, 'message': l{i}_e}}")
    if not fields:  # a rule set reading no field still reports its new rows
        structs.append("{'field': NULL::VARCHAR, 'status': CASE WHEN table_key IS NULL THEN 'new_row' END, "
                       "'raw_value': NULL::VARCHAR, 'sheet_value': NULL::VARCHAR, 'table_value': NULL::VARCHAR, "
                       "'message': NULL::VARCHAR}")
    return sql_text("diff/field_diff.sql").format(
        diff=ident(table), rows=ident(f"{table}_rows"), row_counts=ident(_row_counts(table)),
        candidates=ident(candidates), values=ident(values), sheet_keys=ident(SHEET_KEYS),
        snapshot_key=ident(SNAPSHOT_KEY),
        candidate_columns="c.* EXCLUDE (sv), unnest(c.sv[1])" if fields else "c.*",
        table_columns="".join(table_columns), typed_columns="".join(typed_columns), statuses="".join(statuses),
        any_status="".join(f" OR st{i} IS NOT NULL" for i in range(len(fields))), structs=", ".join(structs))


def _row_counts(table: str) -> str:
    """The one-row table of row figures that the diff statement leaves beside ``table``."""
    return f"{table}_row_counts"


def _summary(con: duckdb.DuckDBPyConnection, fields: list[FieldRule], table: str, target: str,
             key_type: str) -> DiffSummary:
    names = dict(diff=ident(table), sheet_keys=ident(SHEET_KEYS), target=ident(target),
                 row_counts=ident(_row_counts(table)))
    (sheet_rows, table_rows, matched, unique, dup_keys, dup_rows, null_keys, missing, changed,
     invalid) = con.execute(sql_text("diff/counts.sql").format(**names)).fetchall()[0]
    per_field = {name: (d, i) for name, d, i in con.execute(sql_text("diff/field_counts.sql").format(**names)).fetchall()}
    counts = tuple(FieldCounts(f.name, compared=matched, differing=per_field.get(f.name, (0, 0))[0],
                               invalid=per_field.get(f.name, (0, 0))[1]) for f in fields)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {FIELD_COUNTS_TABLE} "
                f"(field VARCHAR, compared BIGINT, differing BIGINT, invalid BIGINT)")
    if counts:  # one statement of four lists: executemany costs a statement per field (10 ms for 30)
        con.execute(f"INSERT INTO {FIELD_COUNTS_TABLE} SELECT unnest(?::VARCHAR[]), unnest(?::BIGINT[]), "
                    f"unnest(?::BIGINT[]), unnest(?::BIGINT[])",
                    [[c.field for c in counts], [c.compared for c in counts], [c.differing for c in counts],
                     [c.invalid for c in counts]])
    return DiffSummary(counts, sheet_rows=sheet_rows, table_rows=table_rows, matched_rows=matched,
                       new_rows=unique - matched, missing_rows=missing, duplicate_keys=dup_keys,
                       duplicate_rows=dup_rows, null_keys=null_keys, changed_rows=changed, invalid=invalid,
                       table=table, sheet_keys=SHEET_KEYS, target=target, key_type=key_type)


__all__ = ["DIFF_COLUMNS", "DIFF_TABLE", "FIELD_COUNTS_TABLE", "DiffSummary", "HashedTarget", "build_sheet_keys",
           "compute_diff", "diffed_fields", "HashSnapshot", "hash_snapshot", "row_hash_sql", "sheet_hash_sql", "split_scan", "table_hash_columns",
           "TEXT_HASHED", "cells_as_printed", "text_hashed_fields"]
