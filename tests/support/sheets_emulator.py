"""A local Google Sheets API v4 emulator: the endpoints and behaviours reconcile relies on.

Serves, on 127.0.0.1 (see /work/shared/docs/google-sheets-api.md for the real API's behaviour):

- ``POST /token``: the service-account JWT grant. The assertion's RS256 signature is checked
  against the public key of the key this emulator generated, ``aud`` must be Google's token
  URL, ``iss`` and ``scope`` must be present. Returns a bearer token.
- ``GET /v4/spreadsheets/{id}``: metadata (sheets with sheetId, title, index, grid size).
- ``GET /v4/spreadsheets/{id}/values/{range}`` and ``GET .../values:batchGet?ranges=..``:
  ValueRanges with the range echo clipped to the grid, trailing cells and rows trimmed,
  FORMATTED_VALUE / UNFORMATTED_VALUE / FORMULA and SERIAL_NUMBER / FORMATTED_STRING.

Cells are stored typed (``Num``, ``Date``, ``Err``, ``Formula``, bool, int, float, str) so
both render options are real. Faults are injected with ``fail(status, times)`` (``times=None``:
forever), ``cuts`` (bodies that stop mid-array), ``latency``, ``forbidden`` and ``token_error``;
``log`` records every request.

Run by hand: ``python tests/support/sheets_emulator.py --csv FILE | --json FILE [--port N]``.
"""
from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import json
import re
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

GOOGLE_TOKEN_AUD = "https://oauth2.googleapis.com/token"
EPOCH = dt.datetime(1899, 12, 30)
BATCH = 2000  # rows serialised per write


# -- typed cells --------------------------------------------------------------------------

@dataclass(frozen=True)
class Num:
    """A number shown through a display pattern (``str.format``), e.g. ``Num(1.23, "${:,.2f}")``."""

    value: float
    display: str = "{}"


@dataclass(frozen=True)
class Date:
    """A date-time stored as a serial number (days since 1899-12-30), shown with ``pattern``."""

    serial: float
    pattern: str = "%Y-%m-%d"

    @classmethod
    def of(cls, when: dt.date | dt.datetime, pattern: str = "%Y-%m-%d") -> "Date":
        if not isinstance(when, dt.datetime):
            when = dt.datetime(when.year, when.month, when.day)
        return cls((when - EPOCH) / dt.timedelta(days=1), pattern)


@dataclass(frozen=True)
class Err:
    """A cell error value such as ``#N/A`` (shown as its text)."""

    text: str


@dataclass(frozen=True)
class Formula:
    """A formula and the value it evaluates to."""

    formula: str
    value: Any


def _number(value: float) -> int | float:
    """JSON numbers as the API writes them: whole numbers without '.0'."""
    return int(value) if float(value).is_integer() else value


def render(cell: Any, value_option: str, date_option: str) -> Any:
    """One cell as the API returns it under the given render options."""
    if isinstance(cell, Formula):
        return cell.formula if value_option == "FORMULA" else render(cell.value, value_option, date_option)
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return ("TRUE" if cell else "FALSE") if value_option == "FORMATTED_VALUE" else cell
    if isinstance(cell, Err):
        return cell.text
    if isinstance(cell, Date):
        text = (EPOCH + dt.timedelta(days=cell.serial)).strftime(cell.pattern)
        if value_option == "FORMATTED_VALUE" or date_option == "FORMATTED_STRING":
            return text
        return _number(cell.serial)
    if isinstance(cell, Num):
        return cell.display.format(_number(cell.value)) if value_option == "FORMATTED_VALUE" else _number(cell.value)
    if isinstance(cell, (int, float)):
        return str(_number(cell)) if value_option == "FORMATTED_VALUE" else _number(cell)
    return str(cell)


# -- sheets ------------------------------------------------------------------------------

@dataclass
class Sheet:
    """A worksheet: explicit ``rows`` of typed cells, or ``generate(first, last)`` for big synthetic sheets."""

    title: str
    rows: list[list[Any]] = field(default_factory=list)
    sheet_id: int = 0
    row_count: int | None = None  # grid size; default: data + 10 rows, at least 1000
    column_count: int | None = None
    generate: Callable[[int, int], list[list[Any]]] | None = None  # rows first..last (1-based)
    generated_rows: int = 0

    def __post_init__(self) -> None:
        data_rows = self.generated_rows if self.generate else len(self.rows)
        width = max((len(r) for r in self.rows), default=0)
        if self.generate:
            width = len(self.generate(1, 1)[0]) if self.generated_rows else 0
        self.row_count = self.row_count or max(1000, data_rows + 10)
        self.column_count = self.column_count or max(26, width)

    def cells(self, first: int, last: int) -> list[list[Any]]:
        """Raw cells of rows first..last (1-based, inclusive), [] for rows without data."""
        if self.generate:
            last = min(last, self.generated_rows)
            return self.generate(first, last) if first <= last else []
        return [list(self.rows[r - 1]) if r <= len(self.rows) else [] for r in range(first, last + 1)]

    def data_extent(self) -> int:
        return self.generated_rows if self.generate else len(self.rows)


