"""PostgreSQL, the target: find the DSN, connect, read the catalog, check keys, snapshot by COPY.

Every psycopg error the engine meets is sorted here, once, by ``classify`` into a transient or
a terminal ``DatabaseError`` (see ``engine.errors``); callers check the class, never a message.
The snapshot is one ``COPY ... TO STDOUT`` relayed as CSV (``engine.copy_relay``) to DuckDB,
which reads every column as VARCHAR, so the diff sees exactly the text PostgreSQL prints, NULL
kept apart from ''.
"""
from __future__ import annotations

import difflib
import os
import re
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Collection, Iterator, Mapping, Sequence

import duckdb
import psycopg
from psycopg import sql

from .columns import SNAPSHOT_KEY, ColumnType, TableInfo
from .errors import (DUPLICATE_TABLE_KEYS, NULL_TABLE_KEYS, SNAPSHOT_INCOMPLETE, ConfigurationError, DataError,
                     DatabaseError, Location, MappingError, ReconcileError, TransientDatabaseError, UserError)
from .redact import redact
from .resources import sql as sql_text
from .rules.model import Mark, RuleSet
from .copy_relay import stream_copy_out
from .duck_types import DAYS_EPOCH, DAYS_INFINITY
from .transforms import ident

# Session settings that make PostgreSQL's text output stable for the diff: ISO dates, UTC
# timestamps and floats printed with every digit (so the text round-trips).
SESSION_SETTINGS = {"DateStyle": "ISO, MDY", "TimeZone": "UTC", "extra_float_digits": "3"}
APPLICATION_NAME = "reconcile"

# SQLSTATEs (or their two-character classes) a retry may get past.
_TRANSIENT_STATES = ("08", "40001", "40P01", "57P01", "57P02", "57P03", "53", "55P03")


# -- DSN and connection ------------------------------------------------------------------------

def resolve_dsn(cli_dsn: str | None, rules: RuleSet | None, env: Mapping[str, str] | None = None) -> str:
    """The DSN to use: ``--dsn``, else the rule file's ``target.dsn``, else ``$DATABASE_URL``.

    >>> resolve_dsn(None, None, {"DATABASE_URL": "postgresql:///x"})
    'postgresql:///x'
    """
    env = os.environ if env is None else env
    rule_dsn = rules.target.dsn if rules is not None else None
    for value in (cli_dsn, rule_dsn, env.get("DATABASE_URL")):
        if value:
            return value
    # Without a rule set (rollback, db query without --rules) there was no rule file to look in.
    tried = ["--dsn (not given)", *([f"{_rule_place(rules)} (not set)"] if rules is not None else []),
             "$DATABASE_URL (not set)"]
    in_rules = ", set target.dsn in the rule file" if rules is not None else ""
    raise ConfigurationError(
        f"no database: tried {', '.join(tried)}",
        location=_location(rules.target.mark) if rules is not None else None,
        hint=f"pass --dsn postgresql://user@host/db{in_rules}, set DATABASE_URL, "
             "or use 'embedded' for the bundled server")


