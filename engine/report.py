"""The verify report as JSON, Markdown or one self-contained HTML file (the original ``generateReport``).

JSON carries every inconsistency; Markdown is for a PR comment or a ticket, so it shows the
per-field counts and the first ``MARKDOWN_RECORDS`` records; HTML (``engine.report_html``)
is one file with its chart, table and history inline, which loads nothing from anywhere.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Sequence

from .errors import SystemFailure, UserError
from .consistency import FIELD_STATUSES, ROW_STATUSES, Inconsistency, RunSummary, VerifyResult

Format = Literal["json", "md", "html"]
SUFFIXES: dict[str, Format] = {".json": "json", ".md": "md", ".html": "html"}
MARKDOWN_RECORDS = 100
REPORT_VERSION = 1

STATUS_LABELS = {
    "changed": "differs", "invalid": "unreadable cell", "new_row": "not in table",
    "missing_row": "not in sheet", "duplicate_key": "duplicate key", "null_key": "no key",
}


class ReportFormatError(UserError):
    """``--report`` names a file whose suffix is not a report format."""

    code = "RC161"


class ReportWriteError(SystemFailure):
    """The report file could not be written: a read-only folder, a file in the way, a full disk."""

    code = "RC162"


def report_format(path: str | Path) -> Format:
    """The format a report file gets from its suffix; a UserError naming the valid ones otherwise.

    >>> report_format("out/drift.HTML")
    'html'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ReportFormatError(
            f"cannot write a report to {str(path)!r}: the suffix {suffix or '(none)'!r} is not a report format",
            hint=f"use one of {', '.join(SUFFIXES)} (JSON for scripts, Markdown for a PR comment, "
                 "HTML to look at)")
    return SUFFIXES[suffix]


def render_report(result: VerifyResult, history: Sequence[RunSummary], fmt: Format) -> str:
    """The report as text in ``fmt`` (json, md or html)."""
    if fmt == "json":
        return render_json(result, history)
    if fmt == "md":
        return render_markdown(result, history)
    if fmt == "html":
        from .report_html import render_html

        return render_html(result, history)
    raise ReportFormatError(f"unknown report format {fmt!r}", hint="use json, md or html")


def write_report(result: VerifyResult, history: Sequence[RunSummary], path: str | Path) -> Path:
    """Write the report to ``path`` in the format its suffix names; return the path."""
    target = Path(path)
    text = render_report(result, history, report_format(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as err:  # a read-only place, a file where a folder should be, a full disk
        raise ReportWriteError(f"cannot write the report to {str(path)!r}: {err.strerror or err}",
                               hint="give --report a path in a folder you can write to") from err
    return target


def report_document(result: VerifyResult, history: Sequence[RunSummary]) -> dict:
    """The JSON report as data: the full result and the run history."""
    return {"report": "reconcile verify", "version": REPORT_VERSION, "result": result.to_dict(),
            "history": [run.to_dict() for run in history]}


def render_json(result: VerifyResult, history: Sequence[RunSummary]) -> str:
    return json.dumps(report_document(result, history), ensure_ascii=False, indent=2, default=str) + "\n"


# --- Markdown -------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~&])")


def md_text(text: str | None) -> str:
    r"""Plain text safe in a Markdown table cell: specials escaped, on one line.

    >>> md_text("a|b <script>")
    'a\\|b \\<script\\>'
    """
    if text is None:
        return ""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def md_value(value: str | None) -> str:
    r"""A value as a code span, so spaces and markup show as they are; NULL and empty are named.

    >>> md_value("a|b")
    '` a\\|b `'
    >>> md_value(None), md_value("")
    ('*NULL*', '*empty*')
    """
    if value is None:
        return "*NULL*"
    if value == "":
        return "*empty*"
    text = value.replace("\r\n", "\n").replace("\n", "⏎").replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_markdown(result: VerifyResult, history: Sequence[RunSummary], *,
                    limit: int = MARKDOWN_RECORDS) -> str:
    verdict = ("**Consistent**: the table agrees with the sheet for every checked field."
               if result.consistent else
               f"**Not consistent**: {result.verdict()} ({_n(result.drift, 'field value')} differ or are "
               f"unreadable, {_n(result.count('new_row'), 'row')} not in the table, "
               f"{_n(result.count('missing_row'), 'row')} not in the sheet).")
    lines = [f"## reconcile verify: {md_text(result.rule_name)} → `{result.table}`", "", verdict, "",
             f"Checked {_when(result.checked_at)}; sheet rows {result.sheet_rows}, "
             f"table rows {result.table_rows}{_md_selectors(result)}.", ""]
    lines += [f"> ⚠ {md_text(p)}" for p in result.header_problems]
    lines += ["### Drift by field", ""]
    lines += _md_table(["field", "compared", "differs", "unreadable", "drift", "note"],
                       [[md_text(f.field), str(f.compared), str(f.changed), str(f.invalid), str(f.drift),
                         md_text(f.error)] for f in result.fields], right=(1, 2, 3, 4))
    lines += ["", "### Records", ""]
    if result.records:
        shown = result.records[:limit]
        lines += _md_table(["record", "field", "status", "sheet row", "cell", "sheet value", "table value", "message"],
                           [_md_record(r) for r in shown], right=(3,))
        if len(result.records) > len(shown):
            lines += ["", f"… and {len(result.records) - len(shown)} more; the JSON and HTML reports list them all."]
    else:
        lines.append("None.")
    lines += ["", "### Recent runs", ""]
    if history:
        lines += _md_table(["run", "command", "status", "started", "differing", "written", "conflicts",
                            "invalid", "errors"],
                           [[str(h.run_id), md_text(h.command), h.status, _when(h.started_at), str(h.differing),
                             str(h.written), str(h.conflicts), str(h.invalid), str(h.errors)] for h in history],
                           right=(0, 4, 5, 6, 7, 8))
    else:
        lines.append("No runs logged yet.")
    return "\n".join(lines) + "\n"


def _md_record(r: Inconsistency) -> list[str]:
    return [md_text(r.record_key) or "*none*", md_text(r.field) or "*row*", STATUS_LABELS.get(r.status, r.status),
            "" if r.sheet_row is None else str(r.sheet_row), _md_cell(r),
            md_value(r.sheet_value) if r.status in ("changed", "new_row") else "",
            md_value(r.table_value) if r.status in ("changed", "invalid") else "", md_text(r.message)]


def _md_cell(r: Inconsistency) -> str:
    """The cell as read, when it says more than the sheet value next to it."""
    if r.status == "missing_row" or (r.status in ("changed", "new_row") and r.raw_value == r.sheet_value):
        return ""
    return md_value(r.raw_value)


def _n(count: int, noun: str) -> str:
    """
    >>> _n(1, "row"), _n(2, "field value")
    ('1 row', '2 field values')
    """
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _md_selectors(result: VerifyResult) -> str:
    parts = []
    if result.selectors.get("keys"):
        parts.append("keys " + ", ".join(md_text(k) for k in result.selectors["keys"]))
    if result.selectors.get("fields"):
        parts.append("fields " + ", ".join(md_text(f) for f in result.selectors["fields"]))
    return f"; only {'; '.join(parts)}" if parts else ""


def _when(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


__all__ = ["FIELD_STATUSES", "MARKDOWN_RECORDS", "ROW_STATUSES", "ReportFormatError", "STATUS_LABELS", "SUFFIXES",
           "md_text", "md_value", "render_json", "render_markdown", "render_report", "report_document",
           "report_format", "write_report"]
