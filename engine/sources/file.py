"""The file source (``type: file``): CSV, TSV and XLSX exports into DuckDB.

CSV and TSV are parsed by DuckDB's ``read_csv`` (a million rows in a couple of seconds);
Python only touches the bytes when DuckDB cannot: a non-UTF-8 encoding (streamed to a
UTF-8 temp file) or blank lines, which DuckDB's reader drops and which would shift every
row number after them (then the file is rewritten once with each blank line as ``""``).
XLSX is read by openpyxl in read-only mode; each cell is rendered as Excel shows it
(``cell_text``) and streamed to a temp CSV that DuckDB loads.

Width: N = the last column that has a non-empty header cell or any non-empty data cell.
Data beyond the last named header is kept in columns whose header is '' (no rule can read
them, but nothing is silently cut off, and ``check`` lists no problem for them).
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb

from ..errors import Location, SourceError
from ..rules.model import ENCODING_HINT, FileSource, encoding_problem
from . import register
from .base import SheetData

CHUNK = 1 << 20  # bytes per read when scanning or transcoding
# Rows whose width is counted (in Python) before the load. A wider row later makes DuckDB's
# load fail, and the whole file is counted then; so the sample only needs the header's area.
SAMPLE_ROWS = 1_000
_NATIVE = {"utf-8", "utf-8-sig"}  # codecs DuckDB reads without help (the BOM is skipped)
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx"}
# Files we write end lines with CRLF: csv then quotes every cell holding a lone \r or \n.
LINE_END = "\r\n"
QUOTE_HINT = 'a cell that starts with " must end with " (write "" for a quote inside a cell)'
_LINE = re.compile(r"CSV Error on Line: (\d+)")
# One regex pass finds both line ends around a blank line; two `in` tests cost 4.5x as much.
_BLANK_LINE = re.compile(rb"\n\r?\n")


@register("file")
class FileSheet:
    """A CSV, TSV or XLSX export, read as the text a user sees (see ``engine.sources.base``)."""

    def __init__(self, rule: FileSource) -> None:
        self.rule = rule
        self.path = Path(rule.path)
        self.format = rule.format or _format_of(self.path)

    @property
    def origin(self) -> str:
        return str(self.path)

    def read_headers(self) -> SheetData:
        """Only the header row (rows above it are read and ignored; nothing below)."""
        self._check_readable()
        if self.format == "xlsx":
            cells = self._xlsx_header()
        else:
            cells = self._csv_header()
        return SheetData("", _trim(cells), self.rule.header_row, 0, self.origin)

    def read(self, con: duckdb.DuckDBPyConnection, table: str) -> SheetData:
        """Header and data rows into ``table(_row INTEGER, c1..cN VARCHAR)``."""
        self._check_readable()
        with tempfile.TemporaryDirectory(prefix="reconcile-file-") as tmp:
            if self.format == "xlsx":
                csv_path = self._xlsx_to_csv(Path(tmp) / "sheet.csv")
                dialect = {"delim": ",", "quote": '"', "escape": '"'}
            else:
                csv_path = self._prepared_csv(Path(tmp))
                dialect = self._dialect()
            return self._load(con, table, csv_path, dialect)

    # -- CSV / TSV ---------------------------------------------------------------------

    def _dialect(self) -> dict[str, str]:
        delimiter = self.rule.delimiter or _DELIMITERS[self.format]
        return {"delim": delimiter, "quote": '"', "escape": '"'}

    def _codec(self) -> str:
        problem = encoding_problem(self.rule.encoding)
        if problem:
            raise SourceError(f"{problem} for {self.path}", location=_mark_location(self.rule), hint=ENCODING_HINT)
        return codecs.lookup(self.rule.encoding).name

    def _csv_header(self) -> list[str]:
        codec = "utf-8-sig" if self._codec() in _NATIVE else self._codec()
        with self._text(codec) as fh:
            reader = csv.reader(fh, delimiter=self._dialect()["delim"], quotechar='"')
            rows = 0
            for rows, row in enumerate(reader, start=1):
                if rows == self.rule.header_row:
                    return row
        raise self._no_header(rows)

    def _prepared_csv(self, tmp: Path) -> Path:
        """A UTF-8 file DuckDB reads with every row and row number intact: the file itself when possible."""
        codec = self._codec()
        utf8 = self.path if codec in _NATIVE else self._transcode(codec, tmp / "utf8.csv")
        blank_lines, odd_quotes = _scan_bytes(utf8)
        if blank_lines or odd_quotes:
            return self._rewrite(utf8, tmp / "sheet.csv")
        return utf8

    def _transcode(self, codec: str, out: Path) -> Path:
        """Stream the file to UTF-8 (same lines), naming the line of the first undecodable byte."""
        decoder = codecs.getincrementaldecoder(codec)()
        line = 1
        with open(self.path, "rb") as src, open(out, "w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(CHUNK):
                try:
                    text = decoder.decode(chunk)
                except UnicodeError as err:  # UTF-16 without a BOM is a UnicodeError, not a decode error
                    start = getattr(err, "start", 0)
                    good = chunk[:start].decode(codec, errors="ignore")
                    raise self._decode_error(codec, line + good.count("\n"), err) from err
                line += text.count("\n")
                dst.write(text)
            try:
                dst.write(decoder.decode(b"", final=True))
            except UnicodeError as err:  # the file ends inside a character: a truncated export
                raise self._decode_error(codec, line, err) from err
        return out

    def _rewrite(self, utf8: Path, out: Path) -> Path:
        """Rewrite through Python's strict csv parser, for the two things DuckDB gets wrong.

        A blank line, which DuckDB drops (shifting every row number after it), becomes ``""``.
        A quote that is never closed, which DuckDB's serial reader silently cuts off with the
        rest of the file, is refused with the line where the record starts.
        """
        delimiter = self._dialect()["delim"]
        with open(utf8, encoding="utf-8-sig", newline="") as src, \
                open(out, "w", encoding="utf-8", newline="") as dst:
            writer = csv.writer(dst, delimiter=delimiter, quotechar='"', lineterminator=LINE_END)
            reader = csv.reader(src, delimiter=delimiter, quotechar='"', strict=True)
            line = 1
            try:
                for row in reader:
                    writer.writerow(row or [""])
                    line = reader.line_num + 1
            except UnicodeError as err:
                raise self._decode_error("utf-8", line, err) from err
            except csv.Error as err:
                raise SourceError(f"cannot parse {self.path}: the record at line {line}: {err}",
                                  location=Location(str(self.path), line), hint=QUOTE_HINT) from err
        return out

    @contextmanager
    def _text(self, codec: str) -> Iterator[Any]:
        try:
            with open(self.path, encoding=codec, newline="") as fh:
                yield fh
        except UnicodeError as err:
            raise self._decode_error(codec, None, err) from err

    # -- XLSX ----------------------------------------------------------------------------

    @contextmanager
    def _worksheet(self) -> Iterator[Any]:
        import openpyxl  # imported here so that `reconcile validate` never loads it
        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as err:  # openpyxl raises zipfile, KeyError and its own errors alike
            raise SourceError(f"cannot open {self.path} as an XLSX workbook: {err}",
                              location=_mark_location(self.rule)) from err
        try:
            title = self.rule.worksheet
            if title is not None and title not in book.sheetnames:
                raise SourceError(f"worksheet {title!r} not found in {self.path}",
                                  location=_mark_location(self.rule),
                                  hint=f"worksheets: {', '.join(map(repr, book.sheetnames))}",
                                  details={"worksheets": list(book.sheetnames)})
            sheet = book[title] if title is not None else next(iter(book.worksheets), None)
            if sheet is None or not hasattr(sheet, "iter_rows"):  # only charts, or the one named is a chart
                raise SourceError(f"{self.path} has no worksheet of cells" + (f" named {title!r}" if title else ""),
                                  location=_mark_location(self.rule),
                                  hint="a chart sheet holds no cells; export the worksheet that holds the data")
            yield sheet
        finally:
            book.close()

    def _xlsx_rows(self, sheet: Any) -> Iterator[list[str]]:
        """Every row from row 1 as display text; rows the file leaves out come back empty."""
        expected = 1
        for cells in sheet.iter_rows():
            number = next((c.row for c in cells if getattr(c, "row", None)), expected)
            for _ in range(expected, number):
                yield []
            yield [cell_text(c.value, getattr(c, "number_format", "General")) for c in cells]
            expected = number + 1

    def _xlsx_header(self) -> list[str]:
        with self._worksheet() as sheet:
            rows = 0
            for rows, row in enumerate(self._xlsx_rows(sheet), start=1):
                if rows == self.rule.header_row:
                    return row
            raise self._no_header(rows)

    def _xlsx_to_csv(self, out: Path) -> Path:
        with self._worksheet() as sheet, open(out, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator=LINE_END)
            # A blank row is written as "" so the loader keeps it and row numbers stay true.
            writer.writerows(row if any(row) else [""] for row in self._xlsx_rows(sheet))
        return out

    # -- loading into DuckDB -----------------------------------------------------------

    def _load(self, con: duckdb.DuckDBPyConnection, table: str, csv_path: Path,
              dialect: dict[str, str]) -> SheetData:
        if csv_path.stat().st_size == 0:
            raise self._no_header(0)
        width, header = self._sniff(csv_path, dialect)  # UTF-8 by now
        try:
            _create_table(con, table, csv_path, dialect, width, self.rule.header_row)
        except duckdb.Error as err:
            if "Expected Number of Columns" not in str(err):
                raise self._duckdb_error(err) from err
            width, header = self._sniff(csv_path, dialect, whole_file=True)  # a wide row after the sample
            try:
                _create_table(con, table, csv_path, dialect, width, self.rule.header_row)
            except duckdb.Error as err2:
                raise self._duckdb_error(err2) from err2
        headers = _trim(header)
        n = max(len(headers), _last_used_column(con, table, len(headers) + 1, width), 1)
        _drop_columns(con, table, range(n + 1, width + 1))
        headers = tuple(headers) + ("",) * (n - len(headers))
        rows = con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()[0]
        return SheetData(table, headers, self.rule.header_row, rows, self.origin)

    def _sniff(self, csv_path: Path, dialect: dict[str, str], whole_file: bool = False) -> tuple[int, list[str]]:
        """The widest row among the first ``SAMPLE_ROWS`` (or all) rows of the prepared file,
        and the header row's cells.

        DuckDB's sniffer refuses files whose rows differ in width (titles above the header,
        short rows), so the width is counted here and then given to DuckDB explicitly. The
        header is taken on the way (a query of its own cost DuckDB a buffer's parse).
        """
        width, header, number = 1, None, 0
        # Undecodable bytes are replaced here: DuckDB reports them with their line during the load.
        with open(csv_path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            reader = csv.reader(fh, delimiter=dialect["delim"], quotechar=dialect["quote"])
            for number, row in enumerate(reader, start=1):
                width = max(width, len(row))
                if number == self.rule.header_row:
                    header = row
                if number >= max(SAMPLE_ROWS, self.rule.header_row) and not whole_file:
                    break
        if header is None:
            raise self._no_header(number)
        return width, header

    # -- errors ------------------------------------------------------------------------

    def _check_readable(self) -> None:
        if not self.path.exists():
            raise SourceError(f"sheet file not found: {self.path}", location=_mark_location(self.rule),
                              hint="source.path is resolved against the rule file's folder")
        if not self.path.is_file():  # a folder, /dev/null, a pipe: nothing an export is
            kind = "a folder" if self.path.is_dir() else "not a regular file"
            raise SourceError(f"sheet file {self.path} is {kind}", location=_mark_location(self.rule),
                              hint="source.path must name the exported CSV, TSV or XLSX file")
        try:
            with open(self.path, "rb") as fh:
                fh.read(1)
        except OSError as err:
            raise SourceError(f"cannot read sheet file {self.path}: {err.strerror}",
                              location=_mark_location(self.rule)) from err

    def _no_header(self, rows: int) -> SourceError:
        return SourceError(f"{self.path} has {rows} row(s); the header row {self.rule.header_row} "
                           "is not there",
                           location=_mark_location(self.rule), hint="check source.header_row")

    def _decode_error(self, codec: str, line: int | None, err: UnicodeError) -> SourceError:
        where = f" at line {line}" if line else ""
        return SourceError(f"{self.path} is not valid {codec}{where}: {getattr(err, 'reason', None) or err}",
                           location=Location(str(self.path), line),
                           hint="set source.encoding in the rule file (cp932 for Shift_JIS exports)")

    def _duckdb_error(self, err: duckdb.Error) -> SourceError:
        if isinstance(err, duckdb.OutOfMemoryException):
            return SourceError(f"cannot load {self.path}: it does not fit in DuckDB's memory limit "
                               f"({str(err).strip().splitlines()[0].removeprefix('Out of Memory Error: ')})",
                               location=Location(str(self.path)),
                               hint="a sheet thousands of columns wide needs more: raise RECONCILE_DUCKDB_MEMORY "
                                    "(e.g. 4GB), or export only the columns the rule file reads")
        found = _LINE.search(str(err))
        line = int(found.group(1)) if found else None
        first = str(err).strip().splitlines()
        # A CSV error says where on its first line and why on the next; DuckDB's advice follows.
        reason = next((ln for ln in first[1:] if ln and not ln.startswith(("Original Line", "Possible", "*"))),
                      first[0])
        if "unicode" in str(err).lower():
            reason = f"not valid {self.rule.encoding}"
        where = f" at line {line}" if line else ""
        return SourceError(f"cannot parse {self.path}{where}: {reason}",
                           location=Location(str(self.path), line),
                           hint="set source.encoding in the rule file (cp932 for Shift_JIS exports)"
                           if "unicode" in str(err).lower() else None)


def _format_of(path: Path) -> str:
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise SourceError(f"cannot tell the format of {path} from its suffix",
                          hint="set source.format to csv, tsv or xlsx") from None


def _mark_location(rule: FileSource) -> Location | None:
    return Location(rule.mark.path, rule.mark.line, rule.mark.column) if rule.mark else None


def _trim(cells: Sequence[Any]) -> tuple[str, ...]:
    """Header cells as text, trailing blank cells dropped."""
    texts = ["" if c is None else str(c) for c in cells]
    while texts and texts[-1] == "":
        texts.pop()
    return tuple(texts)


def _scan_bytes(path: Path) -> tuple[bool, bool]:
    """(the file holds an empty line, its count of '"' is odd), in one streaming pass.

    An odd quote count means an unclosed quote somewhere, or a stray quote inside an
    unquoted cell (harmless); either way the careful parser looks at the file.
    """
    tail, blank, quotes = b"\n", False, 0  # a file starting with a newline starts with a blank line
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            window = tail + chunk
            blank = blank or _BLANK_LINE.search(window) is not None
            if b'"' in chunk:  # a search stops at the first; counting reads every byte (0.09 s at 300 MB)
                quotes += chunk.count(b'"')
            tail = window[-2:]
    return blank, quotes % 2 == 1


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _options(dialect: dict[str, str]) -> str:
    # Every dialect choice is explicit: a sniffed comment character or skip count would
    # silently drop rows; quoted newlines with short rows need the serial reader.
    return ", ".join([
        "header = false", "skip = 0", "comment = ''", "null_padding = true", "parallel = false",
        *(f"{k} = {_literal(v)}" for k, v in dialect.items()),
    ])


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _scan(dialect: dict[str, str], width: int) -> str:
    names = [f"c{i}" for i in range(1, width + 1)]
    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in names) + "}"
    # force_not_null: an empty cell, quoted or not, and a short row's padding are '', never
    # NULL (a coalesce of every cell cost 0.1-0.2 s of CPU at 1M rows x 31 columns).
    not_null = "[" + ", ".join(f"'{name}'" for name in names) + "]"
    return (f"read_csv(?, auto_detect = false, strict_mode = true, columns = {columns}, force_not_null = {not_null}, "
            f"{_options(dialect)})")


def _create_table(con: duckdb.DuckDBPyConnection, table: str, csv_path: Path, dialect: dict[str, str],
                  width: int, header_row: int) -> None:
    """Load the data rows after the header: cells never NULL, fully blank rows skipped."""
    cells = ", ".join(f"c{i}" for i in range(1, width + 1))
    blank = " AND ".join(f"c{i} = ''" for i in range(1, width + 1))
    previous = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    # row_number() must follow the file's order; with insertion order kept, the table is also
    # stored in that order, so no ORDER BY (a sort of every cell: half the load at 1M rows).
    con.execute("SET preserve_insertion_order = true")
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {_ident(table)} AS SELECT _row, {cells} FROM ("
            f"SELECT CAST(row_number() OVER () AS INTEGER) AS _row, * FROM {_scan(dialect, width)}) "
            f"WHERE _row > ? AND NOT ({blank})",
            [str(csv_path), header_row])
    finally:
        con.execute(f"SET preserve_insertion_order = {str(previous).lower()}")


def _last_used_column(con: duckdb.DuckDBPyConnection, table: str, first: int, last: int) -> int:
    """The last column in first..last holding a non-empty cell, else 0 (one scan, only when needed)."""
    if first > last:
        return 0
    used = " ".join(f"WHEN bool_or(c{i} <> '') THEN {i}" for i in range(last, first - 1, -1))
    return con.execute(f"SELECT CASE {used} ELSE 0 END FROM {_ident(table)}").fetchone()[0] or 0


def _drop_columns(con: duckdb.DuckDBPyConnection, table: str, indexes: range) -> None:
    for i in indexes:
        con.execute(f"ALTER TABLE {_ident(table)} DROP COLUMN c{i}")


# -- what Excel shows for a cell -------------------------------------------------------

_DATE_TOKEN = re.compile(r'"[^"]*"|\\.|yyyy|yy|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|ss|s|AM/PM|am/pm|A/P|.', re.I)
_BRACKETS = re.compile(r"\[(?!h\]|hh\]|m\]|mm\]|s\]|ss\])[^\]]*\]", re.I)  # colours, locales; not [h]
_NUMBER = re.compile(r"[#0?][#0?,]*(?:\.[0#?]+)?")
_DATE_PARTS = ("h", "hh", "yyyy", "yy", "d", "dd", "mm", "m", "s", "ss")
ISO_FOR_LOCALE_DATE = {"mm-dd-yy": "yyyy-mm-dd"}  # built-in 14: Excel shows the locale's short date


def cell_text(value: Any, number_format: str | None = "General") -> str:
    """The text Excel shows for a cell value (as openpyxl gives it) and its number format.

    >>> cell_text(42.0), cell_text(0.1 + 0.2), cell_text(True), cell_text(None)
    ('42', '0.3', 'TRUE', '')
    >>> cell_text(1234.5, "#,##0.00"), cell_text(0.125, "0.0%"), cell_text(7, "0.00")
    ('1,234.50', '12.5%', '7.00')
    >>> cell_text(dt.datetime(2024, 3, 9), "yyyy/mm/dd"), cell_text(dt.datetime(2024, 3, 9), "mm-dd-yy")
    ('2024/03/09', '2024-03-09')
    >>> cell_text(dt.datetime(2024, 3, 9, 14, 5), "yyyy-mm-dd hh:mm")
    '2024-03-09 14:05'
    """
    fmt = _section(number_format or "General")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return _date_text(value, fmt)
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if isinstance(value, (int, float)):
        return _number_text(value, fmt)
    return str(value)


def _section(fmt: str) -> str:
    """The positive section of a number format, without colours and locale tags."""
    return _BRACKETS.sub("", fmt.split(";")[0]).strip()


def _general(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = format(value, ".15g")
    return text if "e" not in text else repr(value)


def _number_text(value: float, fmt: str) -> str:
    found = _NUMBER.search(fmt)
    if fmt.lower() == "general" or found is None or "e+" in fmt.lower() or "/" in fmt:
        return _general(value)
    percent = "%" in fmt
    shown = value * 100 if percent else value
    decimals = len(found.group().partition(".")[2])
    grouping = "," if "," in found.group().rstrip(",") else ""
    body = format(abs(shown), f"{grouping}.{decimals}f")
    prefix, suffix = _literal_text(fmt[:found.start()]), _literal_text(fmt[found.end():])
    sign = "-" if shown < 0 and float(body.replace(",", "")) != 0 else ""
    return f"{sign}{prefix}{body}{suffix}"


def _literal_text(part: str) -> str:
    """Literal text around a number: quotes and escapes removed, padding marks dropped."""
    part = re.sub(r"[_*].", "", part)
    return re.sub(r'"([^"]*)"|\\(.)', lambda m: m.group(1) or m.group(2) or "", part)


def _date_text(value: dt.date | dt.time, fmt: str) -> str:
    fmt = ISO_FOR_LOCALE_DATE.get(fmt.lower(), fmt)
    if fmt.lower() == "general" or not re.search(r"[ymdhs]", fmt, re.I):
        fmt = "yyyy-mm-dd hh:mm:ss" if isinstance(value, dt.datetime) and value.time() != dt.time() \
            else ("hh:mm:ss" if isinstance(value, dt.time) else "yyyy-mm-dd")
    tokens = _DATE_TOKEN.findall(fmt)
    twelve = any(t.lower() in ("am/pm", "a/p") for t in tokens)
    out = []
    for i, token in enumerate(tokens):
        out.append(_date_token(value, token, tokens, i, twelve))
    return "".join(out)


def _date_token(value: Any, token: str, tokens: list[str], i: int, twelve: bool) -> str:
    low = token.lower()
    if low.startswith('"'):
        return token[1:-1]
    if low.startswith("\\"):
        return token[1:]
    if low in ("m", "mm") and _is_minute(tokens, i):
        return f"{getattr(value, 'minute', 0):0{len(low)}d}"
    hour = getattr(value, "hour", 0)
    shown_hour = (hour % 12 or 12) if twelve else hour
    parts = {
        "yyyy": lambda: f"{value.year:04d}", "yy": lambda: f"{value.year % 100:02d}",
        "mmmm": lambda: value.strftime("%B"), "mmm": lambda: value.strftime("%b"),
        "mm": lambda: f"{value.month:02d}", "m": lambda: str(value.month),
        "dddd": lambda: value.strftime("%A"), "ddd": lambda: value.strftime("%a"),
        "dd": lambda: f"{value.day:02d}", "d": lambda: str(value.day),
        "hh": lambda: f"{shown_hour:02d}", "h": lambda: str(shown_hour),
        "ss": lambda: f"{getattr(value, 'second', 0):02d}", "s": lambda: str(getattr(value, "second", 0)),
        "am/pm": lambda: "AM" if hour < 12 else "PM", "a/p": lambda: "A" if hour < 12 else "P",
    }
    return parts[low]() if low in parts else token


def _is_minute(tokens: list[str], i: int) -> bool:
    """Excel reads m/mm as minutes right after an hour or right before seconds."""
    before = [t.lower() for t in tokens[:i] if t.lower() in _DATE_PARTS]
    after = [t.lower() for t in tokens[i + 1:] if t.lower() in _DATE_PARTS]
    return bool(before and before[-1] in ("h", "hh")) or bool(after and after[0] in ("s", "ss"))
