"""Field-level monitoring: figures per field, records that keep failing, and alerts.

Everything here reads the engine's log tables (``reconcile.runs``, ``field_stats``,
``field_sync_logs``) and keeps its own state in ``reconcile.alerts``. Sinks (stderr, webhook)
live in ``engine.alerts``; this module decides *what* is wrong and *whether* to tell.

An alert's life: opened when a threshold is crossed (one row per episode, identified by its
fingerprint ``rule:kind:field``); sent at once, then again only when the window has passed
since the last delivery; closed (``resolved_at``) at the first evaluation that no longer sees
it, and that resolution is announced exactly once.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import psycopg
from psycopg.rows import dict_row

from . import resources
from .errors import DatabaseError
from .redact import redact
from .rules.model import Monitoring, RuleSet

EXIT_ALERTS = 5  # `reconcile alerts`: at least one alert is firing (0-4 are the engine's)
ALERT_KINDS = ("failure_rate", "persistent_drift", "zero_compared", "no_success")


# -- schema -----------------------------------------------------------------------------------

def ensure_tables(conn: psycopg.Connection) -> None:
    """Create the log tables this module needs: every pending migration (engine.runlog)."""
    from . import runlog

    runlog.ensure_schema(conn)


# -- stats ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldStat:
    """One field's figures over a window of runs (``reconcile stats``, ``getFieldStats``)."""

    field: str
    runs: int  # finished runs in the window that compared this field
    compared: int
    differing: int
    written: int
    attempts: int  # write attempts logged: writes, inserts, conflicts, errors
    failed: int  # of those, the failed ones (conflicts, errors)
    errors: int
    conflicts: int
    invalid: int
    failed_runs: int  # runs in which the field had an error
    last_run: datetime | None
    last_success: datetime | None  # over the whole history, not only the window

    @property
    def failure_rate(self) -> float:
        """Share of the window's write attempts that failed (0.0 with no attempts)."""
        return self.failed / self.attempts if self.attempts else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failure_rate": self.failure_rate}


@dataclass(frozen=True)
class RecordIssue:
    """A record whose field failed, conflicted or had to be rewritten in several runs."""

    record_key: str
    field: str
    runs: int  # distinct runs with an issue
    conflicts: int
    invalid: int
    errors: int
    rewrites: int  # the same value written again by plain runs: something keeps changing it back
    last_seen: datetime
    last_message: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def field_stats(dsn: str | psycopg.Connection, rule_name: str, *, since: timedelta,
                field: str | None = None, now: datetime | None = None) -> list[FieldStat]:
    """Per-field figures over the runs started in the last ``since`` (see sql/monitor/field_stats.sql)."""
    params = {"rule": rule_name, "since": _now(now) - since, "field": field}
    rows = _query(dsn, resources.sql("monitor/field_stats.sql"), params)
    return [FieldStat(field=r.pop("field_name"), **r) for r in rows]


def records_with_issues(dsn: str | psycopg.Connection, rule_name: str, *, since: timedelta,
                        field: str | None = None, min_runs: int = 2,
                        now: datetime | None = None) -> list[RecordIssue]:
    """Records with a failing or constantly rewritten field in at least ``min_runs`` runs.

    See sql/monitor/records_with_issues.sql for what counts as an issue.
    """
    params = {"rule": rule_name, "since": _now(now) - since, "field": field, "min_runs": min_runs}
    rows = _query(dsn, resources.sql("monitor/records_with_issues.sql"), params)
    return [RecordIssue(field=r.pop("field_name"), **r) for r in rows]


# -- alerts -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Alert:
    """A crossed threshold, or the announcement that it is no longer crossed."""

    rule: str
    kind: str  # one of ALERT_KINDS
    field: str | None
    message: str
    value: float | None = None
    threshold: float | None = None
    run_id: int | None = None
    state: str = "firing"  # firing | resolved
    first_seen: datetime | None = None
    due: bool = True  # to be sent now (not already sent within the window)
    id: int | None = None

    @property
    def fingerprint(self) -> str:
        return f"{self.rule}:{self.kind}:{self.field or '*'}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fingerprint": self.fingerprint}