@dataclass
class Spreadsheet:
    key: str
    sheets: list[Sheet]
    title: str = "Emulated spreadsheet"

    def metadata(self) -> dict[str, Any]:
        return {
            "spreadsheetId": self.key,
            "properties": {"title": self.title, "locale": "en_US", "autoRecalc": "ON_CHANGE",
                           "timeZone": "Etc/GMT"},
            "sheets": [{"properties": {
                "sheetId": s.sheet_id, "title": s.title, "index": i, "sheetType": "GRID",
                "gridProperties": {"rowCount": s.row_count, "columnCount": s.column_count}}}
                for i, s in enumerate(self.sheets)],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.key}/edit",
        }


# -- A1 notation ---------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


_CELL = re.compile(r"^\$?([A-Za-z]*)\$?([0-9]*)$")
_SIMPLE_TITLE = re.compile(r"^[A-Za-z0-9_]+$")


def col_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def col_letters(n: int) -> str:
    out = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def split_range(text: str) -> tuple[str | None, str | None]:
    """(sheet title or None, cell part or None) of an A1 range.

    >>> split_range("'Bob''s'!1:2"), split_range("A5:A"), split_range("My Sheet")
    (("Bob's", '1:2'), (None, 'A5:A'), ('My Sheet', None))
    """
    if text.startswith("'"):
        i, title = 1, []
        while i < len(text):
            if text[i] == "'":
                if text[i + 1:i + 2] == "'":
                    title.append("'")
                    i += 2
                    continue
                break
            title.append(text[i])
            i += 1
        rest = text[i + 1:]
        return "".join(title), (rest[1:] if rest.startswith("!") else None) or None
    if "!" in text:
        title, cells = text.rsplit("!", 1)
        return title, cells
    if all(_CELL.match(part) for part in text.split(":")) and len(text.split(":")) <= 2:
        return None, text  # may still be a title ("Sheet1"): parse_range checks titles first
    return text, None


@dataclass(frozen=True)
class Box:
    sheet: Sheet
    r1: int
    c1: int
    r2: int
    c2: int
    single: bool = False

    def echo(self) -> str:
        title = self.sheet.title if _SIMPLE_TITLE.match(self.sheet.title) else \
            "'" + self.sheet.title.replace("'", "''") + "'"
        start = f"{col_letters(self.c1)}{self.r1}"
        return f"{title}!{start}" if self.single else f"{title}!{start}:{col_letters(self.c2)}{self.r2}"


def parse_range(text: str, book: Spreadsheet) -> Box:
    """Resolve an A1 range against the spreadsheet, clipped to the grid (errors as the API gives them)."""
    title, cells = split_range(text)
    if title is None and any(s.title == text for s in book.sheets):
        title, cells = text, None  # a bare title that also reads as a cell ("Sheet1")
    if title is None:
        sheet = book.sheets[0]
    else:
        sheet = next((s for s in book.sheets if s.title == title), None)
        if sheet is None:
            raise ApiError(400, "INVALID_ARGUMENT", f"Unable to parse range: {text}")
    assert sheet.row_count and sheet.column_count
    if not cells:
        return Box(sheet, 1, 1, sheet.row_count, sheet.column_count)
    parts = cells.split(":")
    ends = [_CELL.match(p) for p in parts]
    if len(parts) > 2 or not all(ends) or not all(m.group(1) or m.group(2) for m in ends):
        raise ApiError(400, "INVALID_ARGUMENT", f"Unable to parse range: {text}")
    c1 = col_number(ends[0].group(1)) if ends[0].group(1) else 1
    r1 = int(ends[0].group(2)) if ends[0].group(2) else 1
    if len(parts) == 1:
        c2, r2, single = c1, r1, True
    else:
        c2 = col_number(ends[1].group(1)) if ends[1].group(1) else sheet.column_count
        r2 = int(ends[1].group(2)) if ends[1].group(2) else sheet.row_count
        single = False
    if r1 > sheet.row_count or c1 > sheet.column_count or r1 < 1 or c1 < 1:
        raise ApiError(400, "INVALID_ARGUMENT",
                       f"Range ({sheet.title}!{col_letters(c1)}{r1}) exceeds grid limits. "
                       f"Max rows: {sheet.row_count}, max columns: {sheet.column_count}")
    return Box(sheet, r1, c1, min(r2, sheet.row_count), min(c2, sheet.column_count), single)


