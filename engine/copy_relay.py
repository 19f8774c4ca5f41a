"""A PostgreSQL ``COPY ... TO STDOUT`` relayed to a reader that takes paths (DuckDB's ``read_csv``).

Where the OS has named pipes, a thread relays the COPY into a chain of FIFOs, cut at row ends
every ``SEGMENT_BYTES``, and the reader is called once per FIFO while the thread fills it:
the reader parses while PostgreSQL prints (the two overlap on two cores). The chain exists
because DuckDB's reader keeps every buffer it read from a pipe until its statement ends: one
FIFO for a million-row table held 300 MB, which pushed the sheet out to the spill folder.
Elsewhere the COPY goes to one temporary file, read once it is complete.
"""
from __future__ import annotations

import os
import queue
import select
import tempfile
import threading
from typing import Any, BinaryIO, Callable, Sequence

import psycopg
from psycopg import sql

# A segment's rows are read by one reader call; DuckDB holds at most this much of the table
# at a time (plus one read buffer). Each call costs a statement's planning (a few ms).
SEGMENT_BYTES = 32 << 20
# Rows are gathered into writes of this size: a FIFO write wakes the reader, and 8 KiB writes
# (Python's default) were 40,000 wake-ups for a million rows.
_RELAY_BUFFER = 1 << 20
_NO_LIMIT = 1 << 62

Consume = Callable[[str, bool, bool], None]
"""``consume(path, seekable, first)``: read the rows at ``path``; ``first`` for the first path."""


def stream_copy_out(conn: psycopg.Connection, copy: sql.Composable, params: Sequence[Any] | None,
                    consume: Consume) -> int:
    """Run ``COPY ... TO STDOUT`` into paths that ``consume`` reads in turn (at least one);
    return the number of rows PostgreSQL sent.

    A failed COPY is raised even when the reader failed first on the truncated data.
    """
    with tempfile.TemporaryDirectory(prefix="reconcile-snap-") as folder:
        if not hasattr(os, "mkfifo"):
            path = os.path.join(folder, "copy.csv")
            with open(path, "wb", buffering=_RELAY_BUFFER) as out:
                sent = _run_copy(conn, copy, params, _Sink(lambda: out, _NO_LIMIT))
            consume(path, True, True)
            return sent
        return _through_fifos(conn, copy, params, consume, _FifoChain(folder))


def _through_fifos(conn: psycopg.Connection, copy: sql.Composable, params: Sequence[Any] | None,
                   consume: Consume, chain: _FifoChain) -> int:
    failure: list[BaseException] = []
    counted: list[int] = []
    producer = threading.Thread(target=_produce, args=(conn, copy, params, chain, failure, counted), daemon=True)
    producer.start()
    try:
        first = True
        while (path := chain.ready.get()) is not None:
            consume(path, False, first)
            first = False
    except BaseException as exc:
        cancelled = producer.is_alive()
        chain.abandoned = True  # before the cancel: a COPY not started yet is then never started
        if cancelled:
            _cancel(conn)  # the reader gave up: stop the COPY instead of draining all of it
        _drain(chain, producer)
        if failure and isinstance(exc, Exception) and not _ended_by_reader(failure[0], cancelled):
            raise failure[0] from exc  # the COPY failed first: the reader only saw it cut short
        raise
    producer.join()  # the reader saw the last FIFO's end, so the producer has closed it: it cannot block
    if failure:
        raise failure[0]
    return counted[0]


def _ended_by_reader(exc: BaseException, cancelled: bool) -> bool:
    """The producer's failure is the reader's doing: a FIFO closed on it, the chain abandoned,
    or the COPY cancelled (when it was)."""
    return isinstance(exc, (BrokenPipeError, _Abandoned)) or (cancelled and isinstance(exc, psycopg.errors.QueryCanceled))


def _cancel(conn: psycopg.Connection) -> None:
    try:
        conn.cancel_safe(timeout=5.0)
    except Exception:  # noqa: BLE001 -- a cancel that fails leaves the drain to read the rest; the reader's error stands
        pass


class _Abandoned(Exception):
    """The reader failed: the producer stops (psycopg cancels a COPY left this way)."""


