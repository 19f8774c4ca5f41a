"""Runs, field logs and field statistics in the ``reconcile`` schema.

The tables are a contract (``sql/migrations/``). ``ensure_schema`` applies pending
migrations once each, under a transaction-scoped advisory lock so concurrent runs never
race. Field write rows are written in the caller's data transaction (``log_field_events``);
``log_failure`` records a failed run on a connection of its own after that transaction
rolled back.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import psycopg
from psycopg.types.json import Jsonb

from .errors import DatabaseError, ReconcileError
from .resources import migrations
from .results import FieldCounts
from .rules.model import RuleSet
from .target import classify, connect, db_errors

# Any fixed number works; it only has to be the same for every reconcile process.
MIGRATION_LOCK = 7_424_113_901
NO_KEY = "*"  # record_key / field_name of log rows that concern no single record or field

_LOG_COLUMNS = ("run_id, rule_name, record_key, field_name, success, old_value, new_value, "
                "error_message, kind, sheet_row")
_STATS_UPSERT = (
    "INSERT INTO reconcile.field_stats (run_id, rule_name, field_name, compared, differing, written, "
    "conflicts, invalid, errors, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (run_id, field_name) DO UPDATE SET compared = EXCLUDED.compared, "
    "differing = EXCLUDED.differing, written = EXCLUDED.written, conflicts = EXCLUDED.conflicts, "
    "invalid = EXCLUDED.invalid, errors = EXCLUDED.errors, error = EXCLUDED.error")


def ensure_schema(conn: psycopg.Connection) -> int:
    """Apply pending migrations (each once, in order) and return the schema version.

    Idempotent and safe to call from concurrent runs: the check is read-only when nothing is
    pending (a role without CREATE can still run), and the work happens under
    ``pg_advisory_xact_lock``. Runs in ``conn.transaction()`` (a savepoint inside an open one).
    """
    known = migrations()
    latest = max(v for v, _, _ in known)
    owned = conn.autocommit or conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with db_errors("preparing the reconcile log schema"):
        if not _pending(_applied(conn), known):
            return latest
        if owned and not conn.autocommit:
            conn.rollback()  # end the read-only check: the migrations get a transaction of their own
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            # Whoever held the lock may have created the schema while we waited; locking a catalog
            # makes this backend read the invalidations, so its cached "no such schema" goes.
            conn.execute("LOCK TABLE pg_catalog.pg_namespace IN ACCESS SHARE MODE")
            for version, name, text in _pending(_applied(conn), known):
                conn.execute(text)
                conn.execute("INSERT INTO reconcile.schema_migrations (version, name) VALUES (%s, %s)",
                             [version, name])
    return latest


def schema_version(conn: psycopg.Connection) -> int | None:
    """The highest applied migration, or None when the schema was never created."""
    with db_errors("reading the reconcile schema version"):
        applied = _applied(conn)
    return max(applied) if applied else None


def _applied(conn: psycopg.Connection) -> set[int]:
    exists = conn.execute("SELECT to_regclass('reconcile.schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return set()
    return {r[0] for r in conn.execute("SELECT version FROM reconcile.schema_migrations").fetchall()}


def _pending(applied: set[int], known: Sequence[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    return [m for m in known if m[0] not in applied]


def start_run(conn: psycopg.Connection, rules: RuleSet, *, command: str = "run",
              selectors: dict[str, Any] | None = None) -> int:
    """Record a run as ``running`` in its own short transaction; return its id."""
    with db_errors("recording the start of the run"), conn.transaction():
        row = conn.execute(
            "INSERT INTO reconcile.runs (rule_name, rule_hash, rule_path, command, selectors, status) "
            "VALUES (%s, %s, %s, %s, %s, 'running') RETURNING id",
            [rules.name, rules.hash, str(rules.path) if rules.path else None, command,
             Jsonb(selectors or {})]).fetchone()
    return int(row[0])


def log_field_events(conn: psycopg.Connection, run_id: int, rule_name: str, rows: Iterable[tuple]) -> int:
    """COPY rows into ``field_sync_logs`` in the caller's transaction; return how many.

    Each row: (record_key, field_name, success, old_value, new_value, error_message, kind,
    sheet_row). A None key or field (an error about no single record) is stored as ``*``.
    """
    count = 0
    with db_errors("writing field_sync_logs"):
        with conn.cursor().copy(f"COPY reconcile.field_sync_logs ({_LOG_COLUMNS}) FROM STDIN") as copy:
            for key, field, success, old, new, message, kind, sheet_row in rows:
                copy.write_row((run_id, rule_name, NO_KEY if key is None else key,
                                NO_KEY if field is None else field, success, old, new, message, kind, sheet_row))
                count += 1
    return count


def write_field_stats(conn: psycopg.Connection, run_id: int, rule_name: str,
                      counts: Sequence[FieldCounts]) -> None:
    """One ``field_stats`` row per field of ``counts`` (replacing an earlier row of the run)."""
    with db_errors("writing field_stats"):
        with conn.cursor() as cur:
            cur.executemany(_STATS_UPSERT, [
                (run_id, rule_name, c.field, c.compared, c.differing, c.written, c.conflicts, c.invalid,
                 c.errors, c.error) for c in counts])


def finish_run(conn: psycopg.Connection, run_id: int, status: str, counts: dict[str, Any],
               error: str | None = None) -> None:
    """Set the run's status, counts, error and ``finished_at`` (in the caller's transaction)."""
    with db_errors("recording the end of the run"):
        conn.execute("UPDATE reconcile.runs SET status = %s, counts = %s, error = %s, finished_at = now() "
                     "WHERE id = %s", [status, Jsonb(counts), error, run_id])


def recent_runs(conn: psycopg.Connection, limit: int = 10) -> list[dict[str, Any]]:
    """The latest runs, newest first, as dicts (id, rule_name, command, status, started_at, finished_at, counts, error)."""
    if schema_version(conn) is None:
        return []
    with db_errors("reading reconcile.runs"):
        cur = conn.execute("SELECT id, rule_name, command, status, started_at, finished_at, counts, error "
                           "FROM reconcile.runs ORDER BY id DESC LIMIT %s", [limit])
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def _already_finished(conn: psycopg.Connection, run_id: int) -> bool:
    with db_errors("reading the run's status"):
        row = conn.execute("SELECT status FROM reconcile.runs WHERE id = %s FOR UPDATE", [run_id]).fetchone()
    return row is not None and row[0] != "running"  # an unknown run fails below, on its foreign key


def log_failure(dsn: str, run_id: int, rule_name: str,
                errors: Sequence[tuple[str | None, str | None, str]],
                field_counts: Sequence[FieldCounts]) -> None:
    """After the data transaction rolled back: record its errors, the field stats and status ``failed``.

    Uses a connection and transaction of its own. ``errors`` are (record_key, field, message).
    A run already finished (its failure logged by an inner step) is left as it is, so a failure
    seen at two levels is logged once. If even this fails, the ``DatabaseError`` raised names
    the first original error too.
    """
    rows = [(key, field, False, None, None, message, "error", None) for key, field, message in errors]
    try:
        with connect(dsn) as conn, conn.transaction():
            if _already_finished(conn, run_id):
                return
            log_field_events(conn, run_id, rule_name, rows)
            write_field_stats(conn, run_id, rule_name, field_counts)
            finish_run(conn, run_id, "failed", {"errors": len(rows)},
                       "\n".join(message for _, _, message in errors) or None)
    except (ReconcileError, psycopg.Error) as exc:
        err = classify(exc)
        first = errors[0][2] if errors else "(no error given)"
        cls = type(err) if isinstance(err, DatabaseError) else DatabaseError
        raise cls(f"run {run_id} failed and the failure could not be logged: {err.message}; "
                        f"the failure was: {first}", details=err.details, hint=err.hint) from exc


__all__ = ["MIGRATION_LOCK", "NO_KEY", "ensure_schema", "finish_run", "log_failure", "log_field_events",
           "recent_runs", "schema_version", "start_run", "write_field_stats"]
