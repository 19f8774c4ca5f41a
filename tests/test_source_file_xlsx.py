"""The file source on XLSX: cells rendered as Excel shows them, worksheets by title."""
from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.chart import BarChart, Reference

from engine.errors import SourceError
from engine.rules.model import FileSource
from engine.sources.file import FileSheet, cell_text
from support.sheets import load, write_xlsx


def test_number_formats_as_a_user_sees_them(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", [
        ["ID", "Int", "Decimal", "Money", "Date", "ISO date", "Bool", "Percent", "Text"],
        [(6666, "General"), (3.0, "General"), (1234.5, "0.00"), (1234567.891, "#,##0.00"),
         (dt.datetime(2024, 3, 9), "yyyy/mm/dd"), (dt.date(2024, 12, 31), "yyyy-mm-dd"), True,
         (0.25, "0%"), "007"],
        [(6667, None), (0.1 + 0.2, None), (-2.5, "0.0"), (0, "#,##0"),
         (dt.datetime(2024, 1, 2, 9, 5), "yyyy-mm-dd hh:mm"), (dt.datetime(2024, 1, 2), "mm-dd-yy"), False,
         (0.125, "0.0%"), "#N/A"],
    ])
    headers, rows = load(path)
    assert headers[:3] == ("ID", "Int", "Decimal")
    assert rows == [
        (2, "6666", "3", "1234.50", "1,234,567.89", "2024/03/09", "2024-12-31", "TRUE", "25%", "007"),
        (3, "6667", "0.3", "-2.5", "0", "2024-01-02 09:05", "2024-01-02", "FALSE", "12.5%", "#N/A"),
    ]


def test_header_row_blank_rows_and_short_rows(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", [
        ["Buyers"], None, ["ID", "Name", "Note"], [1, "a", "x"], None, ["", ""], [2, "b"], [3, None, "z"],
    ])
    headers, rows = load(path, header_row=3)
    assert headers == ("ID", "Name", "Note")
    assert rows == [(4, "1", "a", "x"), (7, "2", "b", ""), (8, "3", "", "z")]


def test_worksheet_by_title_and_read_headers(tmp_path):
    import openpyxl

    path = write_xlsx(tmp_path / "s.xlsx", [["X"]], title="Other")
    book = openpyxl.load_workbook(path)
    second = book.create_sheet("Buyers")
    second.append(["ID", "後続担当\u3000"])
    second.append([1, "山田"])
    book.save(path)
    headers, rows = load(path, worksheet="Buyers")
    assert headers == ("ID", "後続担当\u3000") and rows == [(2, "1", "山田")]
    assert FileSheet(FileSource(path=path, worksheet="Buyers")).read_headers().headers == headers


def test_unknown_worksheet_lists_the_worksheets(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", [["ID"]], title="Buyers", others=["Archive"])
    with pytest.raises(SourceError) as caught:
        FileSheet(FileSource(path=path, worksheet="buyers 2024")).read_headers()
    err = caught.value
    assert "'buyers 2024'" in err.message and str(path) in err.message
    assert "'Buyers'" in err.hint and "'Archive'" in err.hint


def test_not_a_workbook(tmp_path):
    path = tmp_path / "s.xlsx"
    path.write_text("ID,Name\n")
    with pytest.raises(SourceError, match="XLSX"):
        load(path)


@pytest.mark.parametrize("value, fmt, shown", [
    (1e20, "General", "1e+20"), (12.0, "0", "12"), (1234.0, '"¥"#,##0', "¥1,234"),
    (dt.time(14, 5, 9), "h:mm:ss AM/PM", "2:05:09 PM"), (dt.datetime(2024, 3, 9), "General", "2024-03-09"),
    (dt.datetime(2024, 3, 9), "d-mmm-yy", "9-Mar-24"), (5, "[Red]0.00;[Blue]-0.00", "5.00"),
])
def test_cell_text_cases(value, fmt, shown):
    assert cell_text(value, fmt) == shown


# No lone CR: XML parsers turn it into LF by the XML spec (Excel itself stores line breaks as LF).
text_cells = st.text(alphabet=st.sampled_from(list('ab ,"\n\t後\u3000x1')), max_size=5)


@given(st.lists(st.lists(text_cells, min_size=1, max_size=3), min_size=1, max_size=4))
def test_round_trip_of_text_cells(tmp_path_factory, rows):
    """Property: text cells of any content (quotes, commas, line breaks, tabs, full-width space) come
    back exactly, rows padded to the header's width, fully blank rows skipped, row numbers true."""
    grid = [["H1", "H2", "H3"], *[[cell or None for cell in row] for row in rows]]
    path = write_xlsx(tmp_path_factory.mktemp("x") / "s.xlsx", grid)
    _, got = load(path)
    expected = [(n, *(row + [""] * (3 - len(row)))) for n, row in enumerate(rows, start=2) if any(row)]
    assert got == expected


@pytest.mark.parametrize("worksheet", [None, "Chart"])
def test_a_workbook_whose_sheet_is_a_chart_says_so(tmp_path, worksheet):
    """A chart sheet has no cells: an IndexError (no worksheet at all) or openpyxl's own
    AttributeError escaped before."""
    book = openpyxl.Workbook()
    data = book.active
    data.append([1])
    chart = BarChart()
    chart.add_data(Reference(data, min_col=1, min_row=1, max_row=1))
    book.create_chartsheet("Chart").add_chart(chart)
    book.remove(data)
    path = tmp_path / "chart.xlsx"
    book.save(path)
    with pytest.raises(SourceError) as caught:
        load(path, worksheet=worksheet)
    assert "has no worksheet of cells" in caught.value.message and "chart sheet" in caught.value.hint
