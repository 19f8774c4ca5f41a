"""The library API under the CLI: plan and run a reconcile.

One path for every command: load rules -> resolve the DSN -> read the sheet into DuckDB ->
match headers -> read the table's catalog -> snapshot the table into DuckDB -> diff -> plan.
``run`` then opens THE data transaction (the only one in the engine): apply with
compare-and-set, log every field write and error, record field statistics, commit;
then read back what it wrote. Nothing here formats SQL; each step is a function of its module.
"""
from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import duckdb
import psycopg

from . import apply as apply_mod
from . import diff as diff_mod
from . import monitor, planner, runlog, snapshot, target
from .columns import ColumnMap, TableInfo
from .errors import DatabaseError, MappingError, ReconcileError, unexpected_message
from .progress import SILENT, Progress
from .results import Change, FieldCounts, PlanResult, RunResult
from .rules import load_rules
from .rules.model import RuleSet
from .sources import SheetData, open_source
from .sources.headers import resolve as resolve_headers

RulesArg = RuleSet | str | Path

# DuckDB is told how much it may hold and where to spill, so a million-row run stays
# within a predictable footprint instead of whatever the machine happens to have: 768 MB
# holds a million-row sheet (~500 MB) and the table's hashes; the process peaks under 900 MB.
DUCKDB_MEMORY_LIMIT = os.environ.get("RECONCILE_DUCKDB_MEMORY", "768MB")
DUCKDB_THREADS = int(os.environ.get("RECONCILE_DUCKDB_THREADS", "0")) or (os.cpu_count() or 2)


@dataclass
class Session:
    """Everything known after planning; nothing written yet (see ``open_session``)."""

    rules: RuleSet
    dsn: str
    conn: psycopg.Connection
    duck: duckdb.DuckDBPyConnection
    sheet: SheetData
    columns: ColumnMap
    table_info: TableInfo
    plan: Any  # engine.planner.Plan
    selectors: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None  # set by ``run`` before apply, so hooks can link their records to it

    @property
    def skipped_fields(self) -> tuple[str, ...]:
        return self.columns.skipped


def load(rules: RulesArg) -> RuleSet:
    """A RuleSet as given, or loaded from its path."""
    return rules if isinstance(rules, RuleSet) else load_rules(rules)


def open_duckdb(spill_dir: str) -> duckdb.DuckDBPyConnection:
    duck = duckdb.connect(config={
        "memory_limit": DUCKDB_MEMORY_LIMIT,
        "temp_directory": spill_dir,
        "threads": DUCKDB_THREADS,
        "preserve_insertion_order": False,
    })
    duck.execute("SET TimeZone = 'UTC'")
    return duck


def _check_selectors(rules: RuleSet, fields: Sequence[str] | None) -> None:
    unknown = [f for f in fields or () if f not in rules.field_names]
    if unknown:
        raise MappingError(
            f"--fields names {', '.join(map(repr, unknown))}, not mapped in {rules.path or rules.name}",
            hint=f"mapped fields: {', '.join(rules.field_names)}")


