"""Text rendering of plan and run results for the ``table`` output format."""
from __future__ import annotations

from ..results import PlanResult, RunResult
from .app import text_table


def plan_text(result: PlanResult, *, limit: int = 20) -> str:
    lines = [f"Plan for {result.rule_name} -> {result.table}",
             f"  sheet rows {result.sheet_rows}, table rows {result.table_rows}; "
             f"rows to update {result.changed_rows}, new rows {result.new_rows}, missing rows {result.missing_rows}, "
             f"duplicate sheet keys {result.duplicate_keys}, invalid cells {result.invalid}", ""]
    lines.append(text_table(
        ["field", "compared", "differing", "invalid", "errors"],
        [[c.field, c.compared, c.differing, c.invalid, c.errors] for c in result.fields]))
    lines += [f"  ! {p}" for p in result.header_problems]
    if result.changes:
        lines += ["", f"First planned writes ({min(limit, len(result.changes))} shown; the plan updates "
                      f"{result.changed_rows} row(s) and finds {result.new_rows} new):"]
        lines.append(text_table(["record", "field", "sheet value", "table value", "action"],
                                [[c.record_key, c.field, c.new_value, c.old_value, c.action]
                                 for c in result.changes[:limit]]))
    others = [d for d in result.differences if d.status not in ("changed", "new_row")]
    if others:
        lines += ["", "Also found:"]
        lines.append(text_table(["status", "record", "field", "sheet row", "cell", "message"],
                                [[d.status, d.record_key, d.field, d.sheet_row, d.raw_value, d.message]
                                 for d in others[:limit]]))
    if result.refused:
        lines += ["", f"REFUSED by a safety guard: {result.refused}"]
    elif not result.has_changes:
        lines += ["", "Nothing to apply: the table agrees with the sheet for every compared field."]
    return "\n".join(lines)


def run_text(result: RunResult) -> str:
    if result.dry_run:
        return "Dry run: nothing written.\n" + plan_text(result.plan)
    plan = result.plan
    lines = [f"Run {result.run_id} of {plan.rule_name} -> {plan.table}: {result.status.upper()}",
             f"  fields written {result.written}, rows inserted {result.inserted_rows}, "
             f"conflicts {len(result.conflicts)}, invalid cells {plan.invalid}, "
             f"missing rows {plan.missing_rows} (never deleted)", ""]
    lines.append(text_table(
        ["field", "compared", "differing", "written", "conflicts", "invalid", "errors"],
        [[c.field, c.compared, c.differing, c.written, c.conflicts, c.invalid, c.errors] for c in result.fields]))
    for conflict in result.conflicts[:20]:
        lines.append(f"  conflict: record {conflict.record_key} field {conflict.field}: "
                     "changed in the database since the snapshot; left as is, the next run retries")
    lines += [f"  error: {e}" for e in result.errors]
    if plan.refused:
        lines += ["", f"REFUSED by a safety guard: {plan.refused}. Nothing was written."]
    elif result.run_id is not None:
        lines += ["", f"Logs: SELECT * FROM reconcile.field_sync_logs WHERE run_id = {result.run_id};",
                  f"      SELECT * FROM reconcile.field_stats WHERE run_id = {result.run_id};"]
    return "\n".join(lines)
