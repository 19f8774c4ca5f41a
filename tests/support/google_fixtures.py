"""Fixtures for the Google Sheets tests: one emulator per session, a key file, loopback-only sockets.

Import in a test module with ``from support.google_fixtures import *``.
"""
from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Sequence

import duckdb
import pytest

from engine.rules.model import GoogleSheetsSource
from engine.sources import google_sheets
from engine.sources.google_retry import RetryPolicy
from engine.sources.google_sheets import GoogleSheet
from support.sheets_emulator import Emulator, Sheet, Spreadsheet

__all__ = ["emulator_session", "emulator", "google_env", "FakeClock", "read_sheet", "add_sheet"]

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(scope="session")
def emulator_session():
    emu = Emulator().start()
    yield emu
    emu.stop()


@pytest.fixture
def emulator(emulator_session: Emulator) -> Emulator:
    """The session's emulator, emptied of sheets, faults and logged requests."""
    emulator_session.reset()
    return emulator_session


@pytest.fixture
def google_env(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Env routed to the emulator, a fresh key file as GOOGLE_APPLICATION_CREDENTIALS, and
    every non-loopback connection refused (nothing may reach Google). Returns the key file."""
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(emulator.service_account()), encoding="utf-8")
    monkeypatch.setenv("RECONCILE_SHEETS_API_URL", emulator.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    real_connect = socket.socket.connect

    def loopback_only(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOOPBACK:
            raise ConnectionRefusedError(f"test blocked a connection to {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    return key_file


class FakeClock:
    """A clock that only moves when slept on: retries take no real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def policy(self, **kw: Any) -> RetryPolicy:
        return RetryPolicy(sleep=self.sleep, clock=self.clock, **kw)


def add_sheet(emulator: Emulator, rows: Sequence[Sequence[Any]], *, title: str = "Sheet1",
              key: str = "sheet-key", others: Sequence[str] = (), **sheet: Any) -> Spreadsheet:
    sheets = [Sheet(title, [list(r) for r in rows], sheet_id=0, **sheet)]
    sheets += [Sheet(name, [], sheet_id=100 + i) for i, name in enumerate(others)]
    return emulator.add(Spreadsheet(key, sheets))


def read_sheet(source: GoogleSheetsSource, clock: FakeClock | None = None
               ) -> tuple[tuple[str, ...], list[tuple]]:
    """Read through the real source into a fresh DuckDB; (headers, rows ordered by _row)."""
    con = duckdb.connect()
    try:
        sheet = GoogleSheet(source, retry=clock.policy() if clock else None)
        data = sheet.read(con, "sheet")
        rows = con.execute("SELECT * FROM sheet ORDER BY _row").fetchall()
        assert data.row_count == len(rows)
        return data.headers, rows
    finally:
        con.close()


google_sheets  # re-exported for tests that swap google_sheets.RETRY
