"""PostgreSQL column types as DuckDB types, and typed values as text PostgreSQL reads back.

The diff compares sheet and table values typed like the table column. Both sides arrive as
text (sheet cells; the snapshot's ``::text`` output), are cast with ``TRY_CAST`` to the DuckDB
type chosen here, compared, and the sheet's value is rendered back to text for the write.

Choices worth knowing:

- ``numeric`` without a precision (or with one above 38, DuckDB's limit) becomes
  ``DECIMAL(38,10)``: exact to 10 fraction digits, up to 28 integer digits. Its text drops
  trailing fraction zeros (``12.5``, not ``12.5000000000``).
- ``timestamp with time zone`` is DuckDB's ``TIMESTAMPTZ`` (ICU is built into this DuckDB);
  rendered in UTC with an explicit ``+00`` offset whatever the session's time zone.
- ``real`` is ``FLOAT`` and ``double precision`` ``DOUBLE``: a sheet value is compared as
  the column stores it (``0.1000000001`` is the real ``0.1``), and one past the type's
  range is an invalid cell, not a failed write.
- ``smallint``, ``integer`` and ``bigint`` keep their ranges (``SMALLINT``, ``INTEGER``,
  ``BIGINT``), so a number the column cannot hold is an invalid cell, not a failed write.
- ``json``, ``jsonb``, arrays, ``character(n)`` and anything unknown stay ``VARCHAR``:
  compared as the text PostgreSQL prints. For those whose text PostgreSQL rewrites when it
  reads a value (``jsonb`` spacing, ``inet``'s netmask, ``money``, enums, domains, arrays),
  ``reads_through_postgres`` is true: the diff has PostgreSQL read each distinct sheet value
  into the column and print it back, so a value given another way compares equal, and one
  the column refuses is an invalid cell, not a failed write.
"""
from __future__ import annotations

import re

UNCONSTRAINED_NUMERIC = "DECIMAL(38,10)"
# Dates are hashed as their days since this epoch. The table's hash snapshot has PostgreSQL
# print them so (an integer prints in 80% of the time a date does, and DuckDB's reader parses
# it, typed), the sheet's dates are subtracted in DuckDB; both count days on the proleptic
# Gregorian calendar, BC dates too. +-infinity print as +-DAYS_INFINITY, further from the
# epoch than any DuckDB date.
DAYS_EPOCH = "2000-01-01"
DAYS_INFINITY = 2147483647

_EXACT = {
    "text": "VARCHAR", "character varying": "VARCHAR", "varchar": "VARCHAR", "name": "VARCHAR",
    "citext": "VARCHAR", "smallint": "SMALLINT", "integer": "INTEGER", "bigint": "BIGINT",
    "int2": "SMALLINT", "int4": "INTEGER", "int8": "BIGINT", "int": "INTEGER",
    "real": "FLOAT", "double precision": "DOUBLE", "float4": "FLOAT", "float8": "DOUBLE",
    "boolean": "BOOLEAN", "bool": "BOOLEAN", "date": "DATE",
    "timestamp without time zone": "TIMESTAMP", "timestamp": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMPTZ", "timestamptz": "TIMESTAMPTZ",
    "time without time zone": "TIME", "time": "TIME", "uuid": "UUID",
}
_NUMERIC = re.compile(r"^(?:numeric|decimal)(?:\((\d+)(?:,\s*(-?\d+))?\))?$")
_PRECISION = re.compile(r"^(timestamp|time)\(\d\)( with(?:out)? time zone)?$")
_VARCHAR_N = re.compile(r"^character varying\(\d+\)$")
# Text types whose values PostgreSQL prints exactly as given (trailing blanks of character(n) aside).
_VERBATIM = re.compile(r"^(?:text|name|citext|json|bpchar|character varying(?:\(\d+\))?|character(?:\(\d+\))?)$")


def duck_type(pg_type: str) -> str:
    """The DuckDB type that holds values of a PostgreSQL column type (``format_type`` text).

    >>> [duck_type(t) for t in ("text", "character varying(50)", "integer", "bigint", "smallint")]
    ['VARCHAR', 'VARCHAR', 'INTEGER', 'BIGINT', 'SMALLINT']
    >>> duck_type("numeric(12,1)"), duck_type("numeric(5)"), duck_type("numeric"), duck_type("numeric(50,2)")
    ('DECIMAL(12,1)', 'DECIMAL(5,0)', 'DECIMAL(38,10)', 'DECIMAL(38,10)')
    >>> duck_type("double precision"), duck_type("boolean"), duck_type("date")
    ('DOUBLE', 'BOOLEAN', 'DATE')
    >>> duck_type("timestamp without time zone"), duck_type("timestamp(3) with time zone")
    ('TIMESTAMP', 'TIMESTAMPTZ')
    >>> duck_type("uuid"), duck_type("jsonb"), duck_type("text[]"), duck_type("character(3)")
    ('UUID', 'VARCHAR', 'VARCHAR', 'VARCHAR')
    """
    name = pg_type.strip().lower()
    if name in _EXACT:
        return _EXACT[name]
    if _VARCHAR_N.match(name):
        return "VARCHAR"
    numeric = _NUMERIC.match(name)
    if numeric:
        return _decimal(numeric.group(1), numeric.group(2))
    precise = _PRECISION.match(name)
    if precise:
        return _EXACT[precise.group(1) + (precise.group(2) or " without time zone")]
    return "VARCHAR"