def check_thresholds(conn: psycopg.Connection, rules: RuleSet, *, now: datetime | None = None,
                     run_id: int | None = None) -> list[Alert]:
    """The alerts the log tables call for right now; reads only (``checkAlertThreshold``)."""
    now = _now(now)
    mon = rules.monitoring
    found: list[Alert] = []
    if mon.field_failure_rate is not None:
        found += _failure_rate(conn, rules, mon, now)
    if mon.persistent_drift_runs:
        found += _persistent_drift(conn, rules, mon.persistent_drift_runs)
    if mon.zero_compared:
        found += _zero_compared(conn, rules)
    if mon.no_success_for is not None:
        found += _no_success(conn, rules, mon.no_success_for, now)
    return [replace(a, run_id=a.run_id or run_id) for a in found]


def evaluate_alerts(conn: psycopg.Connection, rules: RuleSet, *, now: datetime | None = None,
                    run_id: int | None = None) -> list[Alert]:
    """Check thresholds and record them in ``reconcile.alerts``; return what to tell.

    The result holds every firing alert (``due`` says whether it must be sent now) and every
    resolved alert not yet announced. Nothing is sent and nothing is committed here.
    """
    now = _now(now)
    ensure_tables(conn)
    current = {a.fingerprint: a for a in check_thresholds(conn, rules, now=now, run_id=run_id)}
    window = rules.monitoring.window
    open_rows = {r["fingerprint"]: r for r in fetch_dicts(conn, _OPEN_ALERTS, {"rule": rules.name})}
    firing = [_record(conn, alert, open_rows.get(fp), now, window) for fp, alert in current.items()]
    for fp, row in open_rows.items():
        if fp not in current:
            conn.execute("UPDATE reconcile.alerts SET resolved_at = %s WHERE id = %s", [now, row["id"]])
    resolved = [_resolved(r) for r in fetch_dicts(conn, _UNANNOUNCED, {"rule": rules.name})]
    return firing + resolved


def mark_sent(conn: psycopg.Connection, alerts: Sequence[Alert], *, now: datetime | None = None) -> None:
    """Record that these alerts were delivered (so they are not sent again within the window)."""
    now = _now(now)
    for alert in alerts:
        query = _MARK_SENT if alert.state == "firing" else _MARK_RESOLUTION_SENT
        conn.execute(query, [now, alert.id])


def notify(conn: psycopg.Connection, rules: RuleSet, *, run_id: int | None = None,
           now: datetime | None = None) -> list[Alert]:
    """Evaluate, store, send what is due, record the delivery (``reconcile alerts``).

    Database failures raise ``DatabaseError``; a failing sink is reported on stderr only.
    The caller commits.
    """
    from . import alerts as sinks

    try:
        found = evaluate_alerts(conn, rules, now=now, run_id=run_id)
        delivered = sinks.send(rules.monitoring, [a for a in found if a.due])
        mark_sent(conn, delivered, now=now)
    except psycopg.Error as err:
        raise DatabaseError(f"alert evaluation for {rules.name} failed: {redact(str(err))}",
                            hint="the role needs INSERT and UPDATE on reconcile.alerts") from err
    return found


def evaluate_and_notify(conn: psycopg.Connection, rules: RuleSet, *, run_id: int | None = None,
                        now: datetime | None = None) -> list[Alert]:
    """The end-of-run hook: ``notify``, but never raises.

    A run has already committed when this is called, so a failing sink or monitoring query
    is reported on stderr and changes neither the run's outcome nor its exit code.
    The caller commits.
    """
    from . import alerts as sinks

    try:
        return notify(conn, rules, run_id=run_id, now=now)
    except DatabaseError as err:
        conn.rollback()
        sinks.warn(f"reconcile: {err}")
        return []


