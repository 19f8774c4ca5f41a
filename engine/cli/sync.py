"""`reconcile plan` and `reconcile run`: thin wrappers over engine.api."""
from __future__ import annotations

import click

from ..errors import EXIT_DIFFERENCES, EXIT_REFUSED, GuardRefused
from ..progress import Progress
from .app import dsn_option, emit_json, exit_with, format_option, handles_errors, main
from .render import plan_text, run_text


def _split_fields(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(f.strip() for f in value.split(",") if f.strip())


def selector_options(fn):
    fn = click.option("--key", "keys", multiple=True, metavar="K",
                      help="Only the record with this key, as the sheet writes it (repeatable).")(fn)
    fn = click.option("--fields", callback=_split_fields, metavar="a,b",
                      help="Only these fields (comma-separated table columns).")(fn)
    return fn


@main.command("plan")
@click.argument("rules", type=click.Path(exists=True, dir_okay=False))
@selector_options
@dsn_option
@format_option
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 3 when there is anything to apply (0 when nothing), as terraform plan does.")
@handles_errors
def plan_command(rules: str, fields, keys, dsn, fmt: str, detailed_exitcode: bool) -> None:
    """Show what `run` would write, field by field. Writes nothing."""
    from .. import api  # imported here: `reconcile validate` must not load the engine

    result = api.plan(rules, dsn=dsn, fields=fields, keys=keys or None, progress=Progress())
    if fmt == "json":
        emit_json({"ok": not result.refused, "plan": result.to_dict(), "has_changes": result.has_changes,
                   **_refusal(result.refused)})
    else:
        click.echo(plan_text(result))
    if result.refused:
        exit_with(EXIT_REFUSED)
    if detailed_exitcode and result.has_changes:
        exit_with(EXIT_DIFFERENCES)


@main.command("run")
@click.argument("rules", type=click.Path(exists=True, dir_okay=False))
@selector_options
@dsn_option
@format_option
@click.option("--dry-run", is_flag=True, help="Plan only; write nothing (not even the run log).")
@handles_errors
def run_command(rules: str, fields, keys, dsn, fmt: str, dry_run: bool) -> None:
    """Apply the sheet's values to the table: only changed fields, compare-and-set, one transaction."""
    from .. import api

    result = api.run(rules, dsn=dsn, fields=fields, keys=keys or None, dry_run=dry_run, progress=Progress())
    if fmt == "json":
        emit_json({"ok": result.exit_code == 0, "run": result.to_dict(), **_refusal(result.plan.refused)})
    else:
        click.echo(run_text(result))
    exit_with(result.exit_code)


def _refusal(refused: str | None) -> dict:
    """A refused plan carries the same ``error`` object as any failure (code RC400, exit 4)."""
    if not refused:
        return {}
    return {"error": GuardRefused(refused, hint="raise policy.max_changed_rows in the rule file if the "
                                                 "change is intended").to_dict()}
