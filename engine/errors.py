"""One root error for everything reconcile raises on purpose.

Two axes, as in dlt: *who* must act (the user fixes input; the system or an operator
fixes the environment) and *whether retrying can help* (transient vs terminal).
Each error knows its exit code and serialises to a dict for ``--format json``.
Driver errors are sorted into these classes in one place: ``engine.target.classify``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .redact import redact

# Exit codes are a contract with scripts; the README documents them.
EXIT_OK = 0
EXIT_FAILURE = 1  # runtime failure, or a partial run
EXIT_USAGE = 2  # invalid usage or rule file
EXIT_DIFFERENCES = 3  # plan --detailed-exitcode / verify found differences
EXIT_REFUSED = 4  # a safety guard refused the plan


@dataclass(frozen=True)
class Location:
    """Where a problem is: a file, and when known a 1-based line and column."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


# Codes shared by the two places that check a table's key (catalog query and snapshot).
DUPLICATE_TABLE_KEYS = "RC201"
NULL_TABLE_KEYS = "RC202"
SNAPSHOT_INCOMPLETE = "RC206"  # DuckDB read fewer snapshot rows than PostgreSQL sent


class ReconcileError(Exception):
    """Root of all reconcile errors.

    ``code`` is a stable identifier (documented, safe to match on in scripts);
    ``user_error`` is true when the input must change; ``transient`` is true when
    the same call may succeed later.
    """

    code = "RC000"
    exit_code = EXIT_FAILURE
    user_error = False
    transient = False

    def __init__(self, message: str, *, location: Location | None = None,
                 hint: str | None = None, details: dict[str, Any] | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint
        self.details = details or {}
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        text = f"{self.location}: {self.code} {self.message}" if self.location else f"{self.code} {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "error": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "user_error": self.user_error,
            "transient": self.transient,
            "exit_code": self.exit_code,
        }
        if self.location:
            out["path"] = self.location.path
            out["line"] = self.location.line
            out["column"] = self.location.column
        if self.hint:
            out["hint"] = self.hint
        if self.details:
            out["details"] = self.details
        return out


class UserError(ReconcileError):
    """The input (options, rule file, sheet contents) must change."""

    user_error = True
    exit_code = EXIT_USAGE
    code = "RC100"


class RuleFileError(UserError):
    """A rule file is invalid; ``problems`` lists every problem found."""

    code = "RC101"

    def __init__(self, message: str, problems: list[Any] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.problems = list(problems or [])

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["problems"] = [p.to_dict() for p in self.problems]
        return out


class ConfigurationError(UserError):
    """Something needed to run is not configured (a DSN, credentials)."""

    code = "RC102"


class MappingError(UserError):
    """The rule file does not match the sheet or the table (columns, keys, types)."""

    code = "RC103"


class DataError(ReconcileError):
    """The data itself forbids the run (duplicate or NULL keys in the table, on_invalid: fail)."""

    user_error = True
    code = "RC200"


class GuardRefused(ReconcileError):
    """A safety guard refused the plan; nothing was written."""

    user_error = True
    exit_code = EXIT_REFUSED
    code = "RC400"


class SystemFailure(ReconcileError):
    """The environment failed: a database, the network, the Sheets API."""

    code = "RC500"


class SourceError(SystemFailure):
    """Reading the source failed; nothing was diffed or written."""

    code = "RC510"


class TransientSourceError(SourceError):
    """Reading the source failed in a way that may pass (quota, 5xx, timeout)."""

    transient = True
    code = "RC511"


class DatabaseError(SystemFailure):
    """PostgreSQL refused or failed; see ``engine.target.classify``."""

    code = "RC520"


class TransientDatabaseError(DatabaseError):
    """A database failure that may pass on retry (connection lost, serialization, deadlock)."""

    transient = True
    code = "RC521"


class InternalError(ReconcileError):
    """reconcile itself failed: a bug (an exception it did not expect), not the input or the
    environment. The CLI prints it as this error, never as a bare traceback."""

    code = "RC900"


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cron or CI timeout, a service stop), raised by the command line's handler: it
    stops a command the way Ctrl-C does, so its transaction rolls back and its run is recorded."""


def unexpected_message(exc: BaseException) -> str:
    """What to say of an exception reconcile did not expect: its type and message, without
    a password (``engine.redact``); a stop by signal says which."""
    if isinstance(exc, KeyboardInterrupt):
        return "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
    return redact(f"internal error: {type(exc).__name__}: {exc}")
