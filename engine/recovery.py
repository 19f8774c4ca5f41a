"""Repair records from the sheet with a backup first, and undo a repair or a run.

``recover`` is the engine's run restricted to existing records (``command='recover'``) with a
``before_apply`` hook that writes the table's current values of every planned write into
``reconcile.backups`` and commits them before the data transaction opens. If the engine's one
transaction fails on a record (a CHECK constraint, a trigger), recover retries record by record,
so one bad record does not stop the others; every failure is kept in the recovery log.

``rollback`` needs no rule file: a backup knows its table and key column. It restores old
values with compare-and-set (a value changed since is a conflict, left alone unless forced),
and is itself a logged run with its own backup, so a rollback can be rolled back.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import psycopg
from psycopg import sql

from . import resources, target
from .errors import (EXIT_FAILURE, EXIT_OK, DatabaseError, GuardRefused, ReconcileError,
                     UserError)
from .monitor import ensure_tables, fetch_dicts
from .redact import redact
from .rules.model import RuleSet


class BackupFailed(DatabaseError):
    """The backup could not be written; nothing was written to the table."""

    code = "RC530"


class RollbackSourceNotFound(UserError):
    """No backup with this id, or no run with this id that wrote anything."""

    code = "RC150"


# -- results ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordFailure:
    """A record a recovery could not repair (or a field of it)."""

    record_key: str
    field: str | None
    kind: str  # conflict | invalid | error | readback
    message: str


@dataclass(frozen=True)
class RecoveryResult:
    rule_name: str
    backup_id: str | None  # None when there was nothing to write (no backup taken)
    run_ids: tuple[int, ...]
    record_keys: tuple[str, ...]  # the records asked for, or with all_inconsistent the ones planned
    fields: tuple[str, ...]
    written: int = 0  # field writes committed
    success_count: int = 0  # records whose every planned write committed
    failure_count: int = 0  # records with a conflict, unreadable cell or failed write
    failures: tuple[RecordFailure, ...] = ()
    errors: tuple[str, ...] = ()  # run-level problems (a field skipped because its column is missing)
    log_id: int | None = None
    retried_per_record: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.failure_count == 0 and not self.errors else EXIT_FAILURE

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}


@dataclass(frozen=True)
class RestoreConflict:
    record_key: str
    field: str
    expected: str | None  # what the recovery or run wrote
    current: str | None  # what the table holds now (None also when the row is gone)
    restore: str | None  # the value a --force would put back
    reason: str


@dataclass(frozen=True)
class RollbackResult:
    source: str  # "backup <uuid>" or "run <id>"
    run_id: int | None  # the rollback's own run (roll it back with --run)
    backup_id: str | None  # the values it overwrote (roll it back with this id)
    table: str
    restored: int = 0
    already: int = 0  # fields that held the old value already (a repeated rollback): untouched
    forced: int = 0  # restored over a conflict because of --force
    conflicts: tuple[RestoreConflict, ...] = ()
    skipped: tuple[str, ...] = ()  # entries with nothing to undo, and why

    @property
    def exit_code(self) -> int:
        return EXIT_OK if not self.conflicts else EXIT_FAILURE

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}


# -- recover ----------------------------------------------------------------------------------

@dataclass
class _BackupHook:
    """``before_apply`` for recover: back up what the plan will overwrite, and commit it."""

    backup_id: str
    planned: dict[str, list[str]] = field(default_factory=dict)  # record -> fields, of the last call
    invalid: dict[tuple[str, str], str] = field(default_factory=dict)
    used: bool = False

    def __call__(self, session: Any) -> None:
        rows = session.duck.execute(
            "SELECT record_key, field, old_value, new_value FROM changes ORDER BY record_key, field").fetchall()
        self.planned = {}
        for key, name, _old, _new in rows:
            self.planned.setdefault(key, []).append(name)
        self._note_invalid(session)
        if rows:
            save_backup(session.conn, self.backup_id, session.rules.name, session.table_info, rows,
                        run_id=session.run_id)
            self.used = True

    def _note_invalid(self, session: Any) -> None:
        # The plan's diff is already narrowed to the selected keys (compared typed) and fields.
        found = session.duck.execute(
            f"SELECT record_key, field, message FROM {session.plan.diff} WHERE status = 'invalid'").fetchall()
        for key, name, message in found:
            self.invalid[(key, name)] = message or "the sheet's value cannot be read"


def save_backup(conn: psycopg.Connection, backup_id: str, rule_name: str, table_info: Any,
                rows: Iterable[Sequence[Any]], *, run_id: int | None = None) -> None:
    """Write (record_key, field, old_value, new_value) rows under ``backup_id`` and COMMIT.

    Raises BackupFailed (after rolling back) when the role may not write reconcile.backups.
    """
    try:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS reconcile_backup_stage "
                     "(LIKE reconcile.backups INCLUDING DEFAULTS) ON COMMIT DROP")
        columns = sql.SQL("COPY pg_temp.reconcile_backup_stage (backup_id, rule_name, table_schema, table_name, key_field, "
                          "record_key, field_name, value, new_value, field_type, run_id) FROM STDIN")
        with conn.cursor().copy(columns) as copy:
            for key, name, old, new in rows:
                column = table_info.columns.get(name)
                copy.write_row([backup_id, rule_name, table_info.schema, table_info.table, table_info.key.name,
                                key, name, old, new, column.pg_type if column else None, run_id])
        conn.execute(resources.sql("recovery/save_backup.sql"))
        conn.commit()
    except psycopg.Error as err:
        conn.rollback()
        raise BackupFailed(
            f"the backup of {table_info.schema}.{table_info.table} could not be written to reconcile.backups: "
            f"{redact(str(err)).strip()}; nothing was written to the table",
            hint="grant INSERT and UPDATE on reconcile.backups to this role, then run recover again") from err


def recover(rules: RuleSet | str | Path, *, dsn: str | None = None, keys: Sequence[str] | None = None,
            all_inconsistent: bool = False, fields: Sequence[str] | None = None) -> RecoveryResult:
    """Re-apply the sheet to the given records (or every inconsistent one), backup first.

    Only existing records are repaired: new sheet rows are left to ``run`` (the policy's
    ``new_rows`` is set to ``report``), so a rollback never has rows to delete. A second
    recover finds nothing to write, takes no backup and logs a row with ``backup_id`` NULL.
    """
    from . import api  # api imports the engine's heavy parts; recover needs them only here

    ruleset = _recover_rules(api.load(rules), keys, all_inconsistent)
    resolved = target.resolve_dsn(dsn, ruleset)
    _ensure_log_tables(resolved)
    hook = _BackupHook(str(uuid.uuid4()))
    outcome = _Outcome()
    try:
        outcome.add(api.run(ruleset, dsn=resolved, fields=fields, keys=keys, command="recover", before_apply=hook),
                    hook)
    except (BackupFailed, GuardRefused):
        raise
    except ReconcileError:
        if not hook.planned:
            raise  # failed before or while planning: nothing to retry record by record
        _retry_per_record(api, ruleset, resolved, fields, hook, outcome)
    _link_backup(resolved, hook.backup_id, outcome.linked)
    asked = tuple(keys or ()) or tuple(sorted(outcome.records()))
    result = RecoveryResult(
        rule_name=ruleset.name, backup_id=hook.backup_id if hook.used else None, run_ids=tuple(outcome.run_ids),
        record_keys=asked, fields=tuple(fields or ruleset.field_names), written=outcome.written,
        success_count=len(outcome.records() - outcome.failed_records()), failure_count=len(outcome.failed_records()),
        failures=tuple(outcome.failures), errors=tuple(outcome.errors), retried_per_record=outcome.retried)
    return replace(result, log_id=_log_recovery(resolved, result, all_inconsistent))


def _recover_rules(ruleset: RuleSet, keys: Sequence[str] | None, all_inconsistent: bool) -> RuleSet:
    if bool(keys) == bool(all_inconsistent):
        raise UserError("recover needs either one or more --key values or --all-inconsistent (not both)",
                        hint="reconcile recover RULES --key 6666   or   reconcile recover RULES --all-inconsistent")
    return replace(ruleset, policy=replace(ruleset.policy, new_rows="report"))


@dataclass
class _Outcome:
    """What the engine runs of one recovery did, record by record."""

    run_ids: list[int] = field(default_factory=list)
    planned: set[str] = field(default_factory=set)
    failures: list[RecordFailure] = field(default_factory=list)
    linked: list[tuple[int, list[str]]] = field(default_factory=list)  # (run, records it wrote)
    written: int = 0
    retried: bool = False
    errors: list[str] = field(default_factory=list)  # run-level: a skipped field, a read-back mismatch

    def add(self, result: Any, hook: _BackupHook) -> None:
        if result.plan.refused:
            raise GuardRefused(f"recover refused by a safety guard: {result.plan.refused}; nothing was written",
                               hint="narrow it with --key or --fields, or raise policy.max_changed_rows")
        self.run_ids.append(result.run_id)
        self.errors += [e for e in result.errors if e not in self.errors]
        self.planned |= set(hook.planned)
        self.written += result.written
        self.linked.append((result.run_id, list(hook.planned)))
        for change in result.conflicts:
            self.failures.append(RecordFailure(change.record_key, change.field, "conflict",
                                               "changed in the database since the snapshot; left as is"))
        for change in result.readback_mismatches:
            self.failures.append(RecordFailure(change.record_key, change.field, "readback",
                                               f"wrote {change.new_value!r}, table now has {change.old_value!r}"))
        for (key, name), message in hook.invalid.items():
            if name not in hook.planned.get(key, ()):
                self.failures.append(RecordFailure(key, name, "invalid", message))
        hook.invalid.clear()

    def records(self) -> set[str]:
        return self.planned | self.failed_records()

    def failed_records(self) -> set[str]:
        return {f.record_key for f in self.failures}


def _retry_per_record(api: Any, ruleset: RuleSet, dsn: str, fields: Sequence[str] | None, hook: _BackupHook,
                      outcome: _Outcome) -> None:
    """The batch's one transaction failed: nothing was written. Repair each record alone."""
    outcome.retried = True
    for key in sorted(hook.planned):
        try:
            outcome.add(api.run(ruleset, dsn=dsn, fields=fields, keys=[key], command="recover",
                                before_apply=hook), hook)
        except BackupFailed:
            raise
        except ReconcileError as err:
            outcome.planned.add(key)
            outcome.failures.append(RecordFailure(key, (err.details or {}).get("field"), "error", str(err)))
            _drop_backup_rows(dsn, hook.backup_id, [key])  # nothing was written for it
        else:
            if key not in hook.planned:  # already agrees now (changed meanwhile): nothing of ours to undo
                _drop_backup_rows(dsn, hook.backup_id, [key])