def reads_through_postgres(pg_type: str) -> bool:
    """Whether a value for this column type is compared as PostgreSQL prints it after reading it
    (a type DuckDB has no equivalent of, whose text PostgreSQL may rewrite or refuse).

    >>> [reads_through_postgres(t) for t in ("jsonb", "inet", "public.mood", "text", "json", "integer")]
    [True, True, True, False, False, False]
    """
    return duck_type(pg_type) == "VARCHAR" and not _VERBATIM.match(pg_type.strip().lower())


def csv_read_type(pg_type: str) -> str | None:
    """The DuckDB type DuckDB's CSV reader may parse this column's PostgreSQL text into directly,
    getting what ``TRY_CAST`` of the text gives; None where the text must be read as text.

    Integers and ``numeric(p,s)`` (whose text has exactly ``s`` fraction digits). Not an
    unconstrained ``numeric``: its text may carry more digits than ``DECIMAL(38,10)`` keeps,
    and the reader need not round them as the cast does. Not a date: the reader takes
    PostgreSQL's ``0044-03-15 BC`` for the year 44 AD, where the cast gives NULL. A text the
    reader refuses (``NaN``) is the caller's to handle.

    >>> [csv_read_type(t) for t in ("integer", "date", "numeric(12,2)", "numeric", "text", "timestamp")]
    ['INTEGER', None, 'DECIMAL(12,2)', None, None, None]
    >>> [csv_read_type(t) for t in ("numeric(50,2)", "numeric(5,6)", "numeric(5,-2)", "numeric(5)")]
    [None, None, None, 'DECIMAL(5,0)']
    """
    dtype = duck_type(pg_type)
    if dtype in ("SMALLINT", "INTEGER", "BIGINT"):
        return dtype
    numeric = _NUMERIC.match(pg_type.strip().lower())
    if numeric and numeric.group(1) is not None:
        precision, scale = int(numeric.group(1)), int(numeric.group(2) or 0)
        return dtype if precision <= 38 and 0 <= scale <= precision else None
    return None


def _decimal(precision: str | None, scale: str | None) -> str:
    if precision is None or int(precision) > 38:
        return UNCONSTRAINED_NUMERIC
    p, s = int(precision), int(scale or 0)
    if s < 0 or s > p:  # PostgreSQL 15 allows these; DuckDB does not
        return UNCONSTRAINED_NUMERIC
    return f"DECIMAL({p},{s})"


def days_sql(expr: str) -> str:
    """DuckDB SQL: the days from ``DAYS_EPOCH`` to the DATE ``expr`` (BIGINT), +-``DAYS_INFINITY``
    for +-infinity (as ``target.pg_days`` gives; DuckDB's own subtraction would not).

    >>> days_sql("d")
    "CASE WHEN isfinite(d) THEN d - DATE '2000-01-01' WHEN d > DATE '2000-01-01' THEN 2147483647 WHEN d < DATE '2000-01-01' THEN -2147483647 END"
    """
    epoch = f"DATE '{DAYS_EPOCH}'"
    return (f"CASE WHEN isfinite({expr}) THEN {expr} - {epoch} WHEN {expr} > {epoch} THEN {DAYS_INFINITY} "
            f"WHEN {expr} < {epoch} THEN -{DAYS_INFINITY} END")  # NULL stays NULL


def render_sql(expr: str, dtype: str) -> str:
    """SQL rendering a value of ``dtype`` as text PostgreSQL parses back to the same value.

    >>> render_sql("x", "VARCHAR")
    'x'
    >>> render_sql("x", "TIMESTAMPTZ")
    "(CAST(timezone('UTC', x) AS VARCHAR) || '+00')"
    """
    if dtype == "VARCHAR":
        return expr
    if dtype == "TIMESTAMPTZ":
        return f"(CAST(timezone('UTC', {expr}) AS VARCHAR) || '+00')"
    if dtype == UNCONSTRAINED_NUMERIC:
        return f"regexp_replace(CAST({expr} AS VARCHAR), '\\.?0+$', '')"
    return f"CAST({expr} AS VARCHAR)"


__all__ = ["DAYS_EPOCH", "DAYS_INFINITY", "UNCONSTRAINED_NUMERIC", "csv_read_type", "days_sql", "duck_type", "reads_through_postgres", "render_sql"]
