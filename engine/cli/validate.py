"""`reconcile validate`: check rule files without a database, credentials, network or env vars."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import EXIT_OK, EXIT_USAGE
from ..redact import redact
from .app import echo_err, emit_json, exit_with, format_option, handles_errors, main


@main.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option
@click.option("--strict-env", is_flag=True,
              help="Report an unset ${VAR} without default as an error (by default a warning).")
@handles_errors
def validate_command(paths: tuple[Path, ...], fmt: str, strict_env: bool) -> None:
    """Check rule files (or folders of *.yaml/*.yml) and print every problem as path:line:col: CODE message.

    Exit 0 when every file is valid (warnings allowed), 2 when any has an error.
    """
    from ..rules.loader import rule_files, validate_paths

    problems = validate_paths(paths, strict_env=strict_env)
    files = len(rule_files(paths, []))
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if fmt == "json":
        emit_json({"ok": errors == 0, "files": files, "errors": errors, "warnings": warnings,
                   "problems": [{**p.to_dict(), "message": redact(p.message)} for p in problems]})
    else:
        for problem in problems:
            suffix = " (warning)" if problem.severity == "warning" else ""
            click.echo(redact(f"{problem}{suffix}"))
        echo_err(f"{files} file{'s' if files != 1 else ''}, {errors} error{'s' if errors != 1 else ''}, "
                 f"{warnings} warning{'s' if warnings != 1 else ''}")
    exit_with(EXIT_USAGE if errors else EXIT_OK)
