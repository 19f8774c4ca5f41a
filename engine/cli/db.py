"""`reconcile db init` and `reconcile db status`: the log schema, thin over engine.runlog."""
from __future__ import annotations

import click

from .app import dsn_option, emit_json, format_option, handles_errors, main, text_table

_RULES = click.argument("rules", required=False, type=click.Path(exists=True, dir_okay=False))


@main.group("db")
def db_group() -> None:
    """The `reconcile` log schema in PostgreSQL (runs, field logs, field stats)."""


def _connect(rules: str | None, dsn: str | None):
    """A connection to the database of --dsn, else the rule file's target.dsn, else $DATABASE_URL."""
    from .. import target
    from ..rules import load_rules

    ruleset = load_rules(rules) if rules else None
    return target.connect(target.resolve_dsn(dsn, ruleset))


@db_group.command("init")
@_RULES
@dsn_option
@format_option
@handles_errors
def init_command(rules: str | None, dsn: str | None, fmt: str) -> None:
    """Create the reconcile schema or apply its pending migrations; print the schema version.

    Safe to run again, and from several places at once. Runs do it too before their first write.
    """
    from .. import runlog

    with _connect(rules, dsn) as conn:
        version = runlog.ensure_schema(conn)
        conn.commit()
    if fmt == "json":
        emit_json({"ok": True, "schema_version": version})
    else:
        click.echo(f"reconcile schema at version {version}")


@db_group.command("status")
@_RULES
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="How many recent runs.")
@dsn_option
@format_option
@handles_errors
def status_command(rules: str | None, limit: int, dsn: str | None, fmt: str) -> None:
    """The schema version and the latest runs (status, counts, error)."""
    from .. import runlog

    with _connect(rules, dsn) as conn:
        version = runlog.schema_version(conn)
        runs = runlog.recent_runs(conn, limit)
    if fmt == "json":
        emit_json({"ok": True, "schema_version": version, "runs": runs})
        return
    click.echo(f"reconcile schema version: {version if version is not None else 'not created (run `reconcile db init`)'}")
    if runs:
        click.echo(text_table(["id", "rule", "command", "status", "started", "written", "error"],
                              [(r["id"], r["rule_name"], r["command"], r["status"], r["started_at"],
                                (r["counts"] or {}).get("written"), r["error"]) for r in runs]))


@db_group.command("query")
@click.argument("query")
@click.option("--rules", "rules", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Take the database from this rule file's target.dsn.")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="At most this many rows.")
@dsn_option
@format_option
@handles_errors
def query_command(query: str, rules: str | None, limit: int, dsn: str | None, fmt: str) -> None:
    """Run one read-only SQL query and print its rows, e.g. on the log tables.

    Handy with --dsn embedded, whose server runs only while a command does:
    reconcile db query "SELECT * FROM reconcile.field_stats" --dsn embedded
    """
    from .. import target

    with _connect(rules, dsn) as conn:
        names, rows = target.read_only_query(conn, query, limit)
    if fmt == "json":
        emit_json({"ok": True, "columns": names, "rows": [dict(zip(names, r)) for r in rows]})
    elif names:
        click.echo(text_table(names, rows))
        click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", err=True)