@contextmanager
def open_session(rules: RulesArg, *, dsn: str | None = None, fields: Sequence[str] | None = None,
                 keys: Sequence[str] | None = None, sample_limit: int = 50,
                 progress: Progress = SILENT) -> Iterator[Session]:
    """Read both sides, diff and plan; yield the session; close everything after.

    Read-only: the table is snapshotted, never written. ``conn`` has no open transaction.
    """
    ruleset = load(rules)
    _check_selectors(ruleset, fields)
    resolved_dsn = target.resolve_dsn(dsn, ruleset)
    with ExitStack() as stack:
        spill = stack.enter_context(tempfile.TemporaryDirectory(prefix="reconcile-"))
        duck = open_duckdb(spill)
        stack.callback(duck.close)
        # The table is snapshotted while the sheet is read: DuckDB's CSV reader and the COPY
        # both release the GIL, so the two share the cores. The snapshot takes every chosen
        # field (the table must have them all anyway); the diff reads those the sheet has.
        # Each load is a serial CSV parse feeding one table; a thread each is faster than
        # DuckDB's parallel insert (100k x 31 cells: 0.27 s against 0.39 s), and the two
        # loads then fill both cores. The sheet's keys and the diff get every thread back (the
        # snapshot's reader of a FIFO, serial, keeps to one whatever the setting).
        duck.execute("SET threads = 1")
        catalog: Future[TableInfo] = Future()
        opened = _OpenConnection()
        snapshot_job = _Background(_snapshot_table, ruleset, resolved_dsn, duck, fields, keys, catalog, opened,
                                   cancel=opened.cancel)
        stack.callback(snapshot_job.discard)
        with progress.phase("read sheet"):
            sheet = open_source(ruleset.source).read(duck, "sheet")
        columns = resolve_headers(sheet.headers, ruleset, fields)
        if columns.key is None:
            problems = [p.message() for p in columns.problems if p.field == ruleset.key.field]
            raise MappingError(f"the key column cannot be read from {sheet.origin}: {'; '.join(problems)}",
                               hint="run `reconcile check` to see how every column is matched")
        duck.execute(f"SET threads = {DUCKDB_THREADS}")
        with progress.phase("snapshot table"):  # what is left of it once the sheet is read
            # The sheet's keys need only the catalog (the key's type), so they are built while
            # the COPY still runs: the COPY outlasts the sheet's load at 100k rows and at 1M.
            diff_mod.build_sheet_keys(duck, ruleset, columns, catalog.result(), sheet="sheet")
            conn, table_info, hashed_fields, text_fields = snapshot_job.result()
            stack.enter_context(conn)
        with progress.phase("diff"):
            hashed = diff_mod.HashedTarget(hashed_fields, _fetch_rows(conn, duck, table_info, keys),
                                           text_fields=text_fields)
            summary = diff_mod.compute_diff(
                duck, ruleset, columns, table_info, sheet="sheet", target="target", hashed=hashed,
                sheet_keys_built=True,
                read_by_postgres=lambda column, texts: target.read_by_postgres(resolved_dsn, table_info, column, texts))
            conn.rollback()  # the end of the snapshot's transaction
            plan = planner.build_plan(duck, ruleset, summary, table_info, fields=fields, keys=keys,
                                       sample_limit=sample_limit)
        result = plan.result
        if columns.problems:
            result = replace(result, header_problems=tuple(p.message() for p in columns.problems))
            plan = replace(plan, result=result)
        selectors = {"fields": list(fields or []), "keys": list(keys or [])}
        yield Session(ruleset, resolved_dsn, conn, duck, sheet, columns, table_info, plan, selectors)


