"""The verify report in JSON, Markdown and HTML: parseable, complete, escaped, self-contained."""
from __future__ import annotations

import doctest
import json
import re
from html import unescape
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import report, report_html
from engine.report import ReportFormatError, render_report, report_format, write_report
from support import verify as world


class Page(HTMLParser):
    """Every start tag with its attributes, and the text inside each tag path."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.texts: list[tuple[tuple[str, ...], str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br", "line", "rect", "img", "link", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.texts.append((tuple(self.stack), data))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_report_modules_doctests_pass():
    for module in (report, report_html):
        outcome = doctest.testmod(module)
        assert outcome.attempted > 0 and outcome.failed == 0, module.__name__


@pytest.mark.parametrize("name, fmt", [("a.json", "json"), ("b.MD", "md"), ("dir/c.html", "html")])
def test_format_comes_from_the_suffix(name, fmt):
    assert report_format(name) == fmt


@pytest.mark.parametrize("name", ["report.txt", "report", "report.htm"])
def test_other_suffixes_are_a_user_error_naming_the_valid_ones(tmp_path, name):
    with pytest.raises(ReportFormatError) as raised:
        write_report(world.sample_result(), (), tmp_path / name)
    assert raised.value.exit_code == 2
    assert all(s in raised.value.hint for s in (".json", ".md", ".html"))
    assert not (tmp_path / name).exists()


def test_json_report_holds_every_record_the_totals_and_the_history(tmp_path):
    result, history = world.sample_result(records=6), world.sample_history()
    path = write_report(result, history, tmp_path / "r.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["report"] == "reconcile verify" and document["version"] == 1
    assert len(document["result"]["records"]) == 6
    assert document["result"]["records"][1]["sheet_value"] == world.XSS
    totals = document["result"]["totals"]
    assert (totals["changed"], totals["invalid"], totals["new_row"], totals["missing_row"]) == (3, 1, 1, 1)
    assert totals["records_affected"] == 6
    assert [h["run_id"] for h in document["history"]] == [100, 99, 98, 97]
    assert document["result"]["checked_at"] == "2026-11-29T03:00:00+00:00"


def test_markdown_report_has_readable_tables_with_values_escaped(tmp_path):
    path = write_report(world.sample_result(records=6), world.sample_history(), tmp_path / "r.md")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("## reconcile verify: buyers")
    assert "| field | compared | differs | unreadable | drift | note |" in text
    assert "| record | field | status | sheet row | cell | sheet value | table value | message |" in text
    rows = [line for line in text.splitlines() if line.startswith("| 700") or line.startswith("| 6666")
            or line.startswith("| 9999")]
    assert len(rows) == 6
    # every record row has exactly the header's 8 cells: no value broke the table
    assert all(len(re.split(r"(?<!\\)\|", row)) == 10 for row in rows)
    # markup from the sheet appears only inside code spans, which Markdown shows as text
    assert "` <script>alert('x')</script> `" in text
    assert not re.search(r"(?<!\\)<", re.sub(r"(`+) .*? \1", "", text))
    assert "line one⏎line two" in text
    assert "| 98 | run | failed |" in text


def test_markdown_report_lists_at_most_its_limit_and_says_how_many_more():
    result = world.sample_result(records=6)
    text = report.render_markdown(result, (), limit=2)
    assert "… and 4 more" in text
    assert "No runs logged yet." in text


def test_html_report_parses_with_chart_records_history_and_csp(tmp_path):
    result = world.sample_result(records=6)
    path = write_report(result, world.sample_history(), tmp_path / "r.html")
    page = parse(path.read_text(encoding="utf-8"))
    assert page.find("svg", id="drift-chart")
    assert len(page.find("g", **{"class": "bar"})) == len(result.fields)
    assert page.find("table", id="records")
    assert len([a for t, a in page.tags if t == "tr" and a.get("class") in {r.status for r in result.records}]) == 6
    assert page.find("svg", id="history-chart") and page.find("table", id="runs")
    csp = page.find("meta", **{"http-equiv": "Content-Security-Policy"})
    assert csp and csp[0]["content"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    header_text = " ".join(text for tags, text in page.texts if "header" in tags)
    assert "buyers" in header_text and "public.buyers" in header_text and "2026-11-29 03:00:00 UTC" in header_text
    assert "6 records differ" in header_text
    one = world.sample_result(records=1)
    assert "1 record differs" in report_html.render_html(one, ())


def test_html_report_escapes_sheet_values(tmp_path):
    text = report_html.render_html(world.sample_result(records=6), world.sample_history())
    page = parse(text)
    assert not page.find("script")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    marked = [data for tags, data in page.texts if tags[-1:] == ("mark",)]
    assert world.XSS in marked  # the whole value differs from 田中 and reads back as text
    assert "boom <b>" in [data for _, data in page.texts]  # a run's error is text too
    assert len(page.find("b")) == 8  # the eight total cards; the run's "<b>" did not become a tag


def test_html_report_references_nothing_outside_itself():
    text = report_html.render_html(world.sample_result(records=6), world.sample_history())
    page = parse(text)
    for tag, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action", "data", "poster"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), (tag, name, value)
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe", "object", "embed")]
    assert "@import" not in text and "url(" not in text


def test_consistent_report_says_so_and_has_an_empty_record_table():
    page = parse(report_html.render_html(world.sample_result(consistent=True), ()))
    verdict = [data for tags, data in page.texts if tags and tags[-1] == "div" and data == "Consistent"]
    assert verdict
    assert page.find("table", id="records") and not page.find("tr", **{"class": "changed"})
    assert "No runs logged yet for this rule set." in [d for _, d in page.texts]


def test_html_report_caps_the_record_table_and_says_where_the_rest_is():
    text = report_html.render_html(world.sample_result(records=6), (), limit=2)
    assert "Showing the first 2 of 6" in text


def _unmark(cell: str) -> str:
    inner = re.sub(r"<span class=\"ctl\">[^<]*</span>", "", cell)
    inner = re.sub(r"</?(mark|div)[^>]*>", "", inner)
    return unescape(inner)


values = st.text(alphabet=st.sampled_from("ab <>&\"'田中 \u3000xyz"), max_size=30)


@given(values, values)
def test_highlight_shows_each_value_exactly_and_marks_only_what_differs(sheet, table):
    """For any two values: removing the marks gives back each value exactly (escaped, nothing
    lost or added), no raw markup survives, and equal values have no mark at all."""
    sheet_html, table_html = report_html.highlight(sheet, table)
    for original, cell in ((sheet, sheet_html), (table, table_html)):
        assert "<" not in re.sub(r"</?(mark|div|span)[^>]*>", "", cell)
        if original:
            assert _unmark(cell) == original
    marks_sheet = "".join(unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", sheet_html, re.S))
    marks_table = "".join(unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", table_html, re.S))
    if sheet == table:
        assert not marks_sheet and not marks_table
    else:
        assert marks_sheet or marks_table
        assert len(sheet) - len(marks_sheet) == len(table) - len(marks_table)  # the common part is shared


def test_a_small_edit_in_a_long_value_marks_only_the_edit_and_elides_the_rest():
    note = "あ" * 400 + "X" + "い" * 2000
    sheet, table = report_html.highlight(note.replace("X", "Y"), note)
    assert re.findall(r"<mark>(.*?)</mark>", sheet) == ["Y"] and re.findall(r"<mark>(.*?)</mark>", table) == ["X"]
    assert f"{len(note) - report_html.DIFF_CHARS:,} more characters" in sheet
    assert report_html.highlight("", "abc")[0] == '<div class="v"><span class="none">empty</span></div>'