def _ensure_log_tables(dsn: str) -> None:
    with target.connect(dsn) as conn:
        ensure_tables(conn)
        conn.commit()


def _link_backup(dsn: str, backup_id: str, linked: Sequence[tuple[int, list[str]]]) -> None:
    """Tie each backed-up field to the run that wrote over it (rollback compares with its log)."""
    if not linked:
        return
    with target.connect(dsn) as conn:
        for run_id, records in linked:
            conn.execute("UPDATE reconcile.backups SET run_id = %s WHERE backup_id = %s AND record_key = ANY(%s)",
                         [run_id, backup_id, records])
        conn.commit()


def _drop_backup_rows(dsn: str, backup_id: str, records: list[str]) -> None:
    with target.connect(dsn) as conn:
        conn.execute("DELETE FROM reconcile.backups WHERE backup_id = %s AND record_key = ANY(%s)",
                     [backup_id, records])
        conn.commit()


def _log_recovery(dsn: str, result: RecoveryResult, all_inconsistent: bool) -> int:
    failures = [asdict(f) for f in result.failures]
    with target.connect(dsn) as conn:
        log_id = conn.execute(
            "INSERT INTO reconcile.data_recovery_logs (rule_name, record_keys, field_names, backup_id, success_count, "
            "failure_count, all_inconsistent, run_ids, failures) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "RETURNING id",
            [result.rule_name, list(result.record_keys), list(result.fields), result.backup_id, result.success_count,
             result.failure_count, all_inconsistent, list(result.run_ids), json.dumps(failures)]).fetchone()[0]
        conn.commit()
    return log_id