def trimmed_rows(box: Box, value_option: str, date_option: str) -> Iterator[list[Any]]:
    """The range's rows rendered, trailing empty cells and trailing empty rows dropped."""
    pending = 0  # empty rows seen but not yet written (they only count if data follows)
    for start in range(box.r1, box.r2 + 1, BATCH):
        end = min(box.r2, start + BATCH - 1)
        if start > box.sheet.data_extent():
            return
        for raw in box.sheet.cells(start, end):
            row = [render(c, value_option, date_option) for c in raw[box.c1 - 1:box.c2]]
            while row and row[-1] == "":
                row.pop()
            if not row:
                pending += 1
                continue
            for _ in range(pending):
                yield []
            pending = 0
            yield row


# -- the server ----------------------------------------------------------------------------

@dataclass
class Fault:
    status: int
    times: int | None  # None = forever
    path: str = ""  # only requests whose path contains this


class Emulator:
    """The emulator's state, shared by its handler threads. ``start()`` serves on 127.0.0.1."""

    def __init__(self, books: list[Spreadsheet] | None = None, *, port: int = 0) -> None:
        self.books: dict[str, Spreadsheet] = {b.key: b for b in books or []}
        self.port = port
        self.lock = threading.Lock()
        self.log: list[tuple[str, str, dict[str, list[str]]]] = []
        self.faults: list[Fault] = []
        self.latency = 0.0
        self.forbidden: set[str] = set()
        self.token_error: int | None = None
        self.cuts = 0  # value responses to cut off after their first rows (the connection drops)
        self.tokens: set[str] = set()
        self.token_claims: list[dict[str, Any]] = []
        self.keys: dict[str, Any] = {}  # kid -> public key
        self.server: ThreadingHTTPServer | None = None

    # setup -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "Emulator":
        emulator = self

        class Handler(_Handler):
            emu = emulator

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def add(self, book: Spreadsheet) -> Spreadsheet:
        with self.lock:
            self.books[book.key] = book
        return book

    def reset(self) -> None:
        """Forget sheets, faults and the log (tokens and keys stay)."""
        with self.lock:
            self.books.clear()
            self.faults.clear()
            self.log.clear()
            self.forbidden.clear()
            self.latency = 0.0
            self.token_error = None
            self.cuts = 0

    def fail(self, status: int, times: int | None = 1, path: str = "") -> None:
        """Answer the next ``times`` API requests (None: all) whose path contains ``path`` with ``status``."""
        with self.lock:
            self.faults.append(Fault(status, times, path))

    def take_cut(self) -> bool:
        with self.lock:
            if self.cuts > 0:
                self.cuts -= 1
                return True
        return False

    def requests(self, kind: str = "") -> list[tuple[str, str, dict[str, list[str]]]]:
        """Logged requests whose path contains ``kind`` (e.g. 'values:batchGet', '/token')."""
        with self.lock:
            return [entry for entry in self.log if kind in entry[1]]

    def service_account(self, email: str = "reconcile-test@emulator.iam.gserviceaccount.com") -> dict[str, Any]:
        """A new service-account key (RSA, generated now) whose token_uri is this emulator."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = secrets.token_hex(20)
        self.keys[kid] = private.public_key()
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": "emulator", "private_key_id": kid,
                "private_key": pem, "client_email": email, "client_id": "1",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": f"{self.url}/token"}

    # request handling --------------------------------------------------------------------

    def take_fault(self, path: str) -> int | None:
        with self.lock:
            for fault in self.faults:
                if fault.path in path and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault.status
        return None

    def grant(self, form: dict[str, list[str]]) -> dict[str, Any]:
        if self.token_error:
            raise ApiError(self.token_error, "invalid_grant", "Invalid JWT Signature.")
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            raise ApiError(400, "unsupported_grant_type", "Invalid grant_type")
        claims = self.verify_jwt((form.get("assertion") or [""])[0])
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
            self.token_claims.append(claims)
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def verify_jwt(self, assertion: str) -> dict[str, Any]:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            head_b64, claims_b64, sig_b64 = assertion.split(".")
            header, claims = json.loads(_b64(head_b64)), json.loads(_b64(claims_b64))
            key = self.keys[header["kid"]]
            key.verify(_b64(sig_b64), f"{head_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, KeyError, InvalidSignature) as err:
            raise ApiError(400, "invalid_grant", f"Invalid JWT Signature. ({type(err).__name__})") from err
        if header.get("alg") != "RS256" or claims.get("aud") != GOOGLE_TOKEN_AUD:
            raise ApiError(400, "invalid_grant", "Invalid JWT: aud or alg")
        if not claims.get("iss") or not claims.get("scope"):
            raise ApiError(400, "invalid_scope", "Invalid JWT: iss and scope are required")
        if claims.get("exp", 0) < time.time():
            raise ApiError(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token")
        return claims

    def book(self, key: str) -> Spreadsheet:
        with self.lock:
            book = self.books.get(key)
        if key in self.forbidden:
            raise ApiError(403, "PERMISSION_DENIED", "The caller does not have permission")
        if book is None:
            raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")
        return book


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_PATH = re.compile(r"^/v4/spreadsheets/([^/:]+)(?:(/values/)(.+)|(/values:batchGet))?$")


class _Handler(BaseHTTPRequestHandler):
    emu: Emulator
    protocol_version = "HTTP/1.0"  # bodies are streamed; the connection's end marks their end

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        self._log("POST", path, {})
        if path != "/token":
            return self._error(ApiError(404, "NOT_FOUND", "unknown path"))
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        try:
            self._json(200, self.emu.grant(form))
        except ApiError as err:
            self._json(err.code, {"error": err.status, "error_description": err.message})

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        self._log("GET", parts.path, query)
        if self.emu.latency:
            time.sleep(self.emu.latency)
        try:
            self._check_token()
            fault = self.emu.take_fault(parts.path)
            if fault:
                raise ApiError(fault, _STATUS.get(fault, "UNKNOWN"), _MESSAGE.get(fault, "injected fault"))
            self._route(parts.path, query)
        except ApiError as err:
            self._error(err)

    def _log(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        with self.emu.lock:
            self.emu.log.append((method, path, query))

    def _check_token(self) -> None:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.emu.tokens:
            raise ApiError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")

    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        found = _PATH.match(path)
        if not found:
            raise ApiError(404, "NOT_FOUND", "unknown path")
        book = self.emu.book(found.group(1))
        value_opt = (query.get("valueRenderOption") or ["FORMATTED_VALUE"])[0]
        date_opt = (query.get("dateTimeRenderOption") or ["SERIAL_NUMBER"])[0]
        if found.group(2):
            box = parse_range(unquote(found.group(3)), book)
            return self._stream(None, [box], value_opt, date_opt)
        if found.group(4):
            boxes = [parse_range(r, book) for r in query.get("ranges", [])]
            return self._stream(book.key, boxes, value_opt, date_opt)
        self._json(200, book.metadata())

    def _stream(self, key: str | None, boxes: list[Box], value_opt: str, date_opt: str) -> None:
        """A ValueRange (``key`` None) or a batchGet body, written a few thousand rows at a time."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.end_headers()
        write = self.wfile.write
        cut = self.emu.take_cut()
        if key is not None:
            write(b'{"spreadsheetId": ' + json.dumps(key).encode() + b', "valueRanges": [')
        for n, box in enumerate(boxes):
            write((", " if n else "").encode() + b'{"range": ' + json.dumps(box.echo()).encode()
                  + b', "majorDimension": "ROWS"')
            first = True
            batch: list[list[Any]] = []
            for row in trimmed_rows(box, value_opt, date_opt):
                batch.append(row)
                if len(batch) >= BATCH or cut:
                    write((b', "values": [' if first else b", ") + json.dumps(batch, ensure_ascii=False)[1:-1].encode())
                    first, batch = False, []
                    if cut:
                        return  # the connection closes mid-array
            if batch:
                write((b', "values": [' if first else b", ") + json.dumps(batch, ensure_ascii=False)[1:-1].encode())
                first = False
            write(b"}" if first else b"]}")
        if key is not None:
            write(b"]}")

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err: ApiError) -> None:
        self._json(err.code, err.body())


