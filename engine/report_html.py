"""The verify report as ONE self-contained HTML file.

Everything is inline: the stylesheet, the per-field drift chart (SVG drawn here), the record
table with the differing characters marked, and the run history. There is no script, and a
Content-Security-Policy forbids loading anything, so the file shows the same offline, from a
mail attachment or a CI artifact. Every value from the sheet or the table is escaped.
"""
from __future__ import annotations

import difflib
from os.path import commonprefix
from datetime import datetime, timezone
from html import escape
from typing import Sequence

from . import __version__
from .report import STATUS_LABELS
from .consistency import FieldDrift, Inconsistency, RunSummary, VerifyResult

HTML_RECORDS = 2000  # rows in the record table; the JSON report has them all
DIFF_CHARS = 1000  # characters of a value compared and shown; the rest is elided
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CHANGED = "#e8590c"
INVALID = "#7048e8"
TRACK = "#f1f3f5"
OK = "#2b8a3e"
BAD = "#c92a2a"
RUN_COLOURS = {"succeeded": OK, "partial": "#f08c00", "failed": BAD, "running": "#868e96"}

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; --card: #fff;
  --ok: %(ok)s; --bad: %(bad)s; --changed: %(changed)s; --invalid: %(invalid)s; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK JP",
  "Hiragino Sans", "Liberation Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 24px 48px; }
header.top { display: flex; align-items: center; justify-content: space-between; gap: 24px;
  padding: 22px 26px; background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  border-left: 6px solid var(--verdict); }