# -- rollback ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Entry:
    record_key: str
    field: str
    restore: str | None
    expected: str | None


@dataclass(frozen=True)
class _Source:
    """What to restore, where."""

    label: str
    rule_name: str
    schema: str
    table: str
    key: str
    entries: tuple[_Entry, ...]
    skipped: tuple[str, ...]
    selectors: dict[str, Any]


def rollback(backup_id: str | None = None, *, run_id: int | None = None, dsn: str | None = None,
             force: bool = False) -> RollbackResult:
    """Put back the values a recovery (by its backup) or a run (by its log) overwrote.

    Compare-and-set: a field is restored only while it still holds what was written; otherwise
    it is reported as a conflict and left alone, unless ``force``. Logged as a run with command
    'rollback' (field_sync_logs rows) with its own backup, written in the same transaction as
    the restore, so a rollback can itself be rolled back by backup or by run.
    """
    if (backup_id is None) == (run_id is None):
        raise UserError("rollback needs a BACKUP_ID or --run RUN_ID (exactly one)")
    resolved = _rollback_dsn(dsn)
    with target.connect(resolved) as conn:
        ensure_tables(conn)
        source = _backup_source(conn, backup_id) if backup_id else _run_source(conn, run_id)
        rb_run = _start_rollback_run(conn, source, force)
        try:
            result = _restore(conn, source, rb_run, force)
        except psycopg.Error as err:
            conn.rollback()
            message = redact(str(err)).strip()
            _finish_run(conn, rb_run, "failed", {}, message)
            raise DatabaseError(f"rollback of {source.label} failed, nothing was restored: {message}") from err
    return result


