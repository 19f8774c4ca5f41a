"""The file source on CSV and TSV: what DuckDB gets is what a user sees, with true row numbers."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import SourceError
from engine.rules.model import FileSource
from engine.sources.file import FileSheet
from support.sheets import load, write_text


def test_header_below_a_title_blank_rows_skipped_short_rows_padded(tmp_path):
    path = write_text(tmp_path / "s.csv", "Buyers export\n\nID,Name,Note\n1,a,x\n\n,,\n2,b\n3\n")
    headers, rows = load(path, header_row=3)
    assert headers == ("ID", "Name", "Note")
    assert rows == [(4, "1", "a", "x"), (7, "2", "b", ""), (8, "3", "", "")]


def test_bom_crlf_and_quoted_newline(tmp_path):
    path = write_text(tmp_path / "s.csv", 'ID,Name\r\n1,"two\nlines"\r\n2,"say ""hi"""\r\n', bom=True)
    headers, rows = load(path)
    assert headers == ("ID", "Name")
    assert rows == [(2, "1", "two\nlines"), (3, "2", 'say "hi"')]


def test_empty_quoted_and_missing_cells_are_both_empty_text(tmp_path):
    path = write_text(tmp_path / "s.csv", 'ID,A,B,C\n1,"",,\n2,""\n')
    _, rows = load(path)
    assert rows == [(2, "1", "", "", ""), (3, "2", "", "", "")]


def test_row_numbers_count_blank_lines_and_quoted_newlines(tmp_path):
    path = write_text(tmp_path / "s.csv", 'ID,Name\n1,"a\n\nb"\n\n2,c\n')
    _, rows = load(path)
    assert rows == [(2, "1", "a\n\nb"), (4, "2", "c")]


def test_data_beyond_the_last_header_kept_under_blank_headers(tmp_path):
    path = write_text(tmp_path / "s.csv", "ID,Name,,\n1,a\n2,b,,late\n")
    headers, rows = load(path)
    assert headers == ("ID", "Name", "", "")
    assert rows[1] == (3, "2", "b", "", "late")


def test_trailing_blank_header_cells_dropped_when_no_data_there(tmp_path):
    path = write_text(tmp_path / "s.csv", "ID,Name,,\n1,a,,\n")
    headers, rows = load(path)
    assert headers == ("ID", "Name")
    assert rows == [(2, "1", "a")]


