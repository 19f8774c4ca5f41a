"""Sheet fixtures for tests: CSV/TSV files written byte for byte, XLSX through openpyxl, rule sets."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import duckdb

from engine.rules.model import FieldRule, FileSource, KeyRule, RuleSet, Target
from engine.sources.file import FileSheet


def write_text(path: Path, text: str, *, encoding: str = "utf-8", bom: bool = False) -> Path:
    """Write ``text`` exactly (no newline translation), optionally with a UTF-8 BOM."""
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]], *, title: str = "Sheet1",
               others: Sequence[str] = ()) -> Path:
    """An XLSX with one sheet of ``rows``; a cell may be ``(value, number_format)``.

    ``None`` rows are left out of the file entirely (as Excel does for empty rows).
    """
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for r, row in enumerate(rows, start=1):
        for c, cell in enumerate(row or (), start=1):
            value, fmt = cell if isinstance(cell, tuple) else (cell, None)
            if value is None:
                continue
            target = sheet.cell(row=r, column=c, value=value)
            if fmt:
                target.number_format = fmt
    for name in others:
        book.create_sheet(name)
    book.save(path)
    return path


def load(path: Path, **source: Any) -> tuple[tuple[str, ...], list[tuple]]:
    """Read a file source into a fresh DuckDB; (headers, rows ordered by _row)."""
    con = duckdb.connect()
    data = FileSheet(FileSource(path=path, **source)).read(con, "sheet")
    rows = con.execute("SELECT * FROM sheet ORDER BY _row").fetchall()
    con.close()
    return data.headers, rows


def ruleset(path: Path, key: tuple[str, str] = ("id", "ID"), fields: dict[str, str] | None = None,
            *, table: str = "buyers", dsn: str | None = None, header_row: int = 1) -> RuleSet:
    """A RuleSet over a file source: ``key`` is (table column, sheet header); fields map column -> header."""
    fields = fields if fields is not None else {"name": "Name"}
    return RuleSet(
        version=1, name="test", source=FileSource(path=path, header_row=header_row),
        target=Target(dsn=dsn, schema="public", table=table),
        key=KeyRule(field=key[0], column=key[1]),
        fields=tuple(FieldRule(name=n, column=c) for n, c in fields.items()),
    )


def write_rules(path: Path, sheet: Path, *, key: tuple[str, str] = ("id", "ID"),
                fields: dict[str, str] | None = None, table: str = "buyers", header_row: int = 1) -> Path:
    """A minimal YAML rule file over a file source (no DSN: tests pass --dsn)."""
    import json

    fields = fields if fields is not None else {"name": "Name"}
    lines = ["version: 1", "name: check_test", "source:", "  type: file", f"  path: {json.dumps(str(sheet))}",
             f"  header_row: {header_row}", "target:", f"  table: {table}", "key:", f"  field: {key[0]}",
             f"  column: {json.dumps(key[1], ensure_ascii=False)}", "fields:"]
    for name, column in fields.items():
        lines += [f"  {name}:", f"    column: {json.dumps(column, ensure_ascii=False)}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