def _rollback_dsn(dsn: str | None) -> str:
    """--dsn, else $DATABASE_URL: a backup knows its table but not its server."""
    from . import target

    return target.resolve_dsn(dsn, None)


def _backup_source(conn: psycopg.Connection, backup_id: str) -> _Source:
    try:
        uuid.UUID(str(backup_id))
    except ValueError:
        raise RollbackSourceNotFound(f"{backup_id!r} is not a backup id (a UUID)",
                                     hint="see SELECT DISTINCT backup_id FROM reconcile.backups") from None
    rows = fetch_dicts(conn, resources.sql("recovery/backup_entries.sql"), {"backup": backup_id})
    if not rows:
        raise RollbackSourceNotFound(f"backup {backup_id} not found in reconcile.backups",
                                     hint="see reconcile.data_recovery_logs.backup_id for the backups taken")
    first = rows[0]
    entries = tuple(_Entry(r["record_key"], r["field_name"], r["restore_value"], r["expected_value"])
                    for r in rows if r["written"])
    skipped = tuple(f"record {r['record_key']} field {r['field_name']}: not written by run {r['run_id']}"
                    for r in rows if not r["written"])
    return _Source(f"backup {backup_id}", first["rule_name"], first["table_schema"], first["table_name"],
                   first["key_field"], entries, skipped, {"backup_id": str(backup_id)})


def _run_source(conn: psycopg.Connection, run_id: int) -> _Source:
    run = fetch_dicts(conn, "SELECT id, rule_name, rule_path, command FROM reconcile.runs WHERE id = %(run)s",
                 {"run": run_id})
    if not run:
        raise RollbackSourceNotFound(f"run {run_id} not found in reconcile.runs")
    rows = fetch_dicts(conn, resources.sql("recovery/run_entries.sql"), {"run": run_id})
    schema, table, key = _run_table(conn, run[0])
    entries = tuple(_Entry(r["record_key"], r["field_name"], r["restore_value"], r["expected_value"])
                    for r in rows if r["written"])
    inserted = sorted({r["record_key"] for r in rows if not r["written"]})
    skipped = tuple(f"record {k}: row inserted by run {run_id}; a rollback never deletes rows" for k in inserted)
    return _Source(f"run {run_id}", run[0]["rule_name"], schema, table, key, entries, skipped, {"run_id": run_id})


def _run_table(conn: psycopg.Connection, run: dict[str, Any]) -> tuple[str, str, str]:
    """The table and key column a run wrote: from a backup tied to it, else from its rule file."""
    found = fetch_dicts(conn, "SELECT table_schema, table_name, key_field FROM reconcile.backups WHERE run_id = %(run)s "
                         "LIMIT 1", {"run": run["id"]})
    if found:
        return found[0]["table_schema"], found[0]["table_name"], found[0]["key_field"]
    path = run.get("rule_path")
    if path and Path(path).exists():
        from .rules import load_rules

        ruleset = load_rules(path)
        return ruleset.target.schema, ruleset.target.table, ruleset.key.field
    raise RollbackSourceNotFound(
        f"run {run['id']} ({run['command']}) names no table: it has no backup and its rule file "
        f"{path or '(not recorded)'} is not readable here",
        hint="run the rollback where the rule file is, or roll back by backup id")


def _start_rollback_run(conn: psycopg.Connection, source: _Source, force: bool) -> int:
    selectors = {**source.selectors, "force": force}
    run_id = conn.execute("INSERT INTO reconcile.runs (rule_name, rule_hash, command, selectors) "
                          "VALUES (%s, '', 'rollback', %s) RETURNING id",
                          [source.rule_name, json.dumps(selectors)]).fetchone()[0]
    conn.commit()
    return run_id


def _finish_run(conn: psycopg.Connection, run_id: int, status: str, counts: dict[str, Any],
                error: str | None) -> None:
    conn.execute("UPDATE reconcile.runs SET status = %s, counts = %s, error = %s, finished_at = now() "
                 "WHERE id = %s", [status, json.dumps(counts), error, run_id])
    conn.commit()


