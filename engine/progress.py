"""Progress on stderr while long phases run, only when stderr is a terminal.

Scripts and ``| jq`` see nothing here: stdout carries results only.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator, TextIO


class Progress:
    """Reports phases (``with progress.phase("snapshot table"):``) and their timings."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.timings: dict[str, float] = {}
        self._shown = 0  # length of the line now on screen, so a shorter one can blank it out

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        self._show(f"  {name} …")
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.timings[name] = self.timings.get(name, 0.0) + elapsed
            self._show(f"  {name} ✓ {elapsed:.2f}s", end=True)

    def bar(self, name: str, done: int, total: int) -> None:
        """A one-line bar for phases made of counted steps (fields written, chunks read)."""
        if not self.enabled or total <= 0:
            return
        width = 30
        filled = int(width * done / total)
        self._show(f"  {name} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")

    def _show(self, line: str, *, end: bool = False) -> None:
        """Replace the current line (a terminal's carriage return) by ``line``; ``end`` moves on."""
        if not self.enabled:
            return
        self.stream.write("\r" + line.ljust(self._shown) + ("\n" if end else ""))
        self._shown = 0 if end else len(line)
        self.stream.flush()


SILENT = Progress(enabled=False)
