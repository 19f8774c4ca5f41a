"""`reconcile stats` and `reconcile alerts`: thin wrappers over engine.monitor."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import click

from ..rules.loader import MAX_DURATION
from .app import dsn_option, emit_json, exit_with, format_option, handles_errors, main, text_table

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Duration(click.ParamType):
    """A span like 24h, 90m, 7d or 1h30m."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip().lower()
        parts = _DURATION.findall(text)
        if not parts or _DURATION.sub("", text).strip():
            self.fail(f"{value!r} is not a duration; use e.g. 30m, 24h, 7d or 1h30m", param, ctx)
        seconds = sum(int(n) * _UNITS[u] for n, u in parts)
        if seconds > MAX_DURATION.total_seconds():
            self.fail(f"{value!r} is too long; at most {MAX_DURATION.days}d (a century)", param, ctx)
        return timedelta(seconds=seconds)


def _open(rules_path: str, dsn: str | None):
    """The rule set, and a connection to its database (DSN from --dsn, the rule file, $DATABASE_URL)."""
    from .. import target
    from ..rules import load_rules

    ruleset = load_rules(rules_path)
    return ruleset, target.connect(target.resolve_dsn(dsn, ruleset))


@main.command("stats")
@click.argument("rules", type=click.Path(exists=True, dir_okay=False))
@click.option("--since", type=Duration(), default="24h", show_default=True,
              help="The window: runs started this long ago or later (e.g. 6h, 7d).")
@click.option("--field", default=None, metavar="F", help="Only this field (a table column).")
@click.option("--min-runs", type=click.IntRange(min=1), default=2, show_default=True,
              help="List a record when its field had an issue in at least this many runs.")
@dsn_option
@format_option
@handles_errors
def stats_command(rules: str, since: timedelta, field: str | None, min_runs: int, dsn: str | None,
                  fmt: str) -> None:
    """Per-field figures over recent runs, and the records whose field keeps failing.

    failed counts write attempts that failed (conflicts, refused writes, a missing sheet column);
    the failure rate is their share of all write attempts; failed runs are runs in which the
    field had an error. A record is listed when its field failed, conflicted, was unreadable, or got the
    same value from plain runs again (something keeps changing it back) in several runs of the window.
    """
    from .. import monitor
    from ..errors import MappingError

    ruleset, connection = _open(rules, dsn)
    with connection as conn:
        figures = monitor.field_stats(conn, ruleset.name, since=since, field=field)
        records = monitor.records_with_issues(conn, ruleset.name, since=since, field=field, min_runs=min_runs)
    if field is not None and not figures and field not in ruleset.field_names:  # a typo, not a quiet field
        raise MappingError(f"--field {field!r} is not mapped in {rules} and has no runs in the window",
                           hint=f"mapped fields: {', '.join(ruleset.field_names)}")
    if fmt == "json":
        emit_json({"ok": True, "rule": ruleset.name, "since_seconds": since.total_seconds(),
                   "fields": [f.to_dict() for f in figures], "records": [r.to_dict() for r in records]})
        return
    click.echo(f"Fields of {ruleset.name} over the last {monitor.format_span(since)}:")
    click.echo(text_table(
        ["field", "runs", "compared", "differing", "written", "failed", "conflicts", "invalid", "failure rate",
         "failed runs", "last success"],
        [[f.field, f.runs, f.compared, f.differing, f.written, f.failed, f.conflicts, f.invalid,
          f"{f.failure_rate:.0%}", f.failed_runs, _when(f.last_success)] for f in figures]) if figures else "  no runs in the window")
    click.echo(f"\nRecords with an issue in at least {min_runs} runs:")
    click.echo(text_table(
        ["record", "field", "runs", "conflicts", "invalid", "errors", "rewrites", "last message"],
        [[r.record_key, r.field, r.runs, r.conflicts, r.invalid, r.errors, r.rewrites, r.last_message]
         for r in records]) if records else "  none")


@main.command("alerts")
@click.argument("rules", type=click.Path(exists=True, dir_okay=False))
@dsn_option
@format_option
@handles_errors
def alerts_command(rules: str, dsn: str | None, fmt: str) -> None:
    """Check the rule file's monitoring thresholds now; store and send alerts that are due.

    An alert already sent within the monitoring window is listed but not sent again; a
    resolved alert is announced once. A failing webhook is reported on stderr and does not
    change the exit code. Exit codes: 0 no alert firing; 5 at least one alert firing;
    1 the check itself failed.
    """
    from .. import monitor

    ruleset, connection = _open(rules, dsn)
    with connection as conn:
        found = monitor.notify(conn, ruleset)
        conn.commit()
    firing = [a for a in found if a.state == "firing"]
    if fmt == "json":
        emit_json({"ok": not firing, "rule": ruleset.name, "alerts": [a.to_dict() for a in found]})
    elif found:
        click.echo(text_table(["state", "kind", "field", "sent now", "message"],
                              [[a.state, a.kind, a.field or "-", "yes" if a.due else "no (within window)",
                                a.message] for a in found]))
    else:
        click.echo(f"No alerts for {ruleset.name}.")
    exit_with(monitor.EXIT_ALERTS if firing else 0)


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value else "never"
