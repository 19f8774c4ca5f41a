"""The source interface: how a sheet becomes a DuckDB table.

A source knows how to fetch cells; it never knows how the diff is done.
It writes one DuckDB table and returns a ``SheetData`` describing it:

    <table>(_row INTEGER, c1 VARCHAR, c2 VARCHAR, ..., cN VARCHAR)

- ``_row`` is the row's 1-based number in the sheet (as a user sees it; the header
  row is ``header_row``, data starts below it), so messages can say "row 42".
- ``c1..cN`` hold every data cell as the text a user sees, left to right, one column
  per header cell (N = len(headers)). Cells are never NULL: empty and missing cells
  (short rows, trimmed trailing cells) are ''.
- Rows whose cells are all empty are skipped; rows after the header only.
- Cell error values (``#N/A``, ``#REF!``, ...) stay as their text; the diff marks them invalid.

A read that fails or is incomplete raises ``SourceError``; no partial table is returned.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import duckdb

from ..progress import Progress

CELL_ERRORS = ("#N/A", "#REF!", "#DIV/0!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!", "#ERROR!")


@dataclass(frozen=True)
class SheetData:
    table: str  # the DuckDB table written
    headers: tuple[str, ...]  # header cells as read (not normalised), '' for blank
    header_row: int
    row_count: int  # data rows in the table
    origin: str  # for messages: a file path, or "spreadsheet <key> / worksheet <title>"


class Source(Protocol):
    """Reads one sheet. Implementations: ``engine.sources.file``, ``engine.sources.google_sheets``.

    ``progress`` is set by ``open_source``; a source whose read has counted steps (chunks)
    reports them with ``progress.bar``.
    """

    progress: Progress

    def read_headers(self) -> SheetData:
        """Only the header row (for ``reconcile check``); ``table`` is '' and row_count 0."""
        ...

    def read(self, con: duckdb.DuckDBPyConnection, table: str) -> SheetData:
        """The header and all data rows into ``table`` (created or replaced)."""
        ...


def column_letter(index: int) -> str:
    """Spreadsheet letters of a 1-based column index.

    >>> column_letter(1), column_letter(26), column_letter(27), column_letter(703)
    ('A', 'Z', 'AA', 'AAA')
    """
    letters = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