# -- thresholds -------------------------------------------------------------------------------

def _failure_rate(conn: psycopg.Connection, rules: RuleSet, mon: Monitoring, now: datetime) -> list[Alert]:
    limit = mon.field_failure_rate
    out = []
    for stat in field_stats(conn, rules.name, since=mon.window, now=now):
        if stat.runs and stat.failure_rate > limit:
            out.append(Alert(rules.name, "failure_rate", stat.field,
                             f"field {stat.field!r}: {stat.failed} of {stat.attempts} write attempts failed "
                             f"({stat.failure_rate:.0%}) over the last {format_span(mon.window)}; "
                             f"threshold {limit:.0%}",
                             value=stat.failure_rate, threshold=limit))
    return out


def _persistent_drift(conn: psycopg.Connection, rules: RuleSet, n: int) -> list[Alert]:
    by_field: dict[str, list[dict[str, Any]]] = {}
    for row in fetch_dicts(conn, resources.sql("monitor/recent_field_runs.sql"), {"rule": rules.name, "n": n}):
        by_field.setdefault(row["field_name"], []).append(row)
    out = []
    for name, runs in sorted(by_field.items()):
        if len(runs) >= n and all(r["left_different"] > 0 for r in runs):
            left = ", ".join(str(r["left_different"]) for r in reversed(runs))
            out.append(Alert(rules.name, "persistent_drift", name,
                             f"field {name!r} still differed from the sheet after each of the last {n} runs "
                             f"(values left different, oldest first: {left})",
                             value=float(runs[0]["left_different"]), threshold=float(n),
                             run_id=runs[0]["run_id"]))
    return out


def _zero_compared(conn: psycopg.Connection, rules: RuleSet) -> list[Alert]:
    last = fetch_dicts(conn, _LAST_FULL_RUN, {"rule": rules.name})
    if not last or (last[0]["counts"] or {}).get("table_rows") == 0:
        return []  # no run yet, or the table was empty (a first load): nothing could be compared
    run_id = last[0]["id"]
    compared = {r["field_name"]: r["compared"] for r in fetch_dicts(conn, _RUN_FIELDS, {"run": run_id})}
    return [Alert(rules.name, "zero_compared", name,
                  f"field {name!r} compared zero rows in run {run_id}"
                  + ("" if name in compared else " (no figures logged for it)"),
                  value=0.0, threshold=None, run_id=run_id)
            for name in rules.field_names if compared.get(name, 0) == 0]


def _no_success(conn: psycopg.Connection, rules: RuleSet, limit: timedelta, now: datetime) -> list[Alert]:
    row = fetch_dicts(conn, _LAST_SUCCESS, {"rule": rules.name})[0]
    reference = row["last_success"] or row["first_run"]
    if reference is None or now - reference <= limit:
        return []
    since = f"since {reference.isoformat()}" if row["last_success"] else f"since the first run at {reference.isoformat()}"
    return [Alert(rules.name, "no_success", None,
                  f"no successful run of {rules.name} {since} (more than {format_span(limit)})",
                  value=(now - reference).total_seconds(), threshold=limit.total_seconds())]


_OPEN_ALERTS = "SELECT * FROM reconcile.alerts WHERE rule_name = %(rule)s AND resolved_at IS NULL"
_UNANNOUNCED = ("SELECT * FROM reconcile.alerts WHERE rule_name = %(rule)s AND resolved_at IS NOT NULL "
                "AND resolved_sent IS NULL AND last_sent IS NOT NULL ORDER BY id")
# A failed run compared nothing because it stopped; that is a failure, not a field gone silent.
_LAST_FULL_RUN = ("SELECT id, counts FROM reconcile.runs "
                  "WHERE rule_name = %(rule)s AND status NOT IN ('running', 'failed') "
                  "AND command = 'run' AND coalesce(selectors -> 'keys', '[]') = '[]' "
                  "AND coalesce(selectors -> 'fields', '[]') = '[]' ORDER BY started_at DESC, id DESC LIMIT 1")