h1 { font-size: 24px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 17px; margin: 0 0 14px; }
.sub { color: var(--muted); margin: 0; font-size: 14px; }
.sub code { color: var(--ink); }
code, .v { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", "Noto Sans Mono CJK JP", monospace; font-size: 13px; }
.verdict { font-weight: 700; font-size: 15px; color: #fff; background: var(--verdict);
  padding: 8px 16px; border-radius: 999px; white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(125px, 1fr)); gap: 12px; margin: 18px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card b { display: block; font-size: 24px; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: 12.5px; white-space: nowrap; }
.card.alert b { color: var(--bad); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 20px 24px; margin-top: 18px; }
.legend { display: flex; gap: 18px; color: var(--muted); font-size: 13px; margin: -4px 0 10px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px;
  vertical-align: -1px; }
svg text { font-family: inherit; }
.warn { background: #fff9db; border: 1px solid #ffe066; border-radius: 8px; padding: 10px 14px;
  margin-top: 18px; }
.warn p { margin: 2px 0; }
table { border-collapse: collapse; width: 100%%; font-size: 14px; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: 0.04em; border-bottom: 2px solid var(--line); padding: 8px 10px; position: sticky; top: 0;
  background: var(--card); }
td { border-bottom: 1px solid var(--line); padding: 8px 10px; vertical-align: top; }
tbody tr:hover { background: #f8f9fb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.key { font-weight: 600; white-space: nowrap; }
.v { white-space: pre-wrap; word-break: break-word; }
td.sheet { background: #f4fcf5; }
td.table { background: #fff7f7; }
td.sheet mark { background: #b2f2bb; color: inherit; border-radius: 2px; box-shadow: 0 0 0 1px #69db7c; }
td.table mark { background: #ffc9c9; color: inherit; border-radius: 2px; box-shadow: 0 0 0 1px #ff8787;
  text-decoration: line-through #e03131; }
.raw { color: var(--muted); font-size: 12px; margin-top: 4px; }
.null, .none { color: #9aa5b1; font-style: italic; font-family: inherit; font-size: 13px; }
.ctl { color: #adb5bd; }
.ws { background: #e9ecef; box-shadow: inset 0 -2px 0 #adb5bd; border-radius: 2px; }
.msg { color: var(--muted); font-size: 13px; }
.pill { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 9px; border-radius: 999px;
  white-space: nowrap; color: #fff; }
.s-changed { background: var(--changed); } .s-invalid { background: var(--invalid); }
.s-new_row { background: #1c7ed6; } .s-missing_row { background: #495057; }
.s-duplicate_key, .s-null_key { background: var(--bad); }
.r-succeeded { background: var(--ok); } .r-partial { background: #f08c00; }
.r-failed { background: var(--bad); } .r-running { background: #868e96; }
.more { color: var(--muted); margin: 12px 0 0; }
.empty { color: var(--muted); margin: 0; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 28px; }
""" % {"ok": OK, "bad": BAD, "changed": CHANGED, "invalid": INVALID}


def render_html(result: VerifyResult, history: Sequence[RunSummary], *, limit: int = HTML_RECORDS) -> str:
    """The whole report page."""
    verdict = OK if result.consistent else BAD
    title = f"reconcile verify: {result.rule_name} ({'consistent' if result.consistent else 'not consistent'})"
    body = "\n".join([
        _header(result, verdict), _cards(result), _warnings(result), _chart_section(result.fields),
        _records_section(result, limit), _history_section(history),
        f"<footer>reconcile {escape(__version__)} · read-only check; nothing was written</footer>",
    ])
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body style=\"--verdict: {verdict}\">\n<main>\n{body}\n</main>\n</body>\n</html>\n")


def _header(result: VerifyResult, verdict: str) -> str:
    label = result.verdict().capitalize()
    source = f" · sheet <code>{escape(result.source)}</code>" if result.source else ""
    selectors = []
    if result.selectors.get("keys"):
        selectors.append("keys " + ", ".join(f"<code>{escape(k)}</code>" for k in result.selectors["keys"]))
    if result.selectors.get("fields"):
        selectors.append("fields " + ", ".join(f"<code>{escape(f)}</code>" for f in result.selectors["fields"]))
    only = f"<p class=\"sub\">only {'; '.join(selectors)}</p>" if selectors else ""
    return (f"<header class=\"top\"><div><h1>{escape(result.rule_name)}</h1>"
            f"<p class=\"sub\">table <code>{escape(result.table)}</code>{source}</p>"
            f"<p class=\"sub\">checked {_time(result.checked_at)}</p>{only}</div>"
            f"<div class=\"verdict\" id=\"verdict\">{escape(label)}</div></header>")


def _cards(result: VerifyResult) -> str:
    figures = [
        ("Sheet rows", result.sheet_rows, False), ("Table rows", result.table_rows, False),
        ("Records differing", result.records_affected, True), ("Values differing", result.count("changed"), True),
        ("Unreadable cells", result.count("invalid"), True), ("Not in table", result.count("new_row"), True),
        ("Not in sheet", result.count("missing_row"), True),
        ("Key problems", result.count("duplicate_key") + result.count("null_key"), True),
    ]
    cards = "".join(f"<div class=\"card{' alert' if bad and n else ''}\"><b>{n:,}</b><span>{escape(name)}</span></div>"
                    for name, n, bad in figures)
    return f"<div class=\"cards\" id=\"totals\">{cards}</div>"


def _warnings(result: VerifyResult) -> str:
    problems = list(result.header_problems) + [f"field {f.field!r}: {f.error}" for f in result.fields if f.error]
    if not problems:
        return ""
    return "<div class=\"warn\">" + "".join(f"<p>⚠ {escape(p)}</p>" for p in problems) + "</div>"


# --- the per-field chart ----------------------------------------------------------------------

def drift_chart(fields: Sequence[FieldDrift], *, width: int = 1180) -> str:
    """A horizontal stacked bar per field (changed, then unreadable), as inline SVG."""
    row, top = 30, 26
    label_w = min(300, max(120, 8 * max((len(f.field) for f in fields), default=10) + 16))
    count_w = 150
    bar_w = width - label_w - count_w
    peak = max((f.drift for f in fields), default=0)
    ticks = _ticks(peak)
    scale = bar_w / (ticks[-1] or 1)
    height = top + row * max(len(fields), 1) + 8
    parts = [f"<svg id=\"drift-chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
             f"viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\" "
             f"aria-label=\"Drift by field: values that differ or could not be read\">"]
    for tick in ticks:
        x = label_w + tick * scale
        parts.append(f"<line x1=\"{x:.1f}\" y1=\"{top - 6}\" x2=\"{x:.1f}\" y2=\"{height - 6}\" stroke=\"#e9ecef\"/>"
                     f"<text x=\"{x:.1f}\" y=\"{top - 12}\" font-size=\"11\" fill=\"#868e96\" "
                     f"text-anchor=\"middle\">{tick:,}</text>")
    for i, f in enumerate(fields):
        parts.append(_bar(f, label_w, top + i * row, row, bar_w, scale))
    if not fields:
        parts.append(f"<text x=\"{label_w}\" y=\"{top + 18}\" fill=\"#868e96\">no fields checked</text>")
    parts.append("</svg>")
    return "".join(parts)


def _bar(f: FieldDrift, label_w: int, y: int, row: int, bar_w: float, scale: float) -> str:
    name = f.field if len(f.field) <= 36 else f.field[:35] + "…"
    mid = y + row / 2
    out = [f"<g class=\"bar\" data-field=\"{escape(f.field)}\"><title>{escape(f.field)}: {f.changed} differ, "
           f"{f.invalid} unreadable of {f.compared} compared</title>",
           f"<text x=\"{label_w - 10}\" y=\"{mid + 4:.1f}\" font-size=\"13\" text-anchor=\"end\" "
           f"fill=\"#1f2933\">{escape(name)}</text>",
           f"<rect x=\"{label_w}\" y=\"{y + 5}\" width=\"{bar_w:.1f}\" height=\"{row - 10}\" rx=\"3\" fill=\"{TRACK}\"/>"]
    x = float(label_w)
    for count, colour, kind in ((f.changed, CHANGED, "changed"), (f.invalid, INVALID, "invalid")):
        if count:
            w = max(count * scale, 2.0)
            out.append(f"<rect class=\"{kind}\" x=\"{x:.1f}\" y=\"{y + 5}\" width=\"{w:.1f}\" height=\"{row - 10}\" "
                       f"rx=\"3\" fill=\"{colour}\"/>")
            x += w
    note = "not checked" if f.error else (f"{f.drift:,} of {f.compared:,}" if f.compared else f"{f.drift:,}")
    colour = "#c92a2a" if f.error else ("#1f2933" if f.drift else "#868e96")
    out.append(f"<text x=\"{label_w + bar_w + 10:.1f}\" y=\"{mid + 4:.1f}\" font-size=\"13\" fill=\"{colour}\">"
               f"{escape(note)}</text></g>")
    return "".join(out)


def _ticks(peak: int) -> list[int]:
    """Round gridline values from 0 to at least ``peak``.

    >>> _ticks(0), _ticks(7), _ticks(230)
    ([0, 1], [0, 2, 4, 6, 8], [0, 100, 200, 300])
    """
    if peak <= 0:
        return [0, 1]
    step = 1
    while peak / step > 4:
        for mult in (2, 5, 10):
            if peak / (step * mult) <= 4:
                step *= mult
                break
        else:
            step *= 10
    top = -(-peak // step) * step
    return list(range(0, top + 1, step))


def _chart_section(fields: Sequence[FieldDrift]) -> str:
    legend = (f"<div class=\"legend\"><span><i style=\"background:{CHANGED}\"></i>value differs</span>"
              f"<span><i style=\"background:{INVALID}\"></i>cell could not be read</span>"
              "<span>numbers: drifting values of compared rows</span></div>")
    return f"<section id=\"drift\"><h2>Drift by field</h2>{legend}{drift_chart(fields)}</section>"


# --- the record table ------------------------------------------------------------------------

def _records_section(result: VerifyResult, limit: int) -> str:
    if not result.records:
        return ("<section id=\"records-section\"><h2>Records</h2><table id=\"records\"><tbody></tbody></table>"
                "<p class=\"empty\">No record disagrees with the sheet.</p></section>")
    shown = result.records[:limit]
    head = ("<thead><tr><th>Record</th><th>Field</th><th>Status</th><th class=\"num\">Row</th>"
            "<th>Sheet (after transforms)</th><th>Table</th><th>Note</th></tr></thead>")
    rows = "\n".join(_record_row(r) for r in shown)
    more = (f"<p class=\"more\">Showing the first {len(shown):,} of {len(result.records):,}; "
            "write a .json report for all of them.</p>" if len(result.records) > len(shown) else "")
    return (f"<section id=\"records-section\"><h2>Records ({len(result.records):,})</h2>"
            f"<table id=\"records\">{head}<tbody>\n{rows}\n</tbody></table>{more}</section>")


def _record_row(r: Inconsistency) -> str:
    sheet, table = _sides(r)
    key = escape(r.record_key) if r.record_key is not None else "<span class=\"none\">no key</span>"
    field = escape(r.field) if r.field is not None else "<span class=\"none\">whole row</span>"
    row = "" if r.sheet_row is None else str(r.sheet_row)
    label = escape(STATUS_LABELS.get(r.status, r.status))
    return (f"<tr class=\"{escape(r.status)}\"><td class=\"key\">{key}</td><td><code>{field}</code></td>"
            f"<td><span class=\"pill s-{escape(r.status)}\">{label}</span></td><td class=\"num\">{row}</td>"
            f"<td class=\"sheet\">{sheet}</td><td class=\"table\">{table}</td>"
            f"<td class=\"msg\">{escape(r.message or '')}</td></tr>")


def _sides(r: Inconsistency) -> tuple[str, str]:
    """The sheet and table cells: the differing characters marked on each side."""
    if r.status == "changed":
        sheet, table = highlight(r.sheet_value, r.table_value)
        return sheet + _raw_note(r), table
    if r.status == "invalid":
        return f"<div class=\"v\">{_edges(r.raw_value)}</div><div class=\"raw\">as read; not usable</div>", _value(r.table_value)
    if r.status == "new_row":
        return _value(r.sheet_value) + _raw_note(r), "<span class=\"none\">no such row</span>"
    if r.status == "missing_row":
        return "<span class=\"none\">no such row</span>", "<span class=\"none\">row exists</span>"
    return f"<div class=\"v\">{_plain(r.raw_value)}</div><div class=\"raw\">key cell as read</div>", ""


def _raw_note(r: Inconsistency) -> str:
    if r.raw_value is None or r.raw_value == r.sheet_value:
        return ""
    if r.raw_value == "":
        return "<div class=\"raw\">cell: <span class=\"none\">empty</span></div>"
    return f"<div class=\"raw\">cell: <span class=\"v\">{_edges(r.raw_value)}</span></div>"


def _edges(text: str | None) -> str:
    """Escaped text whose leading and trailing whitespace is shaded, so " Kobe " shows its spaces.

    >>> _edges(" a b\u3000")
    '<span class="ws"> </span>a b<span class="ws">\u3000</span>'
    """
    if not text:
        return _plain(text)
    core = text.strip()
    if not core:
        return f"<span class=\"ws\">{_plain(text)}</span>"
    start, end = text.index(core), text.index(core) + len(core)
    lead, tail = text[:start], text[end:]
    return ((f"<span class=\"ws\">{_plain(lead)}</span>" if lead else "") + _plain(core)
            + (f"<span class=\"ws\">{_plain(tail)}</span>" if tail else ""))


def _value(value: str | None) -> str:
    return "<span class=\"null\">NULL</span>" if value is None else f"<div class=\"v\">{_plain(value)}</div>"


def highlight(sheet: str | None, table: str | None) -> tuple[str, str]:
    """Both values escaped, the characters that differ wrapped in <mark> (a character-level diff).

    >>> highlight("田中 ", "田中")
    ('<div class="v">田中<mark> </mark></div>', '<div class="v">田中</div>')
    >>> highlight("<b>", None)[0]
    '<div class="v"><mark>&lt;b&gt;</mark></div>'
    """
    if sheet is None or table is None:
        marked = (lambda v: f"<div class=\"v\"><mark>{_plain(v)}</mark></div>" if v else _value(v))
        return marked(sheet), marked(table)
    a, b = sheet[:DIFF_CHARS], table[:DIFF_CHARS]
    sheet_out, table_out = [], []
    for differs, b0, b1, a0, a1 in _runs(b, a):
        sheet_out.append(_span(a[a0:a1], differs))
        table_out.append(_span(b[b0:b1], differs))
    return (f"<div class=\"v\">{''.join(sheet_out) or _EMPTY}{_elided(sheet)}</div>",
            f"<div class=\"v\">{''.join(table_out) or _EMPTY}{_elided(table)}</div>")


def _runs(old: str, new: str) -> list[tuple[bool, int, int, int, int]]:
    """Differing and equal runs of two strings, readable: values with little in common are
    marked whole, and a common run of one or two characters between changes is marked too
    ("Mori" -> "<script>" is not a change around a shared "ri"). The common prefix and suffix
    are split off first, so a small edit in a long note costs little."""
    head = len(commonprefix([old, new]))
    tail = len(commonprefix([old[head:][::-1], new[head:][::-1]]))
    mid_old, mid_new = old[head:len(old) - tail], new[head:len(new) - tail]
    matcher = difflib.SequenceMatcher(None, mid_old, mid_new, autojunk=False)
    same = head + tail + sum(size for _, _, size in matcher.get_matching_blocks())
    if 2 * same < 0.4 * (len(old) + len(new)):
        return [(True, 0, len(old), 0, len(new))]
    codes = [("equal", 0, head, 0, head)] if head else []
    codes += [(op, o0 + head, o1 + head, n0 + head, n1 + head) for op, o0, o1, n0, n1 in matcher.get_opcodes()]
    if tail:
        codes.append(("equal", len(old) - tail, len(old), len(new) - tail, len(new)))
    runs: list[tuple[bool, int, int, int, int]] = []
    for i, (op, o0, o1, n0, n1) in enumerate(codes):
        differs = op != "equal" or (o1 - o0 <= 2 and 0 < i < len(codes) - 1)
        if runs and runs[-1][0] == differs:
            _, p0, _, q0, _ = runs.pop()
            o0, n0 = p0, q0
        runs.append((differs, o0, o1, n0, n1))
    return runs


_EMPTY = "<span class=\"none\">empty</span>"


def _span(text: str, differs: bool) -> str:
    if not text:
        return ""
    return f"<mark>{_plain(text)}</mark>" if differs else _plain(text)


def _elided(value: str) -> str:
    extra = len(value) - DIFF_CHARS
    return f"<span class=\"ctl\"> … {extra:,} more characters</span>" if extra > 0 else ""


def _plain(text: str | None) -> str:
    """Escaped text with line breaks and tabs made visible (and the break kept)."""
    if text is None:
        return ""
    out = escape(text).replace("\r\n", "\n")
    return out.replace("\n", "<span class=\"ctl\">⏎</span>\n").replace("\t", "<span class=\"ctl\">→</span>\t")


# --- run history -----------------------------------------------------------------------------

def _history_section(history: Sequence[RunSummary]) -> str:
    if not history:
        return ("<section id=\"history\"><h2>Recent runs</h2>"
                "<p class=\"empty\">No runs logged yet for this rule set.</p></section>")
    head = ("<thead><tr><th class=\"num\">Run</th><th>Command</th><th>Status</th><th>Started</th>"
            "<th class=\"num\">Duration</th><th class=\"num\">Differing</th><th class=\"num\">Written</th>"
            "<th class=\"num\">Conflicts</th><th class=\"num\">Invalid</th><th class=\"num\">Errors</th>"
            "<th>Error</th></tr></thead>")
    rows = "".join(
        f"<tr><td class=\"num\">{h.run_id}</td><td>{escape(h.command)}</td>"
        f"<td><span class=\"pill r-{escape(h.status)}\">{escape(h.status)}</span></td>"
        f"<td>{_time(h.started_at)}</td><td class=\"num\">{_duration(h.seconds)}</td>"
        f"<td class=\"num\">{h.differing:,}</td><td class=\"num\">{h.written:,}</td>"
        f"<td class=\"num\">{h.conflicts:,}</td><td class=\"num\">{h.invalid:,}</td>"
        f"<td class=\"num\">{h.errors:,}</td><td class=\"msg\">{escape(_short(h.error))}</td></tr>"
        for h in history)
    return (f"<section id=\"history\"><h2>Recent runs</h2>{history_chart(history)}"
            f"<table id=\"runs\">{head}<tbody>{rows}</tbody></table></section>")


def history_chart(history: Sequence[RunSummary], *, width: int = 1180, height: int = 90) -> str:
    """Differing values per run, oldest on the left, each bar coloured by the run's status."""
    runs = list(reversed(history))
    peak = max((h.differing for h in runs), default=0) or 1
    slot = width / max(len(runs), 1)
    bar = min(slot * 0.6, 48)
    parts = [f"<svg id=\"history-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height + 20}\" "
             f"width=\"100%\" role=\"img\" aria-label=\"Differing values per recent run\">",
             f"<line x1=\"0\" y1=\"{height}\" x2=\"{width}\" y2=\"{height}\" stroke=\"#dee2e6\"/>"]
    for i, h in enumerate(runs):
        bar_h = max(h.differing / peak * (height - 18), 2)
        x = i * slot + (slot - bar) / 2
        colour = RUN_COLOURS.get(h.status, "#868e96")
        parts.append(f"<g><title>run {h.run_id} ({escape(h.status)}): {h.differing} differing, {h.written} written"
                     f"</title><rect x=\"{x:.1f}\" y=\"{height - bar_h:.1f}\" width=\"{bar:.1f}\" "
                     f"height=\"{bar_h:.1f}\" rx=\"3\" fill=\"{colour}\"/>"
                     f"<text x=\"{x + bar / 2:.1f}\" y=\"{height - bar_h - 4:.1f}\" font-size=\"11\" "
                     f"text-anchor=\"middle\" fill=\"#495057\">{h.differing:,}</text>"
                     f"<text x=\"{x + bar / 2:.1f}\" y=\"{height + 15}\" font-size=\"11\" text-anchor=\"middle\" "
                     f"fill=\"#868e96\">#{h.run_id}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def _time(moment: datetime | None) -> str:
    """A moment in UTC (naive moments are taken as UTC already)."""
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _short(text: str | None, limit: int = 140) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


__all__ = ["CSP", "HTML_RECORDS", "drift_chart", "highlight", "history_chart", "render_html"]