_STATUS = {403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
           503: "UNAVAILABLE"}
_MESSAGE = {
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' "
         "of service 'sheets.googleapis.com' for consumer 'project_number:1'.",
    500: "Internal error encountered.", 503: "The service is currently unavailable.",
}


# -- synthetic sheets (benchmarks) ---------------------------------------------------------

def synthetic_sheet(rows: int, columns: int, title: str = "Sheet1") -> Sheet:
    """A header and ``rows`` data rows of short text, generated per request (no rows held)."""
    header = [f"Column {c}" for c in range(1, columns + 1)]

    def generate(first: int, last: int) -> list[list[Any]]:
        return [header if r == 1 else [f"r{r}c{c} text" for c in range(1, columns + 1)]
                for r in range(first, last + 1)]
    return Sheet(title, generate=generate, generated_rows=rows + 1, row_count=rows + 1, column_count=columns)


# -- by hand -------------------------------------------------------------------------------

def cell_from_json(value: Any) -> Any:
    """A typed cell from JSON: scalars as they are, or one of
    ``{"date": "2024-01-05", "format": "%Y/%m/%d"}``, ``{"number": 1.5, "display": "${:,.2f}"}``,
    ``{"error": "#N/A"}``, ``{"formula": "=A1*2", "value": <cell>}``.

    >>> cell_from_json({"date": "2020-01-01"}), cell_from_json({"error": "#REF!"})
    (Date(serial=43831.0, pattern='%Y-%m-%d'), Err(text='#REF!'))
    """
    if not isinstance(value, dict):
        return value
    if "date" in value:
        return Date.of(dt.datetime.fromisoformat(value["date"]), value.get("format", "%Y-%m-%d"))
    if "number" in value:
        return Num(value["number"], value.get("display", "{}"))
    if "error" in value:
        return Err(value["error"])
    if "formula" in value:
        return Formula(value["formula"], cell_from_json(value.get("value")))
    raise ValueError(f"unknown cell {value!r}")


