"""The Google Sheets source against the emulator: real gspread + google-auth over HTTP."""
from __future__ import annotations

import datetime as dt
import io

import duckdb
import pytest

from engine.errors import SourceError
from engine.progress import Progress
from engine.rules.model import GoogleSheetsSource
from engine.sources import open_source
from engine.sources.google_sheets import GoogleSheet, parse_spreadsheet
from support.google_fixtures import *  # noqa: F401,F403 (fixtures)
from support.google_fixtures import add_sheet, read_sheet
from support.sheets_emulator import Date, Err, Formula, Num, Sheet, Spreadsheet, synthetic_sheet

pytestmark = pytest.mark.usefixtures("google_env")


def src(**kw) -> GoogleSheetsSource:
    return GoogleSheetsSource(**{"spreadsheet": "sheet-key", **kw})


def test_trimmed_cells_and_rows_are_padded_and_blank_rows_skipped(emulator):
    add_sheet(emulator, [
        ["ID", "Name", "Phone"],
        ["1", "Ann"],                 # trailing cell trimmed by the API
        [],                           # blank row in the middle: skipped, numbering kept
        ["", "", ""],                 # blank cells only: skipped too
        ["3", "", "090"],             # blank cell before a value stays ''
        ["4"],
    ])
    headers, rows = read_sheet(src())
    assert headers == ("ID", "Name", "Phone")
    assert rows == [(2, "1", "Ann", ""), (5, "3", "", "090"), (6, "4", "", "")]


def test_data_wider_than_the_header_is_kept_under_blank_headers(emulator):
    add_sheet(emulator, [["ID", "Name"], ["1", "Ann", "", "extra"]])
    headers, rows = read_sheet(src())
    assert headers == ("ID", "Name", "", "")
    assert rows == [(2, "1", "Ann", "", "extra")]


def test_formatted_values_are_what_users_see(emulator):
    add_sheet(emulator, [
        ["ID", "Price", "Day", "Flag", "Calc", "Ratio", "Count"],
        ["1", Num(1234.5, "${:,.2f}"), Date.of(dt.date(2020, 1, 1), "%Y/%m/%d"), True,
         Formula("=1/0", Err("#DIV/0!")), 0.25, 7],
    ])
    _, rows = read_sheet(src())
    assert rows == [(2, "1", "$1,234.50", "2020/01/01", "TRUE", "#DIV/0!", "0.25", "7")]


def test_unformatted_values_give_numbers_and_serial_dates(emulator):
    add_sheet(emulator, [
        ["ID", "Price", "Day", "Noon", "Flag", "Err", "Whole"],
        ["1", Num(1234.5, "${:,.2f}"), Date.of(dt.date(2020, 1, 1)),
         Date.of(dt.datetime(1900, 1, 1, 12)), False, Err("#N/A"), Num(2.0, "{}.00")],
    ])
    _, rows = read_sheet(src(value_render="UNFORMATTED_VALUE"))
    # Serial dates count days from 1899-12-30; whole numbers come without '.0'.
    assert rows == [(2, "1", "1234.5", "43831", "2.5", "false", "#N/A", "2")]


def test_unformatted_serials_convert_back_to_dates_in_duckdb(emulator):
    """The serial numbers the source returns are what ``sheet_serial_date`` expects (epoch 1899-12-30)."""
    days = [dt.date(1900, 3, 1), dt.date(1999, 12, 31), dt.date(2024, 2, 29)]
    add_sheet(emulator, [["ID", "Day"], *[[str(i), Date.of(d)] for i, d in enumerate(days)]])
    con = duckdb.connect()
    GoogleSheet(src(value_render="UNFORMATTED_VALUE")).read(con, "s")
    got = con.execute("SELECT DATE '1899-12-30' + CAST(c2 AS INTEGER) FROM s ORDER BY _row").fetchall()
    assert [g[0] for g in got] == days


@pytest.mark.parametrize("title", ["Bob's list", "買主リスト", "a!b", "with  spaces ", "''"])
def test_quoted_sheet_titles(emulator, title):
    emulator.add(Spreadsheet("sheet-key", [Sheet("First", [["X"], ["no"]]),
                                           Sheet(title, [["ID"], ["yes"]], sheet_id=7)]))
    headers, rows = read_sheet(src(worksheet=title))
    assert (headers, rows) == (("ID",), [(2, "yes")])
    sent = emulator.requests("values:batchGet")[0][2]["ranges"][0]
    assert sent.startswith("'" + title.replace("'", "''") + "'!")


