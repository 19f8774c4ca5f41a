"""The typed, immutable rule set that the engine consumes.

``engine.rules.loader`` builds these from YAML; tests may build them directly.
Every object that came from a file carries a ``Mark`` so that later errors
(a header not found, a column missing from the table) can point at the line.
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

OnInvalid = Literal["keep", "null", "default", "fail"]
NewRows = Literal["insert", "report", "ignore"]
MissingRows = Literal["report", "ignore"]
CompareKind = Literal["exact", "ignore_case", "ignore_whitespace", "numeric", "never"]
ValueRender = Literal["FORMATTED_VALUE", "UNFORMATTED_VALUE"]

TRANSFORM_NAMES = (
    "trim", "collapse_whitespace", "nfkc", "lower", "upper", "empty_to_null", "null_if",
    "map", "replace", "to_integer", "to_decimal", "to_date", "to_timestamp", "to_boolean",
    "sheet_serial_date", "default", "sql",
)
COMPARE_NAMES = ("exact", "ignore_case", "ignore_whitespace", "numeric", "never")


@dataclass(frozen=True)
class Mark:
    """Where a node was in its rule file (1-based line and column)."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Transform:
    """One step of a transform chain.

    ``args`` is the plain YAML value after the name, already checked by validation:
    None for bare names; a list for ``null_if``; a dict for ``map`` (``{"values": {...},
    "unmapped": "keep"|"null"|"invalid"}``), ``replace`` (``{"pattern", "with"}``),
    ``to_date`` (``{"formats": [...]}``), ``to_timestamp`` (``{"formats", "timezone"}``),
    ``to_boolean`` (``{"true": [...], "false": [...]}``); a string for ``sql``; any scalar
    for ``default``.
    """

    name: str
    args: Any = None
    mark: Mark | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Comparison:
    kind: CompareKind = "exact"
    tolerance: Decimal | None = None  # only for kind == "numeric"


@dataclass(frozen=True)
class FieldRule:
    """A table column and how to read it from the sheet and compare it."""

    name: str  # table column
    column: str  # sheet header
    transforms: tuple[Transform, ...] = ()
    compare: Comparison = Comparison()
    on_invalid: OnInvalid = "keep"
    default: Any = None  # value written when on_invalid == "default"
    description: str | None = None
    mark: Mark | None = field(default=None, compare=False)


@dataclass(frozen=True)
class KeyRule:
    field: str  # table column
    column: str  # sheet header
    transforms: tuple[Transform, ...] = ()
    mark: Mark | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FileSource:
    """A CSV, TSV or XLSX export. ``path`` is absolute (resolved against the rule file)."""

    path: Path
    header_row: int = 1
    worksheet: str | None = None  # XLSX only; None = the first sheet
    format: Literal["csv", "tsv", "xlsx"] | None = None  # None = by suffix
    encoding: str = "utf-8"
    delimiter: str | None = None  # None = by format
    type: Literal["file"] = "file"
    mark: Mark | None = field(default=None, compare=False)


ENCODING_HINT = "common encodings: utf-8, cp932 (Shift_JIS from Excel on Windows), utf-16"


def encoding_problem(name: str) -> str | None:
    """Why ``name`` cannot be a file source's encoding (unknown to Python, or a codec such as
    base64 or rot13 that does not turn bytes into text), or None."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return f"unknown encoding {name!r}"
    if not getattr(info, "_is_text_encoding", True):
        return f"{name!r} is not a text encoding"
    return None


@dataclass(frozen=True)
class GoogleSheetsSource:
    spreadsheet: str  # key or full URL
    worksheet: str | None = None  # title; None with gid None = the first sheet
    gid: int | None = None
    header_row: int = 1
    credentials: str | None = None  # path to a service-account JSON; None = env, then ADC
    value_render: ValueRender = "FORMATTED_VALUE"
    chunk_rows: int = 50_000  # rows per request above which reads are split
    type: Literal["google_sheets"] = "google_sheets"
    mark: Mark | None = field(default=None, compare=False)


Source = FileSource | GoogleSheetsSource


@dataclass(frozen=True)
class Target:
    dsn: str | None  # None = not in the rule file; "embedded" = the bundled server
    schema: str  # "public" when the rule file gives a bare table name
    table: str
    mark: Mark | None = field(default=None, compare=False)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class RowLimit:
    """``max_changed_rows``: an absolute count or a percentage of the table's rows."""

    count: int | None = None
    percent: float | None = None

    def allows(self, changed_rows: int, table_rows: int) -> bool:
        if self.count is not None and changed_rows > self.count:
            return False
        if self.percent is not None and changed_rows > table_rows * self.percent / 100:
            return False
        return True


@dataclass(frozen=True)
class Policy:
    new_rows: NewRows = "report"
    missing_rows: MissingRows = "report"
    max_changed_rows: RowLimit | None = None


@dataclass(frozen=True)
class Notify:
    webhook: str | None = None  # empty after ${VAR:-} expansion = disabled
    stderr: bool = False


@dataclass(frozen=True)
class Monitoring:
    window: timedelta = timedelta(hours=24)
    field_failure_rate: float | None = None
    persistent_drift_runs: int | None = None
    zero_compared: bool = True  # alert when a mapped field compared zero rows
    no_success_for: timedelta | None = None
    notify: tuple[Notify, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    version: int
    name: str
    source: Source
    target: Target
    key: KeyRule
    fields: tuple[FieldRule, ...]
    policy: Policy = Policy()
    monitoring: Monitoring = Monitoring()
    description: str | None = None
    path: Path | None = None  # the rule file, absolute
    hash: str = ""  # sha256 of the file's bytes, recorded with each run

    def field(self, name: str) -> FieldRule:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or doubtful) in a rule file, with a stable code (see docs/rules.md).

    >>> str(Problem("rules/b.yaml", 5, 7, "R020", "unknown transform 'trimm'"))
    "rules/b.yaml:5:7: R020 unknown transform 'trimm'"
    """

    path: str
    line: int | None
    column: int | None
    code: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.path, self.line, self.column) if p is not None)
        return f"{where}: {self.code} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column, "code": self.code,
                "message": self.message, "severity": self.severity}
