"""The Google Sheets source (``type: google_sheets``), through gspread and google-auth.

One metadata request finds the worksheet and its grid size; then the header row and the
data come in ``values:batchGet`` requests of at most ``chunk_rows`` rows each. Response
bodies are streamed to temporary files (only their ``values`` arrays) and parsed by DuckDB's
JSON reader (``engine.sources.google_values``), so no Python object is ever built per cell:
a 100,000 x 30 sheet parses in a fraction of a second (``bench/bench_google.py``).

Every download finishes before the table is created: a failed or incomplete read raises
``SourceError`` and leaves no table behind. 429, 5xx and connection errors are retried
(``engine.sources.google_retry``); 403, 404 and token failures are reported at once.

Testing knob: ``RECONCILE_SHEETS_API_URL`` (e.g. ``http://127.0.0.1:8765``) sends the Sheets
API calls to another server, the emulator in ``tests/support/sheets_emulator.py``. The
token endpoint comes from the key file's ``token_uri``.
"""
from __future__ import annotations

import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import duckdb
import requests

from ..errors import ConfigurationError, Location, SourceError, TransientSourceError
from ..progress import SILENT, Progress
from ..redact import redact
from ..rules.model import GoogleSheetsSource
from . import register
from .base import SheetData
from .google_http import API_URL_ENV, SCOPES, SHEETS_API, api_base, credentials, sheets_client_class
from .google_retry import RetryPolicy
from .google_values import load_rows

__all__ = ["API_URL_ENV", "GoogleSheet", "RETRY", "SCOPES", "Worksheet", "a1_rows", "api_base", "credentials",
           "parse_spreadsheet", "pick_worksheet", "sheets_client_class"]

RETRY = RetryPolicy()  # module-level so tests can swap in a fake clock and sleep

_KEY_IN_URL = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_GID_IN_URL = re.compile(r"[#?&]gid=(\d+)")
_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Worksheet:
    """One tab of the spreadsheet as the metadata describes it."""

    title: str
    gid: int
    rows: int  # grid rows (not the data's extent)
    columns: int


def parse_spreadsheet(ref: str) -> tuple[str, int | None]:
    """The key, and the ``gid`` when ``ref`` is a URL that names one.

    >>> parse_spreadsheet("https://docs.google.com/spreadsheets/d/1AbC-x_9/edit#gid=42")
    ('1AbC-x_9', 42)
    >>> parse_spreadsheet(" 1AbC-x_9 ")
    ('1AbC-x_9', None)
    """
    ref = ref.strip()
    found = _KEY_IN_URL.search(ref)
    if found:
        gid = _GID_IN_URL.search(ref)
        return found.group(1), int(gid.group(1)) if gid else None
    if not _KEY.match(ref):
        raise ConfigurationError(f"source.spreadsheet {ref!r} is neither a spreadsheet key nor a "
                                 "Google Sheets URL",
                                 hint="copy the URL from the browser, or the key between /d/ and /edit")
    return ref, None


def a1_rows(title: str, first: int, last: int) -> str:
    """An A1 range of whole rows, the title quoted as gspread does.

    >>> a1_rows("Bob's list", 1, 50000)
    "'Bob''s list'!1:50000"
    """
    return "'" + title.replace("'", "''") + f"'!{first}:{last}"