def _snapshot_table(rules: RuleSet, dsn: str, duck: duckdb.DuckDBPyConnection, fields: Sequence[str] | None,
                    keys: Sequence[str] | None, catalog: Future[TableInfo],
                    opened: _OpenConnection) -> tuple[psycopg.Connection, TableInfo, tuple[str, ...], tuple[str, ...]]:
    """Connect, read the table's catalog, check its keys and copy one hash per row into DuckDB
    ``target("key#", h)``, then check the keys copied (unique, not NULL); return the connection,
    the table, the fields hashed (in rule order) and those of them hashed as text.

    Runs beside the sheet read, on a DuckDB cursor of its own. The connection is left in the
    snapshot's REPEATABLE READ transaction, so the rows the diff then fetches
    (``_fetch_rows``) are as they were when hashed; the caller ends it. ``catalog`` gets the
    table's catalog as soon as it is read (or the error that came first), before the COPY, and
    before its rows are counted (``row_count`` is in the TableInfo returned). ``opened`` is
    given the connection as soon as it exists, so that it can be cancelled.
    """
    conn: psycopg.Connection | None = None
    try:
        conn = target.connect(dsn)
        opened.conn = conn
        target.begin_snapshot(conn)
        # A COPY of every row counts them (same snapshot), so the count is asked for only
        # when the COPY is restricted to keys: a second scan of the table (50 ms at 1M rows).
        table_info = target.read_table_info(conn, rules, fields or None, count=keys is not None)
        catalog.set_result(table_info)
        target.check_table_keys(conn, table_info)
        hashed = tuple(f for f in rules.field_names if f in table_info.columns)
        hashing = diff_mod.hash_snapshot(table_info, hashed, diff_mod.text_hashed_fields(rules, table_info, hashed))
        with duck.cursor() as cursor:
            copied = target.snapshot_to_duckdb(conn, cursor, table_info, list(table_info.columns), table="target",
                                               keys=keys, keep=hashing.keep, typed=hashing.typed, days=hashing.days)
            if keys is None:
                table_info = replace(table_info, row_count=copied)
            # Here, beside the sheet's load or keys, rather than after both (65 ms at 1M rows).
            snapshot.check_target_keys(cursor, "target")
    except BaseException as exc:
        if not catalog.done():
            catalog.set_exception(exc)
        if conn is not None:
            conn.close()
        raise
    return conn, table_info, hashed, hashing.text_fields


def _fetch_rows(conn: psycopg.Connection, duck: duckdb.DuckDBPyConnection, table_info: TableInfo,
                keys: Sequence[str] | None) -> Callable[[Sequence[str] | None, str], int]:
    """The diff's way to the text of the rows it needs: by key, or all rows the run selects."""
    def fetch(wanted: Sequence[str] | None, table: str) -> int:
        return target.snapshot_to_duckdb(conn, duck, table_info, list(table_info.columns), table=table,
                                         keys=keys if wanted is None else wanted)
    return fetch


class _OpenConnection:
    """The snapshot's connection once it is open: what ``cancel`` stops (nothing before)."""

    def __init__(self) -> None:
        self.conn: psycopg.Connection | None = None

    def cancel(self) -> None:
        if self.conn is None:
            return
        try:
            self.conn.cancel_safe()  # a no-op on a closed connection
        except psycopg.Error:
            pass  # the server is gone or slow: the snapshot then ends by itself; the first error stands


class _Background:
    """``fn(*args)`` in a thread; ``result()`` joins it and returns or raises what it did.

    ``cancel`` stops the work early; ``discard`` calls it while the thread still runs.
    """

    # How often discard repeats the cancel: one that lands between two statements stops nothing.
    CANCEL_EVERY = 0.1

    def __init__(self, fn: Callable[..., Any], *args: Any, cancel: Callable[[], None] = lambda: None) -> None:
        self._outcome: tuple[bool, Any] = (False, None)
        self._taken = False
        self._cancel = cancel
        # Waited on instead of Thread.join: a join that a signal interrupts (Ctrl-C, SIGTERM)
        # marks the thread stopped while it still runs (CPython bpo-45274), and discard would
        # then leave the COPY running and the process hanging at exit.
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self._outcome = (True, fn(*args))
        except BaseException as exc:  # handed to the thread that asks for the result
            self._outcome = (False, exc)
        finally:
            self._finished.set()

    def result(self) -> Any:
        ok, value = self._join()
        if not ok:
            raise value
        return value

    def discard(self) -> None:
        """After an earlier error: stop the thread, wait for it and close what it opened; its
        error is dropped. (A sheet that fails to read must not wait for a whole table's COPY,
        or for a lock the COPY waits on.)"""
        if self._taken:
            return
        while not self._finished.wait(self.CANCEL_EVERY):
            self._cancel()
        ok, value = self._join()
        if ok:
            value[0].close()

    def _join(self) -> tuple[bool, Any]:
        self._finished.wait()
        self._taken = True
        return self._outcome


