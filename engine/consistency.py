"""Is the table consistent with the sheet right now, and which records are not?

The original design's DataConsistencyChecker (``findInconsistencies``, ``verifyBuyer``).
Read-only: ``verify`` opens the same session as ``plan`` (sheet and table snapshot in DuckDB,
the long field-level ``diff``), then reads EVERY row of that diff that says the two sides
disagree, not the plan's bounded samples. Nothing is written, not even the run log.

The recent run history (``run_history``) comes from ``reconcile.runs`` and
``reconcile.field_stats`` when the log schema exists; a database that never saw a run has
an empty history, not an error.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import duckdb
import psycopg

from .columns import SNAPSHOT_KEY
from .duck_types import duck_type
from .errors import UserError
from .resources import sql as sql_text
from .rules.model import RuleSet
from .transforms import apply_chain, ident

HISTORY_LIMIT = 10
FIELD_STATUSES = ("changed", "invalid")  # a field of a matched (or new) row disagrees
ROW_STATUSES = ("new_row", "missing_row", "duplicate_key", "null_key")  # the row itself disagrees

RulesArg = RuleSet | str | Path


class RecordNotFound(UserError):
    """``verify_record``: the key is neither in the sheet nor in the table."""

    code = "RC160"


@dataclass(frozen=True)
class Inconsistency:
    """One place where the table disagrees with the sheet (a row of the diff relation).

    ``raw_value`` is the cell's text as read; ``sheet_value`` what the field's transforms
    made of it (typed like the table column, as text); ``table_value`` the table's value as
    PostgreSQL prints it. ``field`` is None for row-level statuses (missing_row, duplicate_key,
    null_key).
    """

    record_key: str | None
    field: str | None
    status: str
    sheet_row: int | None
    raw_value: str | None
    sheet_value: str | None
    table_value: str | None
    message: str | None


@dataclass(frozen=True)
class FieldDrift:
    """One mapped field: rows compared, and how many of them disagree (changed or unreadable)."""

    field: str
    compared: int = 0
    changed: int = 0
    invalid: int = 0
    error: str | None = None  # why the field could not be checked (a missing sheet column)

    @property
    def drift(self) -> int:
        return self.changed + self.invalid


@dataclass(frozen=True)
class RunSummary:
    """One row of the recent run history: a run and the sums of its field statistics."""

    run_id: int
    command: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    compared: int = 0
    differing: int = 0
    written: int = 0
    conflicts: int = 0
    invalid: int = 0
    errors: int = 0
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self)) | {"seconds": self.seconds}


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify`` found: per-field drift and every inconsistent record and field."""

    rule_name: str
    table: str
    checked_at: datetime
    consistent: bool
    fields: tuple[FieldDrift, ...]
    records: tuple[Inconsistency, ...]
    sheet_rows: int = 0
    table_rows: int = 0
    header_problems: tuple[str, ...] = ()
    selectors: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # where the sheet was read from (a path or a spreadsheet)

    def count(self, status: str) -> int:
        """Inconsistencies with this status (new_row is counted once per record)."""
        if status == "new_row":
            return len({r.record_key for r in self.records if r.status == status})
        return sum(1 for r in self.records if r.status == status)

    @property
    def records_affected(self) -> int:
        """Distinct records with at least one inconsistency (rows without a key count once each)."""
        keyed = {r.record_key for r in self.records if r.record_key is not None}
        return len(keyed) + sum(1 for r in self.records if r.record_key is None)

    @property
    def drift(self) -> int:
        return sum(f.drift for f in self.fields)

    @property
    def unchecked(self) -> tuple[str, ...]:
        """Fields that could not be compared (their sheet column is missing or ambiguous)."""
        return tuple(f.field for f in self.fields if f.error)

    def verdict(self) -> str:
        """One short line: 'consistent', '3 records differ', '1 record differs; 1 field not checked'."""
        if self.consistent:
            return "consistent"
        parts = []
        if self.records:
            n = self.records_affected
            parts.append(f"{n} record{'s differ' if n != 1 else ' differs'}")
        if self.unchecked:
            n = len(self.unchecked)
            parts.append(f"{n} field{'s' if n != 1 else ''} not checked")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out = _plain(asdict(self))
        for counted, drift in zip(out["fields"], self.fields):
            counted["drift"] = drift.drift
        out["totals"] = {"records_affected": self.records_affected, "field_drift": self.drift,
                         **{status: self.count(status) for status in FIELD_STATUSES + ROW_STATUSES}}
        return out


def verify(rules: RulesArg, *, dsn: str | None = None, keys: Sequence[str] | None = None,
           fields: Sequence[str] | None = None) -> VerifyResult:
    """Every record and field where the table disagrees with the sheet. Writes nothing.

    ``keys`` and ``fields`` restrict the check as they restrict ``plan``. Rows the table has
    and the sheet lacks count only when the rule file's ``missing_rows`` is ``report``; sheet
    rows the table lacks only unless ``new_rows`` is ``ignore``.
    """
    from .api import open_session  # the engine is loaded only when a check really runs

    with open_session(rules, dsn=dsn, fields=fields, keys=keys) as session:
        _check_keys_exist(session, keys or ())
        return _result(session, keys, fields)


def verify_record(rules: RulesArg, key: str, *, dsn: str | None = None) -> VerifyResult:
    """``verify`` for one record (the original ``verifyBuyer``)."""
    return verify(rules, dsn=dsn, keys=[key])