def test_a_wide_row_after_the_sample_is_not_cut(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.sources.file.SAMPLE_ROWS", 2)
    path = write_text(tmp_path / "s.csv", "ID,Name\n1,a\n2,b\n3,c,,extra\n")
    headers, rows = load(path)
    assert headers == ("ID", "Name", "", "")
    assert rows[-1] == (4, "3", "c", "", "extra")


def test_hash_first_cell_is_data_not_a_comment(tmp_path):
    path = write_text(tmp_path / "s.csv", "ID,Name\n#1,a\n")
    _, rows = load(path)
    assert rows == [(2, "#1", "a")]


def test_unclosed_quote_is_refused_with_its_line_not_cut_off(tmp_path):
    path = write_text(tmp_path / "s.csv", 'ID,Name\n1,a\n2,"abc\n3,b\n4,c\n')
    with pytest.raises(SourceError) as caught:
        load(path)
    assert caught.value.location.line == 3 and str(path) in caught.value.message


def test_stray_quote_inside_an_unquoted_cell_is_kept(tmp_path):
    path = write_text(tmp_path / "s.csv", 'ID,Size\n1,5" screen\n2,7\n')
    _, rows = load(path)
    assert rows == [(2, "1", '5" screen'), (3, "2", "7")]


def test_tsv(tmp_path):
    path = write_text(tmp_path / "s.tsv", 'ID\tName\tNote\n1\ta, b\t"x\ty"\n2\t\t\n')
    headers, rows = load(path)
    assert headers == ("ID", "Name", "Note")
    assert rows == [(2, "1", "a, b", "x\ty"), (3, "2", "", "")]


def test_cp932_export(tmp_path):
    text = "ID,後続担当\u3000,内見結果フォロー\r\n6666,山田,済\r\n\r\n6667,佐藤,未\r\n"
    path = write_text(tmp_path / "s.csv", text, encoding="cp932")
    headers, rows = load(path, encoding="cp932")
    assert headers == ("ID", "後続担当\u3000", "内見結果フォロー")
    assert rows == [(2, "6666", "山田", "済"), (4, "6667", "佐藤", "未")]
    assert FileSheet(FileSource(path=path, encoding="cp932")).read_headers().headers == headers


def test_cp932_file_read_as_utf8_names_path_and_line(tmp_path):
    path = write_text(tmp_path / "s.csv", "ID,Name\n1,a\n2,山田\n", encoding="cp932")
    with pytest.raises(SourceError) as caught:
        load(path)
    assert str(path) in caught.value.message and "line 3" in caught.value.message
    assert "encoding" in caught.value.hint


def test_bad_bytes_in_declared_cp932_name_the_line(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes("ID,Name\n1,山田\n".encode("cp932") + b"2,\x81\x20\xff\n")
    with pytest.raises(SourceError) as caught:
        load(path, encoding="cp932")
    assert "line 3" in caught.value.message and str(path) in caught.value.message


@pytest.mark.parametrize("data, encoding, said", [
    ("ID,Name\n1,a\n".encode("utf-16-le"), "utf-16", "UTF-16 stream does not start with BOM"),
    ("ID,Name\n1,a\n".encode("utf-16")[:-1], "utf-16", "truncated data"),  # an export cut off mid-character
    (b"ID,Name\n1,a\n", "base64", "'base64' is not a text encoding"),
    (b"ID,Name\n1,a\n", "no-such-codec", "unknown encoding 'no-such-codec'"),
])
def test_an_encoding_that_cannot_read_the_file_is_a_source_error(tmp_path, data, encoding, said):
    """Before, these escaped as UnicodeError or LookupError (RC900): the header's read and the
    load both stop with a SourceError naming the file (a header read before the cut reads)."""
    path = tmp_path / "s.csv"
    path.write_bytes(data)
    header = [] if said == "truncated data" else [lambda: FileSheet(FileSource(path=path, encoding=encoding)).read_headers()]
    for read in [lambda: load(path, encoding=encoding), *header]:
        with pytest.raises(SourceError) as caught:
            read()
        assert said in caught.value.message and str(path) in caught.value.message, caught.value.message


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(SourceError) as caught:
        FileSheet(FileSource(path=path)).read_headers()
    assert str(path) in caught.value.message and "not found" in caught.value.message


@pytest.mark.parametrize("where, said", [("folder", "is a folder"), ("/dev/null", "is not a regular file")])
def test_a_path_that_is_no_file_says_what_it_is(tmp_path, where, said):
    """Both were 'sheet file not found', for a path that is there."""
    path = tmp_path if where == "folder" else Path(where)
    with pytest.raises(SourceError) as caught:
        FileSheet(FileSource(path=path, format="csv")).read_headers()
    assert f"sheet file {path} {said}" in caught.value.message


def test_header_row_beyond_the_file(tmp_path):
    path = write_text(tmp_path / "s.csv", "ID,Name\n1,a\n")
    with pytest.raises(SourceError, match="header row 5"):
        load(path, header_row=5)
    with pytest.raises(SourceError, match="header row 5"):
        FileSheet(FileSource(path=path, header_row=5)).read_headers()


cells = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\t後\u3000x1')), max_size=6)


@given(st.lists(st.lists(cells, min_size=1, max_size=4), min_size=1, max_size=6))
def test_round_trip_of_quoted_cells(tmp_path_factory, rows):
    """Property: any grid of cells written as a quoted CSV reads back cell for cell
    (rows padded to the widest, fully blank rows skipped, row numbers as in the file)."""
    import csv
    import io

    path = tmp_path_factory.mktemp("rt") / "s.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerows([["H1", "H2", "H3", "H4"], *rows])
    write_text(path, buffer.getvalue())
    _, got = load(path)
    expected = [(n, *(row + [""] * (4 - len(row)))) for n, row in enumerate(rows, start=2) if any(row)]
    assert got == expected


def test_a_file_source_does_not_load_the_google_client():
    """Only the asked source type's module loads: a CSV run pays nothing for gspread and requests."""
    import subprocess
    import sys

    code = ("import sys; import duckdb; from engine.rules import load_rules; from engine.resources import resource_path; "
            "from engine.sources import open_source; "
            "open_source(load_rules(resource_path('rules', 'buyers_file.yaml')).source).read(duckdb.connect(), 's'); "
            "print(sorted(m for m in ('gspread', 'requests', 'google.auth') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_sheet_too_wide_for_duckdbs_memory_says_so(tmp_path):
    """DuckDB's out-of-memory error ends with advice lines; the message used to be the first of
    them ('* Reducing the number of threads') instead of the failure itself."""
    width = 2000
    path = write_text(tmp_path / "wide.csv", ",".join(f"h{i}" for i in range(width)) + "\n" + ",".join("x" * width) + "\n")
    con = duckdb.connect(config={"memory_limit": "64MB", "threads": 1})
    with pytest.raises(SourceError) as caught:
        FileSheet(FileSource(path=path)).read(con, "sheet")
    assert "does not fit in DuckDB's memory limit" in caught.value.message
    assert "RECONCILE_DUCKDB_MEMORY" in caught.value.hint
