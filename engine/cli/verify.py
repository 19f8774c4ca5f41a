"""`reconcile verify`: a thin wrapper over engine.consistency and engine.report."""
from __future__ import annotations

import click

from ..errors import EXIT_DIFFERENCES
from .app import dsn_option, echo_err, emit_json, exit_with, format_option, handles_errors, main, text_table
from .sync import _split_fields

TABLE_RECORDS = 50


@main.command("verify")
@click.argument("rules", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "keys", multiple=True, metavar="K", help="Only this record (repeatable).")
@click.option("--fields", callback=_split_fields, metavar="a,b",
              help="Only these fields (comma-separated table columns).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True), default=None,
              metavar="FILE", help="Also write a report: .json (every record), .md (for a PR comment) or "
                                   ".html (one self-contained page with a chart and the run history).")
@dsn_option
@format_option
@handles_errors
def verify_command(rules: str, fields, keys, report_path: str | None, dsn: str | None, fmt: str) -> None:
    """List every record and field where the table disagrees with the sheet. Writes nothing.

    Shows both values and what the field's transforms made of the cell. Exit codes: 0 the
    table is consistent with the sheet; 3 it is not; 1 or 2 the check itself failed.
    """
    from .. import consistency, report

    if report_path:
        report.report_format(report_path)  # a wrong suffix fails before the sheet is read
    result = consistency.verify(rules, dsn=dsn, keys=keys or None, fields=fields)
    if report_path:
        history = consistency.run_history(rules, dsn=dsn)
        report.write_report(result, history, report_path)
    if fmt == "json":
        emit_json({"ok": result.consistent, "verify": result.to_dict(), "report": report_path})
    else:
        click.echo(verify_text(result, report_path=report_path))
        if report_path:
            echo_err(f"report written to {report_path}")
    exit_with(0 if result.consistent else EXIT_DIFFERENCES)


def verify_text(result, *, report_path: str | None = None, limit: int = TABLE_RECORDS) -> str:
    """The ``table`` output: per-field counts, then the first ``limit`` records."""
    verdict = "CONSISTENT" if result.consistent else f"NOT CONSISTENT: {result.verdict()}"
    lines = [f"Verify {result.rule_name} -> {result.table}: {verdict}",
             f"  sheet rows {result.sheet_rows}, table rows {result.table_rows}; differing values "
             f"{result.count('changed')}, unreadable cells {result.count('invalid')}, not in table "
             f"{result.count('new_row')}, not in sheet {result.count('missing_row')}, key problems "
             f"{result.count('duplicate_key') + result.count('null_key')}", ""]
    lines.append(text_table(["field", "compared", "differing", "invalid", "drift"],
                            [[f.field, f.compared, f.changed, f.invalid, f.drift] for f in result.fields]))
    lines += [f"  ! {p}" for p in result.header_problems]
    lines += [f"  ! field {f.field!r}: {f.error}" for f in result.fields if f.error]
    if result.records:
        shown = result.records[:limit]
        lines += ["", "Records:"]
        lines.append(text_table(
            ["record", "field", "status", "sheet row", "cell", "sheet value", "table value", "message"],
            [_record_cells(r) for r in shown]))
        if len(result.records) > len(shown):
            where = f"see {report_path}" if report_path else "write them all with --report FILE (.json, .md, .html)"
            lines.append(f"... and {len(result.records) - len(shown)} more; {where}")
    return "\n".join(lines)


def _record_cells(r) -> list:
    """One record line; a row-level status (a row missing from the sheet) has no values to show."""
    if r.field is None:
        return [r.record_key, "-", r.status, r.sheet_row or "", r.raw_value or "", "", "", r.message or ""]
    return [r.record_key, r.field, r.status, r.sheet_row, r.raw_value, r.sheet_value, r.table_value, r.message or ""]
