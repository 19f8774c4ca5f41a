"""Property tests of the Google read path: the body filter and the whole read through the emulator."""
from __future__ import annotations

import io
import json

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.rules.model import GoogleSheetsSource
from engine.sources.google_sheets import GoogleSheet
from engine.sources.google_values import BodyCutOff, write_values
from support.google_fixtures import *  # noqa: F401,F403 (fixtures)
from support.sheets_emulator import Sheet, Spreadsheet

# Cells that stress JSON and the body filter: brackets, braces, quotes, escapes, unicode, blanks.
cells = st.one_of(st.just(""), st.sampled_from(['"values": [', "]}]}", "a\\b", "\u3000", "日本", "\n", "x"]),
                  st.text(max_size=6))
value_rows = st.lists(st.lists(cells, max_size=5), max_size=8)


def body(values: list[list[str]] | None) -> bytes:
    vr = {"range": "'S ]}'!A1:E9", "majorDimension": "ROWS"}
    if values is not None:
        vr["values"] = values
    return json.dumps({"spreadsheetId": "k", "valueRanges": [vr]}, ensure_ascii=False).encode()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


@given(values=st.one_of(st.none(), value_rows), cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_write_values_keeps_exactly_the_values_array(values, cuts):
    """For any values array (or none) and any way the body arrives in blocks, the file holds
    exactly that array as JSON ([] when the range is empty)."""
    out = io.BytesIO()
    write_values(split(body(values), cuts), out)
    assert json.loads(out.getvalue()) == (values or [])


@given(values=value_rows.filter(bool), cut=st.integers(1, 10_000))
def test_a_truncated_body_is_never_taken_for_a_whole_one(values, cut):
    """Any proper prefix of a body either raises BodyCutOff or yields bytes that are not the
    complete array: a cut-off response cannot pass as a complete one."""
    data = body(values)
    prefix = data[:cut % len(data)]
    out = io.BytesIO()
    try:
        write_values([prefix], out)
    except BodyCutOff:
        return
    try:
        parsed = json.loads(out.getvalue())
    except ValueError:
        return
    assert parsed != values


sheet_rows = st.lists(st.lists(st.sampled_from(["", "", "a", " b ", "1", "日本", "#N/A", "x,y"]), max_size=4),
                      max_size=12)


@pytest.fixture
def reader(emulator_session, google_env):
    """One source object for all examples, so the token is fetched once."""
    return GoogleSheet(GoogleSheetsSource(spreadsheet="prop-key", chunk_rows=3))


@given(header=st.lists(st.sampled_from(["ID", "Name", "", "メモ"]), min_size=1, max_size=4), rows=sheet_rows)
def test_read_matches_the_sheet_model(emulator_session, reader, header, rows):
    """Through gspread's client, the emulator and DuckDB, in chunks of 3 rows: every non-blank
    row below the header arrives once, at its sheet row number, padded with '' to the widest
    row or header, and nothing else arrives."""
    # A small grid (the default is 1000 rows): a few chunks per example, not hundreds.
    emulator_session.add(Spreadsheet("prop-key", [Sheet("Sheet1", [header, *rows], row_count=len(rows) + 3)]))
    con = duckdb.connect()
    data = reader.read(con, "s")
    got = con.execute("SELECT * FROM s ORDER BY _row").fetchall()
    trimmed = [r[:max((i + 1 for i, c in enumerate(r) if c), default=0)] for r in [header, *rows]]
    width = max(1, *(len(r) for r in trimmed))
    expected = [(n, *r, *[""] * (width - len(r))) for n, r in enumerate(trimmed[1:], start=2) if r]
    assert got == expected
    assert data.headers == tuple(trimmed[0]) + ("",) * (width - len(trimmed[0]))
