"""The HTML verify report in headless Chromium: it renders, shows the chart and the table, loads nothing.

The report comes from a real `reconcile verify --report` against PostgreSQL. Chromium runs
with every host name unresolvable and with a net log; the page must ask the network for
nothing (a leaky page, checked the same way, shows the check can fail).
"""
from __future__ import annotations

import os
import re

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.report_html import BAD, CHANGED, INVALID
from support import chromium
from support import verify as world

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(not chromium.available() and not os.environ.get("CI"),
                       reason="no /usr/bin/chromium (CI installs it and runs this test)"),
]

SHEET = world.AGREED + [
    ("4", "伊藤", " Kobe ", "7"), ("5", "Ono", "Sendai", "1,0x"), ("6", world.XSS, "Kyoto", "1"),
    ("7", "New person", "Sapporo", "2"),
] + [(str(i), f"name {i}", "same", "1") for i in range(10, 30)]
TABLE = world.AGREED_TABLE + [
    ("4", "伊藤", "Nara", "7.00"), ("5", "Ono", "Sendai", "2.00"), ("6", "Mori", "Kyoto", "1.00"),
    ("8", "Gone", "Nagoya", None),
] + [(str(i), f"name {i}", "same", "1" if i % 3 else "5") for i in range(10, 30)]


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@pytest.fixture
def report_page(tmp_path, pg_dsn):
    rules = world.make_world(tmp_path, pg_dsn, SHEET, TABLE)
    world.create_log_schema(pg_dsn)
    world.insert_run(pg_dsn, "people", minutes_ago=90, stats=[("name", 20, 4, 4), ("amount", 20, 9, 9)])
    world.insert_run(pg_dsn, "people", status="partial", minutes_ago=30, stats=[("city", 20, 2, 1)])
    page = tmp_path / "verify.html"
    done = CliRunner().invoke(main, ["verify", str(rules), "--dsn", pg_dsn, "--report", str(page)],
                              catch_exceptions=False)
    assert done.exit_code == 3, done.output
    return page


def test_report_renders_in_chromium_with_chart_and_table_and_loads_nothing(report_page, tmp_path):
    html = report_page.read_text(encoding="utf-8")
    for attr in re.findall(r"\b(?:src|href)\s*=\s*[\"']?([^\"' >]*)", html, re.I):
        assert not re.match(r"(https?:)?//", attr), attr

    png, net_log = tmp_path / "report.png", tmp_path / "net.json"
    chromium.screenshot(report_page, png, tmp_path, width=1280, height=2000, net_log=net_log)
    assert chromium.page_requests(net_log) == []

    image = chromium.read_png(png)
    assert (image.width, image.height) == (1280, 2000)
    colours = image.colours()
    assert len(colours) > 50  # text, cards, bars, badges: not a blank or single-colour page
    assert max(colours.values()) < 0.97 * sum(colours.values())
    bars = image.rows_with(_rgb(CHANGED))
    assert len(bars) > 10, "the drift chart's orange bars are not on the screenshot"
    assert image.rows_with(_rgb(INVALID)), "the unreadable-cell bar is not on the screenshot"
    assert image.rows_with(_rgb(BAD)), "the red verdict is not on the screenshot"

    dom = chromium.dump_dom(report_page, tmp_path)
    assert re.search(r"<svg[^>]*id=\"drift-chart\"", dom)
    assert dom.count('class="bar"') == 3
    table = dom[dom.index('<table id="records">'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr class=") == 1 + 1 + 1 + 3 + 1 + 6  # city, amount, name, new row x3, missing, 6 amounts
    assert "&lt;script&gt;" in table and "<script" not in dom.lower()
    assert '<svg id="history-chart"' in dom and dom.count("<tr><td class=\"num\">") == 2


def test_the_network_check_catches_a_page_that_loads_something(tmp_path):
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<!doctype html><img src="http://example.invalid/pixel.png">'
                     '<link rel="stylesheet" href="https://fonts.example.invalid/x.css">', encoding="utf-8")
    net_log = tmp_path / "net.json"
    chromium.screenshot(leaky, tmp_path / "leaky.png", tmp_path, width=400, height=300, net_log=net_log)
    assert sorted(chromium.page_requests(net_log)) == ["http://example.invalid/pixel.png",
                                                      "https://fonts.example.invalid/x.css"]