def _check_keys_exist(session: Any, keys: Sequence[str]) -> None:
    """``RecordNotFound`` for keys in neither the sheet nor the table: a mistyped key is never
    reported as consistent. Keys are compared as ``--key`` selects them: through the key's
    transforms and typed like the key column (so 0042 finds integer key 42)."""
    unknown = _unknown_keys(session, keys)
    if unknown:
        shown = ", ".join(map(repr, unknown))
        raise RecordNotFound(
            f"record{'s' if len(unknown) > 1 else ''} {shown} {'are' if len(unknown) > 1 else 'is'} neither in the "
            f"sheet ({session.sheet.origin}) nor in the table {session.table_info.qualified}",
            hint=f"keys are matched on {session.rules.key.field!r} after the key's transforms "
                 f"({session.table_info.key.pg_type})", details={"record_keys": unknown})


def _unknown_keys(session: Any, keys: Sequence[str]) -> list[str]:
    if not keys:
        return []
    key_type = duck_type(session.table_info.key.pg_type)
    typed = apply_chain(session.duck, session.rules.key.transforms, list(keys), session.table_info.key.pg_type)
    unknown = []
    for key, (value, _error) in zip(keys, typed):
        found = value is not None and session.duck.execute(
            f"SELECT EXISTS (SELECT 1 FROM sheet_keys WHERE key_value = TRY_CAST(? AS {key_type})) "
            f"OR EXISTS (SELECT 1 FROM target WHERE TRY_CAST({ident(SNAPSHOT_KEY)} AS {key_type}) "
            f"= TRY_CAST(? AS {key_type}))",
            [value, value]).fetchone()[0]
        if not found:
            unknown.append(key)
    return unknown


def _result(session: Any, keys: Sequence[str] | None, fields: Sequence[str] | None) -> VerifyResult:
    rules: RuleSet = session.rules
    planned = session.plan.result
    chosen = [f for f in (fields or rules.field_names)]
    # The plan's diff is already narrowed to the keys as --key selects them (transformed, typed).
    records = tuple(inconsistencies(session.duck, statuses=_statuses(rules), fields=chosen,
                                    table=session.plan.diff))
    drift = _field_drift(planned.fields, records, chosen)
    return VerifyResult(
        rule_name=rules.name, table=session.table_info.qualified, checked_at=datetime.now(timezone.utc),
        consistent=not records and not any(f.error for f in drift), fields=drift, records=records,
        sheet_rows=planned.sheet_rows, table_rows=planned.table_rows,
        header_problems=tuple(planned.header_problems),
        selectors={"keys": list(keys or []), "fields": list(fields or [])},
        source=getattr(session.sheet, "origin", None))


def _statuses(rules: RuleSet) -> list[str]:
    statuses = list(FIELD_STATUSES + ROW_STATUSES)
    if rules.policy.new_rows == "ignore":
        statuses.remove("new_row")
    if rules.policy.missing_rows == "ignore":
        statuses.remove("missing_row")
    return statuses


def inconsistencies(duck: duckdb.DuckDBPyConnection, *, statuses: Sequence[str], fields: Sequence[str],
                    table: str = "diff") -> list[Inconsistency]:
    """Rows of the DuckDB diff relation ``table`` with these statuses and fields, in sheet order.

    Keys are selected before: the plan's diff holds only the records ``--key`` chose.
    """
    query = sql_text("verify/inconsistencies.sql").replace("{diff}", ident(table))
    rows = duck.execute(query, [list(statuses), list(fields)]).fetchall()
    return [Inconsistency(*row) for row in rows]


def _field_drift(planned: Sequence[Any], records: Sequence[Inconsistency], chosen: Sequence[str]) -> tuple[FieldDrift, ...]:
    by_field = {c.field: c for c in planned}
    tally = Counter((r.field, r.status) for r in records if r.field is not None)
    drift = []
    for name in chosen:
        counts = by_field.get(name)
        drift.append(FieldDrift(
            field=name, compared=counts.compared if counts else 0,
            changed=tally[name, "changed"], invalid=tally[name, "invalid"],
            error=(counts.error if counts else None) or (None if counts else "not checked: not in the diff")))
    return tuple(drift)


def run_history(rules: RulesArg, *, dsn: str | None = None, limit: int = HISTORY_LIMIT) -> tuple[RunSummary, ...]:
    """The last ``limit`` runs of this rule set, newest first (empty when nothing was ever logged)."""
    from . import api, target

    ruleset = api.load(rules)
    with target.connect(target.resolve_dsn(dsn, ruleset)) as conn:
        history = read_history(conn, ruleset.name, limit=limit)
        conn.rollback()
    return history


def read_history(conn: psycopg.Connection, rule_name: str, *, limit: int = HISTORY_LIMIT) -> tuple[RunSummary, ...]:
    """``run_history`` on an open connection; reads only."""
    from .target import db_errors

    with db_errors("reading the run history"):
        if conn.execute("SELECT to_regclass('reconcile.runs') IS NULL "
                        "OR to_regclass('reconcile.field_stats') IS NULL").fetchone()[0]:
            return ()
        rows = conn.execute(sql_text("verify/run_history.sql"), {"rule": rule_name, "n": limit}).fetchall()
    return tuple(RunSummary(*row) for row in rows)


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601 text, tuples as lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


__all__ = ["FieldDrift", "HISTORY_LIMIT", "Inconsistency", "RecordNotFound", "RunSummary", "VerifyResult",
           "inconsistencies", "read_history", "run_history", "verify", "verify_record"]
