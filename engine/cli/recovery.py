"""`reconcile recover` and `reconcile rollback`: thin wrappers over engine.recovery."""
from __future__ import annotations

import click

from ..errors import UserError
from .app import dsn_option, emit_json, exit_with, format_option, handles_errors, main, text_table


def _split(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    return tuple(f.strip() for f in value.split(",") if f.strip()) or None if value else None


@main.command("recover")
@click.argument("rules", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "keys", multiple=True, metavar="K", help="Repair this record (repeatable).")
@click.option("--all-inconsistent", is_flag=True, help="Repair every record that differs from the sheet.")
@click.option("--fields", callback=_split, metavar="a,b", help="Only these fields (comma-separated table columns).")
@dsn_option
@format_option
@handles_errors
def recover_command(rules: str, keys: tuple[str, ...], all_inconsistent: bool, fields, dsn, fmt: str) -> None:
    """Re-apply the sheet to existing records, after backing up the values it overwrites.

    The backup is committed to reconcile.backups before any data write; if it cannot be
    written, nothing is written and the command exits 1. A record that fails does not stop
    the others. Exit codes: 0 every record repaired; 1 some failed (see the failures) or the
    backup failed; 2 usage; 4 refused by a safety guard (policy.max_changed_rows).
    Undo with `reconcile rollback BACKUP_ID`.
    """
    if bool(keys) == all_inconsistent:
        raise UserError("give one or more --key K, or --all-inconsistent (exactly one of the two)")
    from .. import recovery

    result = recovery.recover(rules, dsn=dsn, keys=keys or None, all_inconsistent=all_inconsistent, fields=fields)
    if fmt == "json":
        emit_json({"ok": result.exit_code == 0, "recovery": result.to_dict()})
    else:
        click.echo(f"Recovery of {result.rule_name}: {result.success_count} records repaired, "
                   f"{result.failure_count} failed, {result.written} fields written.")
        if result.backup_id:
            click.echo(f"Backup {result.backup_id}: {_undo(result.backup_id, dsn)}")
        else:
            click.echo("Nothing to write: no backup taken.")
        for error in result.errors:
            click.echo(f"  error: {error}")
        if result.failures:
            click.echo(text_table(["record", "field", "kind", "message"],
                                  [[f.record_key, f.field or "-", f.kind, f.message] for f in result.failures]))
    exit_with(result.exit_code)


@main.command("rollback")
@click.argument("backup_id", required=False)
@click.option("--run", "run_id", type=int, metavar="RUN_ID",
              help="Undo this run's writes (from its field_sync_logs) instead of a backup.")
@click.option("--force", is_flag=True, help="Restore even fields changed since they were written.")
@dsn_option
@format_option
@handles_errors
def rollback_command(backup_id: str | None, run_id: int | None, force: bool, dsn, fmt: str) -> None:
    """Put back the values a recovery (BACKUP_ID) or a run (--run RUN_ID) overwrote.

    No rule file needed; the DSN comes from --dsn or $DATABASE_URL. A field changed since it
    was written is a conflict, left alone unless --force. The rollback is logged as a run with
    its own backup, so it can be rolled back too. Exit codes: 0 all restored; 1 conflicts or
    failure; 2 usage.
    """
    backup_id = backup_id or None  # '' (an unset variable in a script) is no backup id
    if (backup_id is None) == (run_id is None):
        raise UserError("give a BACKUP_ID or --run RUN_ID (exactly one)")
    from .. import recovery

    result = recovery.rollback(backup_id, run_id=run_id, dsn=dsn, force=force)
    if fmt == "json":
        emit_json({"ok": result.exit_code == 0, "rollback": result.to_dict()})
    else:
        click.echo(f"Rollback of {result.source} in {result.table}: {result.restored} fields restored"
                   f"{f' ({result.forced} forced)' if result.forced else ''}, {len(result.conflicts)} conflicts, "
                   f"{len(result.skipped)} skipped.")
        if result.conflicts:
            click.echo(text_table(["record", "field", "written", "now", "would restore", "why"],
                                  [[c.record_key, c.field, c.expected, c.current, c.restore, c.reason]
                                   for c in result.conflicts]))
        for line in result.skipped[:20]:
            click.echo(f"  skipped: {line}")
        if result.backup_id:
            click.echo(f"Run {result.run_id}, backup {result.backup_id}: {_undo(result.backup_id, dsn)}")
    exit_with(result.exit_code)


def _undo(backup_id: str, dsn: str | None) -> str:
    """How to undo: rollback takes no rule file, so it needs the database named (never printed)."""
    if dsn == "embedded":
        return f"undo with `reconcile rollback {backup_id} --dsn embedded`."
    return (f"undo with `reconcile rollback {backup_id} --dsn DSN` (the same database; "
            f"without --dsn, $DATABASE_URL is used).")