def book_from_file(path: Path, key: str, title: str) -> Spreadsheet:
    """A CSV file (one sheet of text cells) or JSON (``{"sheets": [{"title", "rows"}]}`` or a list
    of rows; cells as in ``cell_from_json``)."""
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, list):
            data = {"sheets": [{"title": title, "rows": data}]}
        sheets = [Sheet(s["title"], [[cell_from_json(c) for c in row] for row in s["rows"]], sheet_id=i)
                  for i, s in enumerate(data["sheets"])]
        return Spreadsheet(key, sheets)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return Spreadsheet(key, [Sheet(title, list(csv.reader(fh)))])


def main(argv: list[str] | None = None, *, block: Callable[[], Any] | None = None) -> int:
    """Serve until interrupted (``block`` replaces the wait, for tests)."""
    parser = argparse.ArgumentParser(description="Serve a sheet as the Google Sheets API v4 does, locally.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, help="a CSV file: one worksheet of text cells")
    source.add_argument("--json", type=Path, help='JSON: {"sheets": [{"title": ..., "rows": [[...]]}]}; '
                        'typed cells: {"date": "2024-01-05"}, {"number": 1.5, "display": "${:,.2f}"}, '
                        '{"error": "#N/A"}, {"formula": "=1/0", "value": {"error": "#DIV/0!"}}')
    source.add_argument("--synthetic", metavar="ROWSxCOLS", help="a generated sheet, e.g. 100000x30")
    parser.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    parser.add_argument("--key", default="emulated-sheet", help="the spreadsheet key to serve")
    parser.add_argument("--title", default="Sheet1", help="worksheet title for --csv/--synthetic")
    parser.add_argument("--credentials", type=Path, help="where to write the service-account key file")
    args = parser.parse_args(argv)
    if args.synthetic:
        rows, columns = (int(x) for x in args.synthetic.lower().split("x"))
        book = Spreadsheet(args.key, [synthetic_sheet(rows, columns, args.title)])
    else:
        book = book_from_file(args.csv or args.json, args.key, args.title)
    emu = Emulator([book], port=args.port).start()
    key_file = args.credentials or Path(tempfile.mkdtemp(prefix="sheets-emulator-")) / "service-account.json"
    key_file.write_text(json.dumps(emu.service_account()), encoding="utf-8")
    print(f"Sheets API emulator on {emu.url}, spreadsheet key {book.key!r}, "
          f"worksheets {[s.title for s in book.sheets]}")
    print(f"export RECONCILE_SHEETS_API_URL={emu.url}")
    print(f"export GOOGLE_APPLICATION_CREDENTIALS={key_file}")
    print("export NO_PROXY=127.0.0.1,localhost")
    sys.stdout.flush()
    try:
        (block or threading.Event().wait)()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
