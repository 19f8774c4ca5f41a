"""Sheets API value bodies into DuckDB without a Python object per cell.

A single-range ``values:batchGet`` body looks like
``{"spreadsheetId": .., "valueRanges": [{"range": .., "majorDimension": "ROWS", "values": [[..], ..]}]}``.
``ValuesOnly`` writes just the ``values`` array to disk while the body streams in, so that
DuckDB's JSON reader can scan it as a top-level array, one sheet row per element, in
bounded memory (``read_json(format = 'array')``); parsing the whole body as one JSON value
costs about 1.5x the time and memory (measured, see bench/bench_google.py).

The layout check is strict: the ``values`` key is found by its bytes (a ``"`` inside a JSON
string is always escaped, so ``"values":`` cannot occur inside one), and the body must end
right after the array (``]}]}``). A body that ends anywhere else was cut off: ``BodyCutOff``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import BinaryIO, Iterable

import duckdb

_MARK = re.compile(rb'"values"\s*:\s*')
_TRAILER = re.compile(rb"(.*\])\s*\}\s*\]\s*\}\s*", re.S)
_HOLD = 64  # bytes held back so that the trailer can be cut off at the end
_HEAD_LIMIT = 1 << 16  # the values key comes within the first few hundred bytes


class BodyCutOff(Exception):
    """The response body does not end as a complete batchGet body (the connection dropped)."""


def write_values(blocks: Iterable[bytes], out: BinaryIO) -> None:
    """Copy the ``values`` array of a one-range batchGet body from ``blocks`` to ``out``.

    An empty range (no ``values`` key) is written as ``[]``.

    >>> import io
    >>> out = io.BytesIO()
    >>> write_values([b'{"spreadsheetId": "k", "valueRanges": [{"range": "S!A1:B2", ',
    ...               b'"majorDimension": "ROWS", "values": [["a", "}]}"], []]}]}\\n'], out)
    >>> out.getvalue()
    b'[["a", "}]}"], []]'
    """
    head = b""
    tail = b""
    started = False
    for block in blocks:
        if not started:
            head += block
            found = _MARK.search(head)
            if found is None:
                if len(head) > _HEAD_LIMIT:
                    raise BodyCutOff("no values array in the first 64 KiB of the response")
                continue
            started, block, head = True, head[found.end():], b""
        data = tail + block
        out.write(data[:-_HOLD])
        tail = data[-_HOLD:]
    if not started:
        _check_empty(head)
        out.write(b"[]")
        return
    found = _TRAILER.fullmatch(tail)
    if found is None:
        raise BodyCutOff("the response ended inside the values array")
    out.write(found.group(1))


def _check_empty(body: bytes) -> None:
    try:
        ranges = json.loads(body)["valueRanges"]
    except (ValueError, KeyError, TypeError) as err:
        raise BodyCutOff(f"not a complete batchGet response ({type(err).__name__})") from err
    if len(ranges) != 1:
        raise BodyCutOff(f"expected one value range, got {len(ranges)}")


_SCAN = "read_json(?, format = 'array', records = false, columns = {'r': 'VARCHAR[]'})"


def load_rows(con: duckdb.DuckDBPyConnection, table: str, files: list[tuple[int, Path]], header_row: int
              ) -> tuple[list[str] | None, int]:
    """``table(_row, c1..cN)`` from value files, each given with the sheet row of its first element;
    returns (header cells, N).

    The header is the first row of the first file; N is the widest row (header included).
    Cells are never NULL; rows whose cells are all '' are left out. Row numbers come from each
    file's own order (``row_number() OVER ()`` on one scan, insertion order preserved).
    """
    paths = [str(path) for _, path in files]
    header = con.execute(f"SELECT r FROM {_SCAN} LIMIT 1", [paths[0]]).fetchone()
    width = con.execute(f"SELECT coalesce(max(len(r)), 0) FROM {_SCAN}", [paths]).fetchone()[0]
    header_cells = list(header[0]) if header and header[0] else None
    n = max(len(header_cells or ()), width, 1)
    cells = ", ".join(f"coalesce(r[{i}], '') AS c{i}" for i in range(1, n + 1))
    scans = " UNION ALL ".join(f"SELECT ? + row_number() OVER () - 1 AS _row, r FROM {_SCAN}" for _ in files)
    params: list[object] = [x for first, path in files for x in (first, str(path))]
    previous = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = true")  # row_number() must follow each file's order
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {_ident(table)} AS SELECT CAST(_row AS INTEGER) AS _row, {cells} "
            f"FROM ({scans}) WHERE _row > ? AND coalesce(array_to_string(r, ''), '') <> ''",
            [*params, header_row])
    finally:
        con.execute(f"SET preserve_insertion_order = {str(previous).lower()}")
    return header_cells, n


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
