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

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        if self.enabled:
            self.stream.write(f"  {name} …")
            self.stream.flush()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.timings[name] = self.timings.get(name, 0.0) + elapsed
            if self.enabled:
                self.stream.write(f"\r  {name} ✓ {elapsed:.2f}s\n")
                self.stream.flush()

    def bar(self, name: str, done: int, total: int) -> None:
        """A one-line bar for phases made of counted steps (fields written, chunks read)."""
        if not self.enabled or total <= 0:
            return
        width = 30
        filled = int(width * done / total)
        self.stream.write(f"\r  {name} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


SILENT = Progress(enabled=False)