@register("google_sheets")
class GoogleSheet:
    """A worksheet of a Google Sheet, read as the text a user sees (see ``engine.sources.base``)."""

    progress: Progress = SILENT  # open_source sets the caller's; chunked reads show a bar

    def __init__(self, rule: GoogleSheetsSource, *, retry: RetryPolicy | None = None) -> None:
        self.rule = rule
        self.key, self.url_gid = parse_spreadsheet(rule.spreadsheet)
        self.retry = retry
        self._client: Any = None  # sheets_client_class() instance, made on first request
        self._account = "the service account"

    # -- the Source interface ----------------------------------------------------------

    def read_headers(self) -> SheetData:
        """Only the header row: one metadata and one values request."""
        with self._errors():
            sheet = self._worksheet()
            rng = a1_rows(sheet.title, self.rule.header_row, self.rule.header_row)
            body = self._http().get_json(self._values_url(), {**self._render(), "ranges": [rng]})
        rows = (body.get("valueRanges") or [{}])[0].get("values") or [[]]
        return SheetData("", _trim(rows[0]), self.rule.header_row, 0, self._origin(sheet))

    def read(self, con: duckdb.DuckDBPyConnection, table: str) -> SheetData:
        """The header and all data rows into ``table(_row INTEGER, c1..cN VARCHAR)``."""
        with self._errors(), tempfile.TemporaryDirectory(prefix="reconcile-gsheet-") as tmp:
            sheet = self._worksheet()
            files = self._download(sheet, Path(tmp))
            return self._load(con, table, sheet, files)

    # -- requests ----------------------------------------------------------------------

    def _http(self) -> Any:
        if self._client is None:
            creds, self._account = credentials(self.rule)
            self._client = sheets_client_class()(creds, retry=self.retry or RETRY)
        return self._client

    def _worksheet(self) -> Worksheet:
        meta = self._http().fetch_sheet_metadata(self.key)
        sheets = [_worksheet_of(s.get("properties", {})) for s in meta.get("sheets", [])]
        return pick_worksheet(sheets, self.rule, self.url_gid, self.key)

    def _values_url(self) -> str:
        return f"{SHEETS_API}/v4/spreadsheets/{self.key}/values:batchGet"

    def _render(self) -> dict[str, str]:
        params = {"valueRenderOption": self.rule.value_render, "majorDimension": "ROWS"}
        if self.rule.value_render == "UNFORMATTED_VALUE":
            params["dateTimeRenderOption"] = "SERIAL_NUMBER"
        return params

    def _download(self, sheet: Worksheet, folder: Path) -> list[tuple[int, Path]]:
        """Every chunk of rows from the header down, each chunk's ``values`` array to a file of its
        own; (first sheet row, file) per chunk."""
        if sheet.rows < self.rule.header_row:
            raise self._no_header(sheet, sheet.rows)
        files = []
        step = max(1, self.rule.chunk_rows)
        # chunk_rows counts data rows: the header rides along with the first chunk.
        for start in range(self.rule.header_row + 1, max(sheet.rows, self.rule.header_row + 1) + 1, step):
            first = self.rule.header_row if start == self.rule.header_row + 1 else start
            last = min(sheet.rows, start + step - 1)
            path = folder / f"rows_{first}.json"
            params = {**self._render(), "ranges": [a1_rows(sheet.title, first, last)]}
            self._http().download(self._values_url(), params, path)
            files.append((first, path))
            self.progress.bar("rows read", min(last, sheet.rows), sheet.rows)
        return files

    # -- DuckDB ------------------------------------------------------------------------

    def _load(self, con: duckdb.DuckDBPyConnection, table: str, sheet: Worksheet,
              files: list[tuple[int, Path]]) -> SheetData:
        try:
            header, n = load_rows(con, table, files, self.rule.header_row)
        except duckdb.Error as err:
            raise SourceError(f"cannot parse the Sheets API response for {self._origin(sheet)}: "
                              f"{str(err).splitlines()[0]}", location=self._location()) from err
        rows = con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()[0]
        headers = _trim(header or [])
        headers = headers + ("",) * (n - len(headers))
        return SheetData(table, headers, self.rule.header_row, rows, self._origin(sheet))

    # -- errors ------------------------------------------------------------------------

    def _origin(self, sheet: Worksheet) -> str:
        return f"spreadsheet {self.key} / worksheet {sheet.title}"

    def _location(self) -> Location | None:
        mark = self.rule.mark
        return Location(mark.path, mark.line, mark.column) if mark else None

    def _no_header(self, sheet: Worksheet, rows: int) -> SourceError:
        return SourceError(f"worksheet {sheet.title!r} has {rows} row(s); the header row "
                           f"{self.rule.header_row} is not there", location=self._location(),
                           hint="check source.header_row")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn gspread, google-auth and requests failures into reconcile errors."""
        from google.auth.exceptions import GoogleAuthError
        from gspread.exceptions import APIError

        try:
            yield
        except (SourceError, ConfigurationError):
            raise
        except APIError as err:
            raise self._api_error(err) from err
        except GoogleAuthError as err:
            raise SourceError(f"could not get an access token for {self._account}: "
                              f"{redact(str(err))}", location=self._location(),
                              hint="check the key file (it may be revoked or deleted) and the clock; "
                                   "see docs/google-sheets.md") from err
        except requests.RequestException as err:
            raise TransientSourceError(f"reading spreadsheet {self.key} failed: {redact(str(err))}",
                                       location=self._location()) from err

    def _api_error(self, err: Any) -> SourceError:
        status = getattr(err, "code", None)
        text = redact(str(getattr(err, "error", {}).get("message", err)))
        where = self._location()
        if status == 403:
            return SourceError(
                f"spreadsheet {self.key} is not shared with the service account {self._account} "
                f"(403: {text})", location=where,
                hint=f"open the sheet, click Share and add {self._account} as a Viewer",
                details={"status": 403, "account": self._account})
        if status == 404:
            return SourceError(f"spreadsheet {self.key!r} not found (404): the key is wrong or the "
                               "sheet was deleted", location=where,
                               hint="source.spreadsheet takes the key between /d/ and /edit in the "
                                    "sheet's URL, or the whole URL", details={"status": 404})
        if status == 401:
            return SourceError(f"the Sheets API refused the access token of {self._account} (401)",
                               location=where, details={"status": 401})
        return SourceError(f"the Sheets API refused to read spreadsheet {self.key} ({status}: {text})",
                           location=where, details={"status": status})


def pick_worksheet(sheets: list[Worksheet], rule: GoogleSheetsSource, url_gid: int | None,
                   key: str) -> Worksheet:
    """The worksheet the rule names: by title, by gid (the rule's, else the URL's), else the first."""
    gid = rule.gid if rule.gid is not None else (url_gid if rule.worksheet is None else None)
    for sheet in sheets:
        if (rule.worksheet is not None and sheet.title == rule.worksheet) or \
                (rule.worksheet is None and gid is not None and sheet.gid == gid):
            return sheet
    if rule.worksheet is None and gid is None and sheets:
        return sheets[0]
    wanted = f"worksheet {rule.worksheet!r}" if rule.worksheet is not None else f"worksheet gid {gid}"
    listing = ", ".join(f"{s.title!r} (gid {s.gid})" for s in sheets) or "none"
    mark = rule.mark
    raise SourceError(f"{wanted} not found in spreadsheet {key}; worksheets: {listing}",
                      location=Location(mark.path, mark.line, mark.column) if mark else None,
                      hint="source.worksheet must match a tab's title exactly",
                      details={"worksheets": [s.title for s in sheets]})


def _worksheet_of(props: Mapping[str, Any]) -> Worksheet:
    grid = props.get("gridProperties", {})
    return Worksheet(str(props.get("title", "")), int(props.get("sheetId", 0)),
                     int(grid.get("rowCount", 0)), int(grid.get("columnCount", 0)))


# -- small helpers -----------------------------------------------------------------------

def _trim(cells: Any) -> tuple[str, ...]:
    texts = ["" if c is None else _text(c) for c in cells]
    while texts and texts[-1] == "":
        texts.pop()
    return tuple(texts)


def _text(value: Any) -> str:
    """A JSON cell as the reader's SQL renders it (header cells only; data never passes here)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