def plan(rules: RulesArg, *, dsn: str | None = None, fields: Sequence[str] | None = None,
         keys: Sequence[str] | None = None, sample_limit: int = 50, progress: Progress = SILENT) -> PlanResult:
    """What ``run`` would write, with per-field counts and samples. Writes nothing anywhere."""
    with open_session(rules, dsn=dsn, fields=fields, keys=keys, sample_limit=sample_limit,
                      progress=progress) as session:
        return _with_skipped(session.plan.result, session)


def run(rules: RulesArg, *, dsn: str | None = None, fields: Sequence[str] | None = None,
        keys: Sequence[str] | None = None, dry_run: bool = False, command: str = "run",
        before_apply: Callable[[Session], None] | None = None, sample_limit: int = 50,
        progress: Progress = SILENT) -> RunResult:
    """Make the table agree with the sheet for the selected fields and keys.

    Every run is recorded in ``reconcile.runs`` with one ``field_stats`` row per mapped field.
    A refused plan (safety guard) writes nothing to the table and returns exit code 4.
    """
    ruleset = load(rules)
    if dry_run:
        result = plan(ruleset, dsn=dsn, fields=fields, keys=keys, sample_limit=sample_limit, progress=progress)
        return RunResult(None, "succeeded", result, result.fields, dry_run=True)
    _check_selectors(ruleset, fields)
    resolved_dsn = target.resolve_dsn(dsn, ruleset)
    selectors = {"fields": list(fields or []), "keys": list(keys or [])}
    run_id = _start(resolved_dsn, ruleset, command, selectors)
    try:
        with open_session(ruleset, dsn=resolved_dsn, fields=fields, keys=keys, sample_limit=sample_limit,
                          progress=progress) as session:
            session.run_id = run_id
            outcome = _apply_session(session, run_id, command, before_apply, progress)
    except ReconcileError as err:
        runlog.log_failure(resolved_dsn, run_id, ruleset.name, [(None, None, str(err))],
                           _error_counts(ruleset, fields, str(err)))
        _notify(resolved_dsn, ruleset, run_id, after_failure=err)
        raise
    except BaseException as exc:  # a bug, MemoryError, Ctrl-C: the run must not stay `running`
        _log_unexpected(resolved_dsn, run_id, ruleset, fields, exc)
        raise
    _notify(resolved_dsn, ruleset, run_id)
    return outcome


def _log_unexpected(dsn: str, run_id: int, rules: RuleSet, fields: Sequence[str] | None,
                    exc: BaseException) -> None:
    """Record a run ended by an exception reconcile did not raise on purpose as ``failed``
    (before its data committed; after, ``_finish_after_commit`` has made it ``partial`` and
    this leaves it so). The exception itself is what the caller then sees, so a failure to log
    it is not raised over it."""
    message = unexpected_message(exc)
    try:
        runlog.log_failure(dsn, run_id, rules.name, [(None, None, message)], _error_counts(rules, fields, message))
    except ReconcileError:
        pass


def _start(dsn: str, rules: RuleSet, command: str, selectors: dict[str, Any]) -> int:
    with target.connect(dsn) as conn:
        runlog.ensure_schema(conn)
        run_id = runlog.start_run(conn, rules, command=command, selectors=selectors)
        conn.commit()
    return run_id


