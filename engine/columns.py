"""What the engine knows about columns on each side, shared by sources, target and diff.

``TableInfo`` comes from the PostgreSQL catalog (``engine.target.read_table_info``);
``ColumnMap`` from matching the rule file's sheet headers against the sheet's header row
(``engine.sources.headers.resolve``). The diff consumes both and asks nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# The key's column in the table's DuckDB snapshot (beside one column per field, named as the
# field). Not a name a field can have (R050 allows only identifiers), so a table column
# named `k`, say, cannot collide with it.
SNAPSHOT_KEY = "key#"


@dataclass(frozen=True)
class ColumnType:
    """A table column as the catalog describes it."""

    name: str
    pg_type: str  # format_type(atttypid, atttypmod): 'text', 'numeric(12,2)', 'date', ...
    nullable: bool = True
    has_default: bool = False


@dataclass(frozen=True)
class TableInfo:
    schema: str
    table: str
    key: ColumnType
    columns: dict[str, ColumnType]  # every mapped field present in the table, by name
    row_count: int = 0  # exact count at snapshot time (the guard's percent base)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class ColumnRef:
    """A sheet column: 1-based index, its letters, and the header text as read."""

    index: int
    letter: str
    header: str


@dataclass(frozen=True)
class HeaderProblem:
    """A rule-file column that matched no header (``missing``) or several (``ambiguous``)."""

    field: str  # the table column / key field it was for
    column: str  # the header text the rule file asked for
    kind: str  # 'missing' | 'ambiguous'
    candidates: tuple[ColumnRef, ...] = ()  # ambiguous: the matches; missing: the closest headers

    def message(self) -> str:
        shown = ", ".join(f"{c.letter} {c.header!r}" for c in self.candidates)
        if self.kind == "ambiguous":
            return f"field {self.field!r}: sheet column {self.column!r} matches several headers: {shown}"
        hint = f"; closest headers: {shown}" if shown else ""
        return f"field {self.field!r}: sheet column {self.column!r} not found in the header row{hint}"


@dataclass(frozen=True)
class ColumnMap:
    key: ColumnRef | None  # None: the key column is missing or ambiguous (then nothing can run)
    fields: dict[str, ColumnRef]  # resolved fields only
    problems: tuple[HeaderProblem, ...] = ()
    unmapped: tuple[ColumnRef, ...] = ()  # sheet columns no rule reads (information)
    skipped: tuple[str, ...] = field(default=())  # fields with a problem: skipped, logged as errors