def _restore(conn: psycopg.Connection, source: _Source, rb_run: int, force: bool) -> RollbackResult:
    """One transaction: per field, stage typed values, compare-and-set, log, back up what was overwritten."""
    backup_id = str(uuid.uuid4())
    restored: list[tuple[str, str, str | None, str | None]] = []  # key, field, was, now
    conflicts: list[RestoreConflict] = []
    forced = already = 0
    types = _column_types(conn, source)
    for name in sorted({e.field for e in source.entries}):
        entries = [e for e in source.entries if e.field == name]
        outcome = _restore_field(conn, source, name, entries, force)
        for key, current, expected, restore, state in outcome:
            if state == "restored":
                restored.append((key, name, current, restore))
                forced += current != expected
            elif state == "already":
                already += 1
            else:
                conflicts.append(RestoreConflict(key, name, expected, current, restore,
                                                 "changed since it was written; left as is (use --force)"))
        seen = {row[0] for row in outcome}
        conflicts += [RestoreConflict(e.record_key, name, e.expected, None, e.restore, "the row no longer exists")
                      for e in entries if e.record_key not in seen]
    _log_restore(conn, source, rb_run, backup_id, restored, conflicts, types)
    conn.commit()
    status = "succeeded" if not conflicts else "partial"
    counts = {"restored": len(restored), "already": already, "forced": forced, "conflicts": len(conflicts), "skipped": len(source.skipped)}
    _finish_run(conn, rb_run, status, counts, f"{len(conflicts)} conflicts" if conflicts else None)
    return RollbackResult(source.label, rb_run, backup_id if restored else None, f"{source.schema}.{source.table}",
                          restored=len(restored), already=already, forced=forced, conflicts=tuple(conflicts), skipped=source.skipped)


def _restore_field(conn: psycopg.Connection, source: _Source, name: str, entries: Sequence[_Entry],
                   force: bool) -> list[tuple[str, str | None, str | None, str | None, str]]:
    """Stage (key, restore, expected) typed like the table by COPY; compare-and-set one column."""
    table = sql.Identifier(source.schema, source.table)
    key, col = sql.Identifier(source.key), sql.Identifier(name)
    conn.execute("DROP TABLE IF EXISTS pg_temp.reconcile_restore")
    conn.execute(sql.SQL("CREATE TEMP TABLE reconcile_restore ON COMMIT DROP AS SELECT {key} AS record_key, "
                         "{col} AS restore_value, {col} AS expected_value FROM {table} WITH NO DATA").format(
        key=key, col=col, table=table))
    with conn.cursor().copy("COPY pg_temp.reconcile_restore (record_key, restore_value, expected_value) FROM STDIN") as copy:
        for e in entries:
            copy.write_row([e.record_key, e.restore, e.expected])
    query = sql.SQL(resources.sql("recovery/restore_field.sql")).format(table=table, key=key, col=col)
    return [tuple(r) for r in conn.execute(query, {"force": force}).fetchall()]


def _column_types(conn: psycopg.Connection, source: _Source) -> dict[str, str]:
    rows = conn.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                        [sql.Identifier(source.schema, source.table).as_string(conn)]).fetchall()
    return dict(rows)


def _log_restore(conn: psycopg.Connection, source: _Source, rb_run: int, backup_id: str,
                 restored: Sequence[tuple[str, str, str | None, str | None]],
                 conflicts: Sequence[RestoreConflict], types: dict[str, str]) -> None:
    """field_sync_logs rows of the rollback run, and its own backup (inside the restore's transaction)."""
    with conn.cursor().copy("COPY reconcile.field_sync_logs (run_id, rule_name, record_key, field_name, success, "
                            "old_value, new_value, error_message, kind) FROM STDIN") as copy:
        for key, name, was, now in restored:
            copy.write_row([rb_run, source.rule_name, key, name, True, was, now, None, "write"])
        for c in conflicts:
            copy.write_row([rb_run, source.rule_name, c.record_key, c.field, False, c.current, c.restore,
                            f"{c.reason}: expected {c.expected!r}, found {c.current!r}", "conflict"])
    with conn.cursor().copy("COPY reconcile.backups (backup_id, rule_name, table_schema, table_name, key_field, "
                            "record_key, field_name, value, new_value, field_type, run_id) FROM STDIN") as copy:
        for key, name, was, now in restored:
            copy.write_row([backup_id, source.rule_name, source.schema, source.table, source.key, key, name,
                            was, now, types.get(name), rb_run])


__all__ = ["BackupFailed", "RecordFailure", "RecoveryResult", "RestoreConflict", "RollbackResult",
           "RollbackSourceNotFound", "recover", "rollback", "save_backup"]
