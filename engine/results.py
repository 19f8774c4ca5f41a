"""What plan, run and verify return: plain frozen data, serialisable with ``to_dict()``.

Full relations (every difference of a million-row sheet) stay in DuckDB; these objects
carry counts and bounded samples, which is what people and scripts read.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import EXIT_DIFFERENCES, EXIT_FAILURE, EXIT_OK, EXIT_REFUSED


@dataclass(frozen=True)
class FieldCounts:
    """One mapped field's figures for one plan or run (the ``field_stats`` row)."""

    field: str
    compared: int = 0  # sheet rows whose key matched a table row
    differing: int = 0  # of those, rows whose value differs
    invalid: int = 0  # cells a transform could not read
    written: int = 0  # field writes committed
    conflicts: int = 0  # compare-and-set lost to a concurrent edit
    errors: int = 0  # field skipped (column missing) or write failed
    error: str | None = None


@dataclass(frozen=True)
class DiffRow:
    """One row of the long diff relation."""

    record_key: str | None
    field: str | None  # None for row-level statuses (missing_row, duplicate_key)
    status: str  # changed | invalid | new_row | missing_row | duplicate_key | null_key
    sheet_row: int | None = None
    raw_value: str | None = None  # the cell's text
    sheet_value: str | None = None  # after transforms, typed like the table column, as text
    table_value: str | None = None  # the table's value as PostgreSQL prints it
    message: str | None = None


@dataclass(frozen=True)
class Change:
    """One planned field write."""

    record_key: str
    field: str
    old_value: str | None
    new_value: str | None
    sheet_row: int | None = None
    action: str = "update"  # update | insert


@dataclass(frozen=True)
class PlanResult:
    rule_name: str
    table: str
    fields: tuple[FieldCounts, ...]
    sheet_rows: int = 0
    table_rows: int = 0
    changed_rows: int = 0  # existing rows with at least one planned write
    new_rows: int = 0
    missing_rows: int = 0
    duplicate_keys: int = 0
    invalid: int = 0
    changes: tuple[Change, ...] = ()  # a sample (``sample_limit``) of planned writes
    differences: tuple[DiffRow, ...] = ()  # a sample of the diff relation
    header_problems: tuple[str, ...] = ()
    refused: str | None = None  # why a guard refused, if it did
    selectors: dict[str, Any] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return self.changed_rows > 0 or (self.new_rows > 0 and self.selectors.get("new_rows") == "insert")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunResult:
    run_id: int | None
    status: str  # succeeded | partial | failed  (dry runs: succeeded)
    plan: PlanResult
    fields: tuple[FieldCounts, ...]  # final figures, with written / conflicts / errors
    written: int = 0
    inserted_rows: int = 0
    conflicts: tuple[Change, ...] = ()
    errors: tuple[str, ...] = ()
    readback_mismatches: tuple[Change, ...] = ()
    dry_run: bool = False
    alerts: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        if self.plan.refused:
            return EXIT_REFUSED
        return EXIT_OK if self.status == "succeeded" else EXIT_FAILURE

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["exit_code"] = self.exit_code
        return out


__all__ = ["Change", "DiffRow", "EXIT_DIFFERENCES", "FieldCounts", "PlanResult", "RunResult"]