_MARK_SENT = "UPDATE reconcile.alerts SET last_sent = %s WHERE id = %s"
_MARK_RESOLUTION_SENT = "UPDATE reconcile.alerts SET resolved_sent = %s WHERE id = %s"
_RUN_FIELDS = "SELECT field_name, compared FROM reconcile.field_stats WHERE run_id = %(run)s"
_LAST_SUCCESS = ("SELECT max(coalesce(finished_at, started_at)) FILTER (WHERE status = 'succeeded') AS last_success, "
                 "min(started_at) AS first_run FROM reconcile.runs WHERE rule_name = %(rule)s")


def _record(conn: psycopg.Connection, alert: Alert, row: dict[str, Any] | None, now: datetime,
            window: timedelta) -> Alert:
    """Insert a new episode or refresh the open one; decide whether it is due for sending."""
    params = {"rule": alert.rule, "kind": alert.kind, "field": alert.field, "fp": alert.fingerprint,
              "message": alert.message, "value": alert.value, "threshold": alert.threshold,
              "run": alert.run_id, "now": now}
    if row is None:
        new_id = conn.execute(_INSERT_ALERT, params).fetchone()[0]
        return replace(alert, id=new_id, first_seen=now, due=True)
    conn.execute(_REFRESH_ALERT, {**params, "id": row["id"]})
    due = row["last_sent"] is None or now - row["last_sent"] >= window
    return replace(alert, id=row["id"], first_seen=row["first_seen"], due=due)


def _resolved(row: dict[str, Any]) -> Alert:
    return Alert(row["rule_name"], row["kind"], row["field_name"], f"resolved: {row['message']}",
                 value=row["value"], threshold=row["threshold"], run_id=row["run_id"], state="resolved",
                 first_seen=row["first_seen"], due=True, id=row["id"])


_INSERT_ALERT = """INSERT INTO reconcile.alerts
    (rule_name, kind, field_name, fingerprint, message, value, threshold, run_id, first_seen, last_seen)
    VALUES (%(rule)s, %(kind)s, %(field)s, %(fp)s, %(message)s, %(value)s, %(threshold)s, %(run)s, %(now)s, %(now)s)
    RETURNING id"""
_REFRESH_ALERT = """UPDATE reconcile.alerts SET message = %(message)s, value = %(value)s,
    threshold = %(threshold)s, run_id = coalesce(%(run)s, run_id), last_seen = %(now)s WHERE id = %(id)s"""


# -- helpers ----------------------------------------------------------------------------------

def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(timezone.utc)


def format_span(delta: timedelta) -> str:
    """A span in the largest whole unit.

    >>> format_span(timedelta(hours=24)), format_span(timedelta(minutes=90)), format_span(timedelta(seconds=5))
    ('1d', '90m', '5s')
    """
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def fetch_dicts(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a query as dicts by column name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def _query(dsn: str | psycopg.Connection, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run a read query on a connection, or on a short-lived one opened from a DSN."""
    if isinstance(dsn, psycopg.Connection):
        return fetch_dicts(dsn, query, params)
    from . import target

    try:
        with target.connect(dsn) as conn:
            if conn.execute("SELECT to_regclass('reconcile.field_stats')").fetchone()[0] is None:
                return []  # no run was ever logged in this database
            return fetch_dicts(conn, query, params)
    except psycopg.Error as err:
        raise DatabaseError(f"reading the reconcile log tables failed: {redact(str(err))}") from err


__all__ = ["ALERT_KINDS", "Alert", "EXIT_ALERTS", "FieldStat", "RecordIssue", "check_thresholds",
           "ensure_tables", "evaluate_alerts", "evaluate_and_notify", "fetch_dicts", "field_stats", "format_span",
           "mark_sent", "notify", "records_with_issues"]