def _apply_session(session: Session, run_id: int, command: str,
                   before_apply: Callable[[Session], None] | None, progress: Progress) -> RunResult:
    rules, conn, planned = session.rules, session.conn, session.plan
    result = _with_skipped(planned.result, session)
    if result.refused:
        _finish_refused(conn, run_id, rules, result)
        return RunResult(run_id, "failed", result, result.fields, errors=(result.refused,))
    if before_apply is not None:
        before_apply(session)
    written_fields = tuple(planned.fields_to_write)
    try:
        with progress.phase("apply"):
            with conn.transaction():
                applied = apply_mod.apply_changes(
                    conn, session.duck, session.table_info, run_id=run_id, rule_name=rules.name,
                    changes="changes", inserts="inserts", fields=written_fields)
                runlog.log_field_events(conn, run_id, rules.name, _invalid_events(session))
                counts = _final_counts(result.fields, applied, session)
                runlog.write_field_stats(conn, run_id, rules.name, counts)
    except ReconcileError as err:
        conn.rollback()
        err = _with_record(err, session)
        runlog.log_failure(session.dsn, run_id, rules.name, [(_record_of(err), _field_of(err), str(err))],
                           _failed_counts(result.fields, session, err))
        raise err
    try:
        with progress.phase("read back"):
            mismatches = tuple(apply_mod.read_back(conn, session.duck, session.table_info, changes="changes",
                                                   inserts="inserts", written=applied))
            conn.rollback()
        errors = tuple(_readback_messages(mismatches)) + tuple(f"field {f!r} skipped: {p}"
                                                               for f, p in _skip_reasons(session))
        status = "partial" if errors else "succeeded"
        run_counts = _run_counts(result, applied, counts, mismatches)
        runlog.finish_run(conn, run_id, status, run_counts, "\n".join(errors) or None)
        conn.commit()
    except BaseException as exc:  # the writes are committed: the run is partial, never failed
        _finish_after_commit(session.dsn, run_id, _run_counts(result, applied, counts, ()), exc)
        raise
    return RunResult(run_id, status, result, tuple(counts), written=sum(c.written for c in counts),
                     inserted_rows=applied.inserted_rows, conflicts=tuple(applied.conflicts),
                     errors=errors, readback_mismatches=mismatches)


def _finish_after_commit(dsn: str, run_id: int, counts: dict[str, Any], exc: BaseException) -> None:
    """End a run whose data transaction committed but whose read-back or end did not complete:
    ``partial``, with the committed counts and what stopped it. The caller's handlers then find
    the run finished and leave it so; a failure to record it is not raised over ``exc``."""
    why = str(exc) if isinstance(exc, ReconcileError) else unexpected_message(exc)
    try:
        with target.connect(dsn) as conn:
            runlog.finish_run(conn, run_id, "partial", counts,
                              f"the writes were committed, then the run stopped before its read-back ended: {why}")
            conn.commit()
    except ReconcileError:
        pass


def _with_skipped(result: PlanResult, session: Session) -> PlanResult:
    """Fields whose sheet column is missing are in the result as errors, never silently absent."""
    reasons = dict(_skip_reasons(session))
    present = {c.field for c in result.fields}
    chosen = session.selectors.get("fields") or session.rules.field_names
    extra = tuple(FieldCounts(f, errors=1, error=reasons[f]) for f in chosen if f in reasons and f not in present)
    fields = tuple(c if c.field not in reasons else replace(c, errors=1, error=reasons[c.field])
                   for c in result.fields) + extra
    return replace(result, fields=fields)


def _skip_reasons(session: Session) -> list[tuple[str, str]]:
    chosen = set(session.selectors.get("fields") or session.rules.field_names)
    return [(p.field, p.message()) for p in session.columns.problems
            if p.field in chosen and p.field != session.rules.key.field]


def _invalid_events(session: Session) -> Iterator[tuple]:
    """field_sync_logs rows for invalid cells and skipped fields (success = false).

    Read from the plan's diff, which the selectors already narrowed (keys compared typed).
    The message carries the cell's text, so the log alone says what was in the sheet.
    """
    rows = session.duck.execute(
        f"SELECT record_key, field, table_value, sheet_row, raw_value, message "
        f"FROM {session.plan.diff} WHERE status = 'invalid'").fetchall()
    for key, name, table_value, sheet_row, cell, message in rows:
        shown = "empty" if cell is None else repr(cell)
        yield (key, name, False, table_value, None, f"sheet row {sheet_row}, cell {shown}: {message or 'invalid'}",
               "invalid", sheet_row)
    for name, reason in _skip_reasons(session):
        yield ("*", name, False, None, None, reason, "error", None)