class _FifoChain:
    """The FIFOs of one COPY, made one at a time; ``ready`` hands each path to the reader, then None."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.ready: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.current: str | None = None
        self.abandoned = False  # the reader failed: what is still relayed goes nowhere
        self._count = 0
        self._out: BinaryIO | None = None

    def next_segment(self) -> BinaryIO:
        """Close the FIFO being written and open the next (blocks until the reader opens it)."""
        self.close()
        if self.abandoned:  # a FIFO nobody reads would be a wait; leaving the COPY block cancels it
            raise _Abandoned("the reader failed")
        path = os.path.join(self.folder, f"copy{self._count}.csv")
        self._count += 1
        os.mkfifo(path, 0o600)
        self.current = path
        self.ready.put(path)
        self._out = open(path, "wb", buffering=_RELAY_BUFFER)
        if self.abandoned:  # the drain opened it: the reader had failed (a cancel sent before the COPY is lost)
            raise _Abandoned("the reader failed")
        return self._out

    def close(self) -> None:
        if self._out is not None:
            out, self._out = self._out, None
            out.close()

    def finish(self) -> None:
        self.ready.put(None)


class _Sink:
    """Where the relay writes: ``next_segment()`` gives the file to write, ``limit`` bytes a segment."""

    def __init__(self, next_segment: Callable[[], BinaryIO], limit: int) -> None:
        self.next_segment = next_segment
        self.limit = limit


def _produce(conn: psycopg.Connection, copy: sql.Composable, params: Sequence[Any] | None, chain: _FifoChain,
             failure: list[BaseException], counted: list[int]) -> None:
    try:
        counted.append(_run_copy(conn, copy, params, _Sink(chain.next_segment, SEGMENT_BYTES)))
    except BaseException as exc:  # handed to the main thread, which raises it
        failure.append(exc)
    finally:
        try:
            chain.close()
        except OSError as exc:  # the reader left: a broken pipe on the last flush
            if not failure:
                failure.append(exc)
        chain.finish()


def _run_copy(conn: psycopg.Connection, copy: sql.Composable, params: Sequence[Any] | None, sink: _Sink) -> int:
    out = sink.next_segment()  # opened before the COPY starts, so a reader is waiting for its rows
    with conn.cursor() as cur, cur.copy(copy, params):  # psycopg starts the COPY; its rows are taken below
        return _relay_copy_out(conn.pgconn, out.write, sink, conn.info.encoding)


def _relay_copy_out(pgconn: Any, write: Callable[[Any], Any], sink: _Sink, encoding: str) -> int:
    """Pass every row of a started ``COPY ... TO STDOUT`` to ``write``, moving to the sink's next
    segment after each ``sink.limit`` bytes; return the row count.

    libpq's asynchronous COPY protocol, driven directly: psycopg's iteration costs a
    generator and a wait per row (2.2 s of CPU for a million rows, against 1.5 s here), and
    the socket is waited on only when libpq holds no complete row. A failed COPY raises
    psycopg's error for it, as iterating the ``Copy`` would.
    """
    get, socket = pgconn.get_copy_data, pgconn.socket
    room = sink.limit
    while True:
        size, row = get(1)  # 1: never block; 0 means no complete row buffered yet
        if size > 0:
            write(row)
            room -= size
            if room <= 0:
                write, room = sink.next_segment().write, sink.limit
        elif size == 0:
            _wait_readable(socket)
            pgconn.consume_input()
        else:  # -1: the COPY is over; -2: libpq failed (its error is on the result)
            break
    while pgconn.is_busy():
        _wait_readable(socket)
        pgconn.consume_input()
    results = []
    while (result := pgconn.get_result()) is not None:
        results.append(result)
    failed = [r for r in results if r.status != psycopg.pq.ExecStatus.COMMAND_OK]
    if failed:
        raise psycopg.errors.error_from_result(failed[0], encoding=encoding)
    if not results:
        raise psycopg.OperationalError(pgconn.error_message.decode(encoding, "replace") or "the COPY gave no result")
    return int(results[-1].command_tuples or 0)


def _wait_readable(socket: int) -> None:
    select.select([socket], [], [], 1.0)  # releases the GIL; a timeout only loops once more


def _drain(chain: _FifoChain, producer: threading.Thread) -> None:
    """After the reader failed (``chain.abandoned``): wait for the producer, reading and dropping
    what it still writes into the FIFO it is at, so it never blocks on a full pipe (or on
    opening one nobody reads); at its next segment it stops."""
    fd, opened = -1, None
    try:
        while producer.is_alive():
            if chain.current is not None and chain.current != opened:
                if fd >= 0:
                    os.close(fd)
                opened = chain.current
                fd = os.open(opened, os.O_RDONLY | os.O_NONBLOCK)
            ready = select.select([fd], [], [], 0.05)[0] if fd >= 0 else []
            if not ready or not _read_some(fd):
                producer.join(0.01)
    finally:
        if fd >= 0:
            os.close(fd)
    producer.join()


def _read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return b""


__all__ = ["SEGMENT_BYTES", "Consume", "stream_copy_out"]