def _rule_place(rules: RuleSet) -> str:
    mark = rules.target.mark
    if mark is not None:
        return f"{mark.path}:{mark.line} target.dsn"
    return f"{rules.path or rules.name} target.dsn"


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg connection with the session settings the snapshot relies on.

    ``dsn == "embedded"`` starts (once per process) the bundled server, see ``engine.embedded``.
    Connection failures raise a classified ``DatabaseError`` whose message has no password.
    """
    if dsn == "embedded":
        from .embedded import embedded_dsn
        dsn = embedded_dsn()
    with db_errors(f"cannot connect to {redact(dsn)}"):
        conn = psycopg.connect(dsn, autocommit=autocommit, application_name=APPLICATION_NAME)
        try:
            conn.execute("SELECT set_config(name, value, false) FROM unnest(%s::text[], %s::text[]) AS s(name, value)",
                         [list(SESSION_SETTINGS), list(SESSION_SETTINGS.values())])
            if not autocommit:
                conn.commit()
        except BaseException:
            conn.close()
            raise
    return conn


# -- errors ------------------------------------------------------------------------------------

def classify(exc: BaseException, *, action: str | None = None, field: str | None = None) -> ReconcileError:
    """Sort a driver error into ``TransientDatabaseError`` or ``DatabaseError`` by SQLSTATE.

    ``details`` keeps sqlstate, schema, table, column, constraint (and ``field`` when given);
    the message is redacted. A ``ReconcileError`` passes through unchanged.
    """
    if isinstance(exc, ReconcileError):
        return exc
    state = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    details: dict[str, Any] = {"sqlstate": state}
    for name, attr in (("schema", "schema_name"), ("table", "table_name"), ("column", "column_name"),
                       ("constraint", "constraint_name"), ("context", "context")):
        value = getattr(diag, attr, None) if diag is not None else None
        if value:
            details[name] = redact(value)
    if field is not None:
        details["field"] = field
    text = redact(_first_lines(str(exc)) or type(exc).__name__)
    prefix = f"{action}: " if action else ""
    where = f"field {field!r}: " if field is not None else ""
    cls = TransientDatabaseError if _is_transient(exc, state) else DatabaseError
    return cls(f"{prefix}{where}{text}" + (f" (SQLSTATE {state})" if state else ""),
               details=details, hint=_hint(state, cls))


def _is_transient(exc: BaseException, state: str | None) -> bool:
    if state is None:
        # No SQLSTATE: the server never answered (refused, unreachable, dropped) -- a connection
        # problem, class 08 in spirit -- unless the driver itself rejected its input.
        return isinstance(exc, psycopg.OperationalError) and not _looks_like_auth(str(exc))
    return any(state.startswith(prefix) for prefix in _TRANSIENT_STATES)


def _looks_like_auth(message: str) -> bool:
    """An answer or a refusal that the same DSN gets every time: credentials, a database that
    is not there, or a DSN libpq cannot use (an unknown option, a bad value for one)."""
    lowered = message.lower()
    return any(s in lowered for s in ("password authentication failed", "no password supplied",
                                      "does not exist", "no pg_hba.conf entry", "invalid dsn",
                                      "invalid connection option", "missing \"=\"")) \
        or _BAD_OPTION_VALUE.search(lowered) is not None


# libpq on a connection option it cannot use: 'invalid sslmode value: "bogus"',
# 'invalid integer value "x" for connection option "port"'.
_BAD_OPTION_VALUE = re.compile(r"\binvalid [a-z_ ]+ value\b")


def _first_lines(message: str, limit: int = 4) -> str:
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return "; ".join(lines[:limit])


def _hint(state: str | None, cls: type[DatabaseError]) -> str | None:
    if cls is TransientDatabaseError:
        return "this may pass on retry; nothing was committed by the failed statement"
    if state and state.startswith("28"):
        return "check the user and password in the DSN (--dsn, target.dsn or $DATABASE_URL)"
    if state == "42501":
        return "grant this role the privileges it needs on the table and the reconcile schema"
    if state and state.startswith(("22", "23")):
        return "a value in the sheet does not fit the table's column or constraint; fix the cell or the rule"
    return None


@contextmanager
def db_errors(action: str | None = None, *, field: str | None = None) -> Iterator[None]:
    """Re-raise psycopg errors (and DuckDB I/O of ours) through ``classify``."""
    try:
        yield
    except psycopg.Error as exc:
        raise classify(exc, action=action, field=field) from exc


# -- catalog -----------------------------------------------------------------------------------

def read_only_query(conn: psycopg.Connection, query: str, limit: int = 1000) -> tuple[list[str], list[tuple]]:
    """Column names and at most ``limit`` rows of a user's query, run in a READ ONLY transaction.

    For looking at the log tables where no psql is at hand (the embedded server lives only as
    long as the command). The transaction is rolled back, so what a statement may do in a
    read-only transaction does not remain (a superuser's COPY TO PROGRAM is beyond any such
    guard: the embedded server's role is one). Exactly one statement: it is sent as a prepared statement, which PostgreSQL refuses to
    hold two of (a ``COMMIT;`` first would end the read-only transaction and let the next
    statement write).
    """
    if not query.strip():
        raise UserError("the query is empty", hint="give one SQL statement, e.g. \"SELECT * FROM reconcile.runs\"")
    with db_errors("running the query"):
        conn.read_only = True  # psycopg opens the next transaction READ ONLY
        try:
            cur = conn.execute(query, prepare=True)  # type: ignore[arg-type]  (the user's own SQL, read-only)
            names = [d.name for d in cur.description or ()]
            return names, cur.fetchmany(limit) if names else []
        finally:
            conn.rollback()


def read_table_info(conn: psycopg.Connection, rules: RuleSet, fields: Sequence[str] | None = None, *,
                    count: bool = True) -> TableInfo:
    """The key and mapped columns of the target table, from ``pg_catalog``, with an exact row count
    (``count=False``: 0, for a caller that counts the rows as it copies them all).

    Raises ``MappingError`` (nothing written yet) for a missing table, a missing key column, or
    mapped columns missing from the table (all of them, each with the closest column names).
    """
    target = rules.target
    wanted = list(fields) if fields is not None else list(rules.field_names)
    with db_errors(f"reading the catalog of {target.qualified}"):
        rows = conn.execute(sql_text("target/table_columns.sql"),
                            {"schema": target.schema, "table": target.table}).fetchall()
        if not rows:
            raise _missing_table(conn, rules)
        columns = {r[1]: ColumnType(r[1], r[2], r[3], r[4]) for r in rows}
        _check_columns(rules, columns, wanted)
        rows_now = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            _table_ident(target.schema, target.table))).fetchone()[0] if count else 0
    return TableInfo(schema=target.schema, table=target.table, key=columns[rules.key.field],
                     columns={f: columns[f] for f in wanted}, row_count=int(rows_now))


def _missing_table(conn: psycopg.Connection, rules: RuleSet) -> MappingError:
    target = rules.target
    found = conn.execute(sql_text("target/similar_tables.sql"),
                         {"schema": target.schema, "table": target.table}).fetchall()
    elsewhere = [f"{s}.{t}" for s, t in found if s != target.schema]
    in_schema = [t for s, t in found if s == target.schema]
    close = difflib.get_close_matches(target.table, in_schema, n=3, cutoff=0.5)
    hints = []
    if elsewhere:
        hints.append(f"a table of that name exists in: {', '.join(elsewhere)} (write schema.table)")
    if close:
        hints.append(f"similar tables in {target.schema}: {', '.join(close)}")
    return MappingError(
        f"table {target.qualified} not found (searched schema {target.schema!r} for tables, views and "
        f"foreign tables)", location=_location(target.mark),
        hint="; ".join(hints) or "create the table or fix target.table in the rule file",
        details={"schema": target.schema, "table": target.table, "elsewhere": elsewhere, "similar": close})


def _check_columns(rules: RuleSet, columns: Mapping[str, ColumnType], wanted: Sequence[str]) -> None:
    names = list(columns)
    if rules.key.field not in columns:
        raise MappingError(
            f"key column {rules.key.field!r} not found in table {rules.target.qualified}",
            location=_location(rules.key.mark), hint=_closest(rules.key.field, names),
            details={"field": rules.key.field, "columns": names})
    missing = [f for f in wanted if f not in columns]
    if not missing:
        return
    parts = []
    for name in missing:
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        mark = _field_mark(rules, name)
        where = f" ({mark.path}:{mark.line})" if mark is not None else ""
        parts.append(f"{name!r}{where}" + (f" (closest: {', '.join(close)})" if close else ""))
    raise MappingError(
        f"{len(missing)} mapped column(s) missing from table {rules.target.qualified}: {'; '.join(parts)}",
        location=_location(_field_mark(rules, missing[0])),
        hint=f"columns of {rules.target.qualified}: {', '.join(names)}",
        details={"missing": missing, "columns": names})


def _field_mark(rules: RuleSet, name: str) -> Mark | None:
    try:
        return rules.field(name).mark
    except KeyError:
        return None


def _closest(name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    return f"closest columns: {', '.join(close)}" if close else f"columns: {', '.join(names)}"


def _location(mark: Mark | None) -> Location | None:
    return Location(mark.path, mark.line, mark.column) if mark is not None else None


def _table_ident(schema: str, table: str) -> sql.Identifier:
    return sql.Identifier(schema, table)


def table_ident(info: TableInfo) -> sql.Identifier:
    """The qualified, quoted identifier of the target table."""
    return _table_ident(info.schema, info.table)


def key_is_unique(conn: psycopg.Connection, info: TableInfo) -> bool:
    """True when a unique, non-partial index covers exactly the key column."""
    with db_errors(f"reading the indexes of {info.qualified}"):
        return bool(conn.execute(sql_text("target/key_is_unique.sql"),
                                 {"schema": info.schema, "table": info.table, "key": info.key.name}
                                 ).fetchone()[0])


def check_table_keys(conn: psycopg.Connection, table_info: TableInfo) -> None:
    """Refuse a table whose key column holds NULLs or duplicates (``DataError``, counts and samples).

    A unique index on the key (a primary key) makes duplicates impossible; NULLs are still
    counted unless the column is NOT NULL.
    """
    if key_is_unique(conn, table_info) and not table_info.key.nullable:
        return
    query = sql.SQL(sql_text("target/key_problems.sql")).format(
        table=table_ident(table_info), key=sql.Identifier(table_info.key.name))
    with db_errors(f"checking the keys of {table_info.qualified}"):
        nulls, dup_keys, dup_rows, sample = conn.execute(query).fetchone()
    problems = []
    if nulls:
        problems.append(f"{nulls} row(s) with a NULL key")
    if dup_keys:
        problems.append(f"{dup_keys} key(s) on more than one row ({dup_rows} rows), e.g. "
                        + ", ".join(repr(k) for k in sample))
    if problems:
        raise DataError(
            f"table {table_info.qualified}: key column {table_info.key.name!r} is not a unique key: "
            + "; ".join(problems),
            code=DUPLICATE_TABLE_KEYS if dup_keys else NULL_TABLE_KEYS,
            hint="fix those rows, or choose a unique key column (a primary key makes this impossible)",
            details={"null_keys": nulls, "duplicate_keys": dup_keys, "duplicate_rows": dup_rows,
                     "sample": list(sample)})


# -- snapshot ----------------------------------------------------------------------------------

def begin_snapshot(conn: psycopg.Connection) -> None:
    """Open a REPEATABLE READ, READ ONLY transaction: every read until its end sees one state.

    The snapshot is read in two steps (hashes of every row, then the text of the rows that
    differ); both must see the table as it was at the first, as one COPY would.
    """
    with db_errors("starting the snapshot transaction"):
        conn.rollback()
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


# PostgreSQL's CSV writes NULL as an empty unquoted field and always quotes '' as "" (and any
# value holding a comma, quote or line break); DuckDB reads the two back apart when quoted
# values are never turned into NULL. Quoting every value (FORCE_QUOTE *) only made the
# stream a fifth longer and the parse slower.
_PG_COPY_OUT = "COPY ({query}) TO STDOUT (FORMAT csv, ENCODING 'UTF8')"
# The reader takes the pipe in 4 MiB buffers, so it parses while PostgreSQL still prints (its
# default, 32 MiB, is the whole of a 100k-row table: nothing overlapped). A row may be up to
# about that long (the default stopped at 2 MiB); a longer one, and every row after it, the
# reader drops without a word, so the rows read are counted against the rows sent.
_ROW_LIMIT_MB = 4
_DUCK_CREATE = "CREATE OR REPLACE TABLE {table} AS "
_DUCK_INSERT = "INSERT INTO {table} "
_DUCK_READ = ("SELECT {select} FROM read_csv(?, columns = {columns}, header = false, delim = ',', quote = '\"', escape = '\"', "
              "nullstr = '', allow_quoted_nulls = false, auto_detect = false, new_line = '\\n', parallel = {parallel}, "
              f"ignore_errors = {{skip_refused}}, buffer_size = {_ROW_LIMIT_MB << 20})")

_DUCK_EMPTY = "CREATE OR REPLACE TABLE {table} AS SELECT {select} FROM (SELECT {columns}) WHERE false"


def snapshot_to_duckdb(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, table_info: TableInfo,
                       fields: Sequence[str], *, table: str = "target", keys: Sequence[str] | None = None,
                       keep: str = "*", typed: Mapping[str, str] | None = None, days: Collection[str] = ()) -> int:
    """Copy the key and ``fields`` of the table into DuckDB ``table("key#", <field>...)``, VARCHAR.

    One ``COPY (SELECT key, f ...) TO STDOUT``: values are exactly ``SELECT col::text``,
    NULL stays NULL and '' stays ''. ``keys`` restricts the copy to those key values.
    ``keep`` is what DuckDB keeps of each row read (SQL over ``SNAPSHOT_KEY`` and the fields, e.g. a
    hash of them; the default keeps the text). ``typed``: fields DuckDB's reader parses straight
    into these types (``duck_types.csv_read_type``; ``keep`` must mean the same over a text
    column): a text it refuses (``NaN``) makes the snapshot be read again, as text, in the same
    transaction. ``days``: date fields copied as their days since ``DAYS_EPOCH`` (``pg_days``).
    Returns the number of rows copied.
    """
    unknown = [f for f in fields if f not in table_info.columns]
    if unknown:
        raise MappingError(f"fields not in the table info of {table_info.qualified}: {', '.join(unknown)}")
    if keys is not None and not keys:  # nothing to ask PostgreSQL for: the empty table directly
        duck.execute(_DUCK_EMPTY.format(table=duck_ident(table), select=keep, columns=", ".join(
            f"NULL::VARCHAR AS {duck_ident(name)}" for name in (SNAPSHOT_KEY, *fields))))
        return 0
    with db_errors(f"snapshot of {table_info.qualified}"):
        casts = _columns_needing_cast(conn, table_info, [table_info.key.name, *fields])
        copy = sql.SQL(_PG_COPY_OUT).format(query=snapshot_query(table_info, fields, restricted=keys is not None,
                                                                 cast=casts, days=days))
        params = [key_parameter(table_info.key, keys)] if keys is not None else None
        sent, loaded = _copy_into(conn, duck, copy, params, table, keep, fields, typed or {})
        if loaded != sent and typed:
            sent, loaded = _copy_into(conn, duck, copy, params, table, keep, fields, {})
    if loaded != sent:  # DuckDB's reader drops a row longer than its buffer, and all after it, silently
        raise DataError(f"the snapshot of {table_info.qualified} is incomplete: PostgreSQL sent {sent} rows, "
                        f"{loaded} were read; a row longer than {_ROW_LIMIT_MB} MiB cannot be read",
                        code=SNAPSHOT_INCOMPLETE, details={"sent": sent, "loaded": loaded},
                        hint="leave very long columns (documents, blobs) out of the rule file")
    return loaded


def _copy_into(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, copy: sql.Composable,
               params: Sequence[Any] | None, table: str, keep: str, fields: Sequence[str],
               typed: Mapping[str, str]) -> tuple[int, int]:
    """One COPY into DuckDB ``table``: (rows PostgreSQL sent, rows DuckDB kept). With ``typed``
    columns the reader skips a row holding a text it cannot parse, so the two then differ."""
    columns = _duck_struct({SNAPSHOT_KEY: "VARCHAR", **{f: typed.get(f, "VARCHAR") for f in fields}})

    def load(path: str, seekable: bool, first: bool) -> None:
        into = _DUCK_CREATE if first else _DUCK_INSERT
        duck.execute(into.format(table=duck_ident(table)) + _DUCK_READ.format(
            select=keep, columns=columns, parallel=str(seekable).lower(), skip_refused=str(bool(typed)).lower()),
            [path])

    sent = stream_copy_out(conn, copy, params, load)
    return sent, int(duck.execute(f"SELECT count(*) FROM {duck_ident(table)}").fetchone()[0])


# Texts COPYed into the typed stage at a time: a batch holding a text PostgreSQL refuses is
# read again one text at a time, so a column of many refused texts costs no more than that.
_READ_BATCH = 1000


def read_by_postgres(dsn: str, info: TableInfo, column: str, texts: Sequence[str]) -> list[str | None]:
    """Each text as PostgreSQL prints it once read into ``column`` of the table (jsonb's spacing,
    inet's netmask, an enum's label), or None where the column's type refuses it.

    The texts are COPYed into a temporary column typed like the table's, so PostgreSQL itself
    reads them and no type name is formatted into SQL; a batch it refuses part of is read one
    text at a time, server-side (``sql/target/read_one_by_one.sql``). On a connection of its
    own, as temporary tables cannot be made in the snapshot's read-only transaction; rolled
    back after, so nothing stays.
    """
    printed: list[str | None] = [None] * len(texts)
    with connect(dsn) as conn, db_errors(f"reading sheet values into {info.qualified}.{column}"):
        conn.execute(sql.SQL("CREATE TEMP TABLE reconcile_read ON COMMIT DROP AS SELECT NULL::integer AS n, {} AS v "
                             "FROM {} WITH NO DATA").format(sql.Identifier(column), table_ident(info)))
        conn.execute("CREATE TEMP TABLE reconcile_read_text (n integer, v text) ON COMMIT DROP")
        for start in range(0, len(texts), _READ_BATCH):
            batch = [(i, texts[i]) for i in range(start, min(start + _READ_BATCH, len(texts)))]
            if _copy_refused(conn, "reconcile_read", batch):
                _copy_refused(conn, "reconcile_read_text", batch)  # text: never refused
                conn.execute(sql_text("target/read_one_by_one.sql"))
                conn.execute("TRUNCATE reconcile_read_text")
        for n, text in conn.execute("SELECT n, v::text FROM reconcile_read"):
            printed[n] = text
        conn.rollback()
    return printed


def _copy_refused(conn: psycopg.Connection, stage: str, rows: Sequence[tuple[int, str]]) -> bool:
    """COPY ``rows`` (n, text) into a stage in a savepoint; True when PostgreSQL refused a text
    (the COPY is undone). A text may be refused with any SQLSTATE (tsvector's is a syntax
    error): what tells it from a real failure is the COPY's own line in the error's context."""
    try:
        copy_in = sql.SQL("COPY {} (n, v) FROM STDIN").format(sql.Identifier(stage))
        with conn.transaction(), conn.cursor().copy(copy_in) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as err:
        if not re.search(rf"\bCOPY {stage}, line \d+", getattr(err.diag, "context", None) or ""):
            raise
        return True
    return False


def snapshot_query(table_info: TableInfo, fields: Sequence[str], *, restricted: bool = False,
                   cast: Collection[str] | None = None, days: Collection[str] = ()) -> sql.Composed:
    """``SELECT key, f1, ... FROM table [WHERE <key in %s>]``, columns in ``cast`` as ``::text``.

    ``cast=None`` casts every column; a column left bare is copied with its type's output
    function, which is its ``::text`` unless ``_columns_needing_cast`` says otherwise.
    ``days``: date columns copied as ``pg_days`` instead.
    ``restricted``: the parameter is ``key_parameter(table_info.key, texts)``.
    """
    def column(name: str) -> sql.Composable:
        ident = sql.Identifier(name)
        if name in days:
            return pg_days(ident)
        return sql.SQL("{}::text").format(ident) if cast is None or name in cast else ident

    cols = [column(table_info.key.name)] + [column(f) for f in fields]
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(cols), table_ident(table_info))
    if restricted:
        query = sql.SQL("{} WHERE {}").format(query, _key_filter(table_info.key))
    return query


def pg_days(date: sql.Composable) -> sql.Composed:
    """PostgreSQL: the days from ``DAYS_EPOCH`` to a date column (``duck_types.days_sql``'s
    equal), +-``DAYS_INFINITY`` for +-infinity, NULL for NULL."""
    return sql.SQL("CASE WHEN isfinite({d}) THEN {d} - DATE {epoch} WHEN {d} = 'infinity' THEN {inf} "
                   "WHEN {d} = '-infinity' THEN {neg} END").format(
        d=date, epoch=sql.Literal(DAYS_EPOCH), inf=sql.Literal(DAYS_INFINITY), neg=sql.Literal(-DAYS_INFINITY))


# Key types whose text output Python parses back one way only, so key texts can be matched as
# values of the key's type, which its index finds; `key::text = ANY(...)` reads every row
# (fetching the 10k differing rows of a 1M-row table by an integer key: a full scan).
# Each: the array type the values are sent as (a fixed name, never one from the catalog), and
# the parse. Other key types match their text.
_TYPED_KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "smallint": ("int8[]", int), "integer": ("int8[]", int), "bigint": ("int8[]", int),
    "uuid": ("uuid[]", uuid.UUID),
}
_INT8_RANGE = range(-(1 << 63), 1 << 63)


def _key_filter(key: ColumnType) -> sql.Composed:
    typed = _TYPED_KEYS.get(key.pg_type)
    if typed is None:
        return sql.SQL("{}::text = ANY(%s::text[])").format(sql.Identifier(key.name))
    return sql.SQL("{} = ANY(%s::{})").format(sql.Identifier(key.name), sql.SQL(typed[0]))


def key_parameter(key: ColumnType, texts: Sequence[str]) -> list[Any]:
    """The parameter of a query restricted by ``_key_filter``: the key texts, or for a typed key
    the values of the texts PostgreSQL would print as they are ('7', not ' 7' or '007'), which
    are the only ones the text comparison would have matched."""
    typed = _TYPED_KEYS.get(key.pg_type)
    if typed is None:
        return list(texts)
    values = []
    for text in texts:
        try:
            value = typed[1](text)
        except (ValueError, TypeError):
            continue
        if str(value) == text and (not isinstance(value, int) or value in _INT8_RANGE):
            values.append(value)
    return values


def _columns_needing_cast(conn: psycopg.Connection, info: TableInfo, columns: Sequence[str]) -> set[str]:
    rows = conn.execute(sql_text("target/text_casts.sql"),
                        {"schema": info.schema, "table": info.table, "columns": list(columns)}).fetchall()
    return {r[0] for r in rows}


duck_ident = ident  # a quoted DuckDB identifier; one definition, in engine.transforms


def _duck_struct(columns: Mapping[str, str]) -> str:
    """A DuckDB struct literal {'name': 'TYPE', ...} with names quoted as SQL strings."""
    items = ", ".join("'" + name.replace("'", "''") + f"': '{kind}'" for name, kind in columns.items())
    return "{" + items + "}"


__all__ = ["APPLICATION_NAME", "SESSION_SETTINGS", "begin_snapshot", "check_table_keys", "read_by_postgres",
           "read_only_query",
           "classify", "connect", "db_errors", "duck_ident", "key_is_unique", "key_parameter", "read_table_info",
           "pg_days", "resolve_dsn", "snapshot_query", "snapshot_to_duckdb", "table_ident"]
