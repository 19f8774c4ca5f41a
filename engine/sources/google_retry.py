"""Retrying Sheets API calls: exponential backoff with full jitter, bounded in attempts and time.

Plain gspread does not retry, and its ``BackOffHTTPClient`` never gives up on a lasting 429
(see docs/google-sheets.md), so reconcile keeps its own small policy. Retrying is decided
on the HTTP status or the exception class, never on a message. The clock, the sleep and
the random source are fields so that tests can drive a "429 forever" case in no real time.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from ..errors import TransientSourceError

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Retryable(Exception):
    """Raised inside a retried call to ask for another attempt; ``reason`` ends up in the error."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying: at most ``attempts`` calls and ``deadline`` seconds in all.

    The n-th wait (n from 0) is uniform in ``[0, min(cap, base * 2**n)]`` (AWS's "full jitter").
    A wait that would cross the deadline is not taken: the error is raised at once.
    """

    attempts: int = 5
    base: float = 1.0
    cap: float = 32.0
    deadline: float = 90.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    rand: Callable[[float, float], float] = field(default=random.uniform, compare=False)

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (0-based).

        >>> RetryPolicy(rand=lambda a, b: b).delay(0), RetryPolicy(rand=lambda a, b: b).delay(10)
        (1.0, 32.0)
        """
        return self.rand(0.0, min(self.cap, self.base * 2 ** attempt))


def with_retry(call: Callable[[], T], policy: RetryPolicy, what: str) -> T:
    """Run ``call`` until it returns; on ``Retryable`` wait and try again within ``policy``.

    Raises ``TransientSourceError`` naming ``what``, the last reason, the attempts made and
    the time spent, e.g. "Sheets API quota exceeded (429) after 5 attempts over 31 s".
    """
    start = policy.clock()
    attempt = 0
    while True:
        try:
            return call()
        except Retryable as err:
            attempt += 1
            elapsed = policy.clock() - start
            wait = policy.delay(attempt - 1)
            if attempt >= policy.attempts or elapsed + wait > policy.deadline:
                raise TransientSourceError(
                    f"{err.reason} after {attempt} attempt{'s' if attempt > 1 else ''} over "
                    f"{elapsed:.0f} s ({what})",
                    hint="the Sheets API allows 60 reads per minute per user; wait a minute and run "
                         "again, or raise source.chunk_rows to make fewer requests",
                    details={"status": err.status, "attempts": attempt, "seconds": round(elapsed, 3)},
                ) from err
            policy.sleep(wait)