def _final_counts(planned: Sequence[FieldCounts], applied: Any, session: Session) -> list[FieldCounts]:
    written = applied.written
    conflicts = applied.conflicts_by_field
    return [replace(c, written=written.get(c.field, 0), conflicts=conflicts.get(c.field, 0)) for c in planned]


def _failed_counts(planned: Sequence[FieldCounts], session: Session, err: ReconcileError) -> list[FieldCounts]:
    failing = _field_of(err)
    return [replace(c, errors=c.errors + (1 if failing in (None, c.field) else 0),
                    error=c.error or (str(err) if failing in (None, c.field) else None)) for c in planned]


def _error_counts(rules: RuleSet, fields: Sequence[str] | None, message: str) -> list[FieldCounts]:
    return [FieldCounts(f, errors=1, error=message) for f in (fields or rules.field_names)]


def _with_record(err: ReconcileError, session: Session) -> ReconcileError:
    """Name the record whose value the database refused, so the log says field AND record."""
    field_name = _field_of(err)
    if err.transient or not isinstance(err, DatabaseError):
        return err
    record = apply_mod.failing_record(session.conn, session.duck, session.table_info, field_name=field_name,
                                      fields=session.plan.fields_to_write)
    if record is None:
        return err
    label = f"field {field_name!r}"
    message = (err.message.replace(label, f"record {record!r}, {label}", 1) if field_name and label in err.message
               else f"record {record!r}: {err.message}")
    named = type(err)(message, details={**err.details, "record_key": record}, hint=err.hint)
    named.__cause__ = err
    return named


def _record_of(err: ReconcileError) -> str | None:
    return err.details.get("record_key") if err.details else None


def _field_of(err: ReconcileError) -> str | None:
    return err.details.get("field") if err.details else None


def _readback_messages(mismatches: Sequence[Change]) -> Iterator[str]:
    for m in mismatches:
        yield (f"read-back mismatch: record {m.record_key!r} field {m.field!r}: wrote {m.new_value!r}, "
               f"table now has {m.old_value!r}")


def _run_counts(result: PlanResult, applied: Any, counts: Sequence[FieldCounts],
                mismatches: Sequence[Change]) -> dict[str, int]:
    return {
        "sheet_rows": result.sheet_rows, "table_rows": result.table_rows,
        "changed_rows": result.changed_rows, "new_rows": result.new_rows,
        "missing_rows": result.missing_rows, "duplicate_keys": result.duplicate_keys,
        "invalid": result.invalid, "written": sum(c.written for c in counts),
        "inserted_rows": applied.inserted_rows, "conflicts": sum(c.conflicts for c in counts),
        "readback_mismatches": len(mismatches),
    }


def _finish_refused(conn: psycopg.Connection, run_id: int, rules: RuleSet, result: PlanResult) -> None:
    runlog.write_field_stats(conn, run_id, rules.name, result.fields)
    runlog.finish_run(conn, run_id, "failed", {"refused": True, "changed_rows": result.changed_rows,
                                                "new_rows": result.new_rows}, result.refused)
    conn.commit()


def _notify(dsn: str, rules: RuleSet, run_id: int, *, after_failure: ReconcileError | None = None) -> None:
    """Evaluate alert thresholds after every run, failed ones too; a failing sink never fails the run.

    After a failure, a database that cannot be reached for the alerts must not hide the
    run's own error, which the caller raises next.
    """
    try:
        with target.connect(dsn) as conn:
            monitor.evaluate_and_notify(conn, rules, run_id=run_id)
            conn.commit()
    except DatabaseError:
        if after_failure is None:
            raise


__all__ = ["Session", "load", "open_session", "plan", "run"]