def test_worksheet_by_gid_and_by_url_fragment(emulator):
    emulator.add(Spreadsheet("sheet-key", [Sheet("A", [["H"], ["a"]], sheet_id=0),
                                           Sheet("B", [["H"], ["b"]], sheet_id=555)]))
    assert read_sheet(src(gid=555))[1] == [(2, "b")]
    url = "https://docs.google.com/spreadsheets/d/sheet-key/edit#gid=555"
    assert read_sheet(src(spreadsheet=url))[1] == [(2, "b")]
    assert read_sheet(src())[1] == [(2, "a")]  # no title, no gid: the first sheet


def test_parse_spreadsheet_accepts_keys_and_urls():
    assert parse_spreadsheet("https://docs.google.com/spreadsheets/d/1x_Y-z/edit?usp=sharing") == ("1x_Y-z", None)
    assert parse_spreadsheet("https://docs.google.com/spreadsheets/d/1x/edit?gid=3#gid=3") == ("1x", 3)


def test_header_row_below_titles(emulator):
    add_sheet(emulator, [["Buyers 2024"], [], ["ID", "Name"], ["1", "Ann"]])
    headers, rows = read_sheet(src(header_row=3))
    assert headers == ("ID", "Name")
    assert rows == [(4, "1", "Ann")]


def test_read_headers_fetches_only_the_header_row(emulator):
    add_sheet(emulator, [["ID", "Name\u3000", ""], *[[str(i), "x"] for i in range(50)]])
    data = GoogleSheet(src()).read_headers()
    assert data.headers == ("ID", "Name\u3000")  # read as is; matching normalises later
    assert data.row_count == 0 and data.table == ""
    assert emulator.requests("values:batchGet")[0][2]["ranges"] == ["'Sheet1'!1:1"]


@pytest.mark.parametrize("grid_rows", [1, 1000])
def test_header_only_sheet_gives_an_empty_table(emulator, grid_rows):
    add_sheet(emulator, [["ID", "Name"]], row_count=grid_rows)
    headers, rows = read_sheet(src())
    assert headers == ("ID", "Name") and rows == []


def test_header_row_beyond_the_grid_is_an_error(emulator):
    add_sheet(emulator, [["ID"]], row_count=5)
    with pytest.raises(SourceError, match="has 5 row"):
        read_sheet(src(header_row=9))


def test_registered_for_open_source(emulator):
    add_sheet(emulator, [["ID"], ["1"]])
    assert isinstance(open_source(src()), GoogleSheet)


@pytest.mark.slow
def test_100k_rows_read_in_chunks(emulator):
    """A 100,000-row sheet comes in ceil(data rows / chunk_rows) batchGet requests plus one metadata GET."""
    emulator.add(Spreadsheet("sheet-key", [synthetic_sheet(100_000, 30)]))
    con = duckdb.connect()
    data = GoogleSheet(src(chunk_rows=25_000)).read(con, "s")
    assert data.row_count == 100_000 and len(data.headers) == 30
    batches = emulator.requests("values:batchGet")
    assert [q["ranges"] for _, _, q in batches] == [
        ["'Sheet1'!1:25001"], ["'Sheet1'!25002:50001"], ["'Sheet1'!50002:75001"], ["'Sheet1'!75002:100001"]]
    assert len(emulator.requests("/v4/")) == 5
    first, last, n = con.execute("SELECT min(_row), max(_row), count(DISTINCT _row) FROM s").fetchone()
    assert (first, last, n) == (2, 100_001, 100_000)
    # Every row sits at its own sheet row number, across chunk boundaries.
    assert con.execute("SELECT count(*) FROM s WHERE c1 <> 'r' || _row || 'c1 text'").fetchone() == (0,)
    assert con.execute("SELECT c30 FROM s WHERE _row = 100001").fetchone() == ("r100001c30 text",)


def test_a_chunked_read_shows_a_bar_on_a_terminal(emulator):
    """One bar update per chunk, counted in sheet rows, ending at the last row; then the phase line."""
    emulator.add(Spreadsheet("sheet-key", [synthetic_sheet(10_000, 3)]))
    screen = io.StringIO()
    progress = Progress(screen, enabled=True)
    with progress.phase("read sheet"):
        open_source(src(chunk_rows=4_000), progress).read(duckdb.connect(), "s")
    frames = screen.getvalue().split("\r")
    bars = [f.strip() for f in frames if "rows read" in f]
    assert [b.rsplit(" ", 1)[1] for b in bars] == ["4001/10001", "8001/10001", "10001/10001"]
    assert bars[-1].startswith("rows read [" + "#" * 30 + "]")
    assert frames[-1].startswith("  read sheet ✓") and frames[-1].endswith("\n")
    assert len(frames[-1].rstrip()) < len(frames[-2]), "the last line blanks out the longer bar"
