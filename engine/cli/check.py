"""``reconcile check RULES``: every mapped column found in the sheet and the table? Exit 2 if not."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .app import dsn_option, emit_json, exit_with, format_option, handles_errors, main, text_table

if TYPE_CHECKING:
    from ..coverage import CheckReport, FieldCheck, KeyCheck


@main.command("check")
@click.argument("rules", type=click.Path(dir_okay=False))
@dsn_option
@format_option
@handles_errors
def check_command(rules: str, dsn: str | None, fmt: str) -> None:
    """Match every rule column against the sheet's header row and the table's catalog.

    Reads the sheet and the table's catalog and key column; writes nothing. Shows, per
    field, the sheet column found (letter and header text) and the table column (type),
    the closest headers for a column that is not found, and key uniqueness on both sides.
    Exits 0 when everything is mapped, 2 on any mapping problem.
    """
    from ..coverage import check  # imported on use: keeps `reconcile --help` light

    report = check(rules, dsn=dsn)
    if fmt == "json":
        emit_json(report.to_dict())
    else:
        click.echo(check_text(report))
    exit_with(report.exit_code)


def check_text(report: CheckReport) -> str:
    """The report as a table for people."""
    lines = [f"Check of {report.rule_name}: sheet {report.sheet} (header row {report.header_row}) "
             f"-> table {report.table}", ""]
    lines.append(text_table(["field", "sheet column", "table column", "status"],
                            [_field_row(f) for f in report.fields]))
    for keys in (report.sheet_keys, report.table_keys):
        if keys is not None:
            lines.append(_key_line(keys))
    if report.unmapped:
        shown = ", ".join(f"{c.letter} {c.header!r}" for c in report.unmapped)
        lines.append(f"  sheet columns no rule reads: {shown}")
    lines += [f"  warning: {w}" for w in report.warnings]
    lines += [""] + [f"  ! {p}" for p in report.problems]
    lines.append("OK: every column is mapped." if report.ok else
                 f"{len(report.problems)} problem(s): fix the sheet header, the rule file or the table.")
    return "\n".join(lines)


def _field_row(f: FieldCheck) -> list[str]:
    name = f"{f.field} (key)" if f.is_key else f.field
    sheet = f"{f.sheet.letter} {f.sheet.header!r}" if f.sheet else f"{f.column!r} NOT FOUND"
    table = f.table_type or ("NOT FOUND" if f.table_problem else "-")
    status = "PROBLEM" if not f.ok else ("ok" if f.table_type else "sheet ok")  # table not read
    return [name, sheet, table, status]


def _key_line(keys: KeyCheck) -> str:
    state = "unique" if keys.unique else (f"{keys.duplicate_keys} duplicated ({keys.duplicate_rows} rows), "
                                          f"{keys.empty} empty")
    return f"  {keys.side} key {keys.column!r}: {keys.rows} rows, {state}"
