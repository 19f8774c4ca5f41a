"""Each transform and comparison of a rule file compiled to a DuckDB SQL expression.

A chain is applied in *layers*: step ``i`` of every field is computed in one projection over
the columns of layer ``i - 1``, so a chain of n steps is n cheap projections, whatever the
number of rows, and no expression is ever nested inside itself. Each step yields

- a value expression (NULL passes through every step except ``default``), and
- an error expression: NULL when the cell is fine, else a message naming the transform
  and quoting the text, e.g. ``to_integer: '三人' is not an integer``.

The first error of a chain wins (``coalesce``), so invalid cells are found set-wise, in SQL.
Literal values from rule files enter SQL only through ``sql_literal``.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Sequence

import duckdb

from .duck_types import csv_read_type, duck_type, render_sql
from .rules.loader import DEFAULT_DATE_FORMATS, DEFAULT_TIMESTAMP_FORMATS
from .rules.model import Comparison, Transform
from .sources.base import CELL_ERRORS

# Whitespace as Python's str.isspace() sees it: Unicode separators plus the ASCII controls.
WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(
    chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"
_WS_CLASS = r"[\t\n\x{0b}\x{0c}\r\x{1c}-\x{1f}\x{85}\p{Z}]"
# Numbers may carry ASCII blanks around them (what RE2's \s means); nothing else. One regex
# both checks and extracts the number (trim() with a character list is slow). Most cells are
# the bare number: a full match (RE2's DFA, no capture) passes those through at a third of
# the cost of the extracting regex, which then only sees the rest.
_BARE_INTEGER = r"[+-]?[0-9]+"
_BARE_DECIMAL = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_BLANKS = r"[ \t\n\f\r]*"
_INTEGER = rf"^{_BLANKS}({_BARE_INTEGER}){_BLANKS}$"
_DECIMAL = rf"^{_BLANKS}({_BARE_DECIMAL}){_BLANKS}$"
_SERIAL = r"^[ \t\n\f\r]*[0-9]+(\.[0-9]+)?[ \t\n\f\r]*$"
SERIAL_EPOCH = "1899-12-30"
NFKC_TABLE = "reconcile_nfkc"
_JOIN_ALIAS = "__dictionary__"  # a step's dictionary (Step.join_table), renamed per lane by chain_query


def sql_literal(value: Any) -> str:
    """THE way a value from a rule file enters SQL: a quoted DuckDB string literal, or NULL.

    >>> sql_literal("it's"), sql_literal(None), sql_literal(True), sql_literal(3)
    ("'it''s'", 'NULL', "'true'", "'3'")
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    if "\x00" in text:
        raise ValueError("a NUL character cannot be used in a rule value")
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted DuckDB identifier.

    >>> ident('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


def _quoted(v: str) -> str:
    """SQL text quoting a value in a message: ``'` || v || `'``."""
    return f"('''' || CAST({v} AS VARCHAR) || '''')"


def _error_when(condition: str, v: str, prefix: str, suffix: str) -> str:
    return f"CASE WHEN {condition} THEN {sql_literal(prefix + ': ')} || {_quoted(v)} || {sql_literal(suffix)} END"


def _in_list(v: str, texts: Sequence[Any]) -> str:
    return f"{v} IN ({', '.join(sql_literal(t) for t in texts)})" if texts else "false"


@dataclass(frozen=True)
class Step:
    """One compiled step over an input column: its value, its error (or None), its output type."""

    value: str
    error: str | None
    dtype: str
    join: str | None = None  # the text to look up in a dictionary (nfkc; PostgreSQL's reading)
    join_table: str = NFKC_TABLE  # that dictionary: (src, dst)
    # A typed step fails when a non-NULL input gives NULL: (transform, what the text is not).
    # The next layer checks it from the kept input, so no expression is computed twice.
    failure: tuple[str, str] | None = None


@dataclass(frozen=True)
class Compiled:
    """A chain ready to layer: step builders, and the SQL macros its ``sql`` steps need."""

    steps: tuple[Callable[[str], Step], ...]
    macros: tuple[tuple[str, str], ...] = ()
    names: tuple[str, ...] = ()

    def upto(self, n: int) -> Compiled:
        """The first ``n`` steps only."""
        return Compiled(self.steps[:n], self.macros, self.names[:n])


# -- text transforms ----------------------------------------------------------------------------

def _text(v: str, dtype: str) -> str:
    return v if dtype == "VARCHAR" else f"CAST({v} AS VARCHAR)"


def _surely_not_blank(codepoint: str) -> str:
    """SQL true for codepoints outside ``_WS_CLASS`` in the common ranges (ASCII printable,
    Latin to Cyrillic and beyond up to U+167F, CJK and above U+3000); NULL or false otherwise."""
    return f"({codepoint} BETWEEN 33 AND 132 OR {codepoint} BETWEEN 161 AND 5759 OR {codepoint} > 12288)"


def _trim(v: str) -> Step:
    # trim() with a list of 30 characters costs 1.4s per million cells; a regex, only for
    # texts that start or end with a blank, costs a tenth of that. Before the regex, the first
    # and last codepoints (unicode(), v[-1]: cheap) let most texts through untouched at a
    # third of the regex's cost; the rest (blanks, empty, rare ranges) take the exact path.
    plain = f"{_surely_not_blank(f'unicode({v})')} AND {_surely_not_blank(f'unicode({v}[-1])')}"
    ends = f"regexp_matches({v}, '^{_WS_CLASS}|{_WS_CLASS}$')"
    return Step(f"CASE WHEN {plain} THEN {v} WHEN {ends} THEN regexp_replace({v}, '^{_WS_CLASS}+|{_WS_CLASS}+$', '', 'g') "
                f"ELSE {v} END", None, "VARCHAR")


def _collapse(v: str) -> Step:
    return Step(f"regexp_replace({v}, '{_WS_CLASS}+', ' ', 'g')", None, "VARCHAR")


def _nfkc(v: str) -> Step:
    # ASCII is NFKC already, so only other texts are looked up in the dictionary that
    # ``prepare_chains`` filled from Python's unicodedata (the layer joins it as _JOIN_ALIAS).
    return Step(f"CASE WHEN strlen({v}) = length({v}) THEN {v} ELSE coalesce({_JOIN_ALIAS}.dst, {v}) END",
                None, "VARCHAR", join=v)


def _null_if(v: str, texts: Sequence[Any]) -> Step:
    return Step(f"CASE WHEN {_in_list(v, texts)} THEN NULL ELSE {v} END", None, "VARCHAR")


def _map(v: str, args: dict[str, Any]) -> Step:
    values: dict[Any, Any] = args["values"]
    unmapped = args.get("unmapped", "keep")
    whens = " ".join(f"WHEN {sql_literal(k)} THEN {sql_literal(t)}" for k, t in values.items())
    other = {"keep": v, "null": "NULL", "invalid": "NULL"}[unmapped]
    value = f"CASE {v} {whens} ELSE {other} END" if whens else other
    error = None
    if unmapped == "invalid":
        shown = ", ".join(map(str, values))[:200]
        error = _error_when(f"{v} IS NOT NULL AND NOT ({_in_list(v, list(values))})", v, "map",
                            f" is not one of the mapped values ({shown})")
    return Step(value, error, "VARCHAR")


def _replace(v: str, args: dict[str, Any]) -> Step:
    return Step(f"regexp_replace({v}, {sql_literal(args['pattern'])}, {sql_literal(args.get('with', ''))}, 'g')",
                None, "VARCHAR")


# -- typed transforms ---------------------------------------------------------------------------

def _number_text(v: str, bare: str, pattern: str) -> str:
    """The number in ``v`` without its surrounding blanks, or NULL when ``v`` is not one.

    ``pattern`` captures the ``bare`` number between blanks, so a cell that is fully ``bare``
    is its own number.
    """
    return f"CASE WHEN regexp_full_match({v}, '{bare}') THEN {v} ELSE NULLIF(regexp_extract({v}, '{pattern}', 1), '') END"


def _integer(v: str) -> str:
    # DuckDB's cast alone accepts more than PostgreSQL ('1.5' rounds, '1_000', '0x10'). A text
    # the cast prints back unchanged is a plain integer, so it skips the regexes: most cells
    # (0.18 s of CPU less per million cells); '007', ' 7' and the rest take the exact path.
    cast = f"TRY_CAST({v} AS BIGINT)"
    return (f"CASE WHEN CAST({cast} AS VARCHAR) = {v} THEN {cast} "
            f"ELSE TRY_CAST({_number_text(v, _BARE_INTEGER, _INTEGER)} AS BIGINT) END")


def _to_integer(v: str) -> Step:
    return Step(_integer(v), None, "BIGINT", failure=("to_integer", " is not an integer"))


def _to_decimal(v: str) -> Step:
    # Stays text (checked, trimmed) so the cast to the column's type is exact at any scale.
    return Step(_number_text(v, _BARE_DECIMAL, _DECIMAL), None, "VARCHAR", failure=("to_decimal", " is not a decimal number"))


def _formats_text(formats: Sequence[str]) -> str:
    return ", ".join(formats)


def _to_date(v: str, args: dict[str, Any]) -> Step:
    formats = list(args.get("formats") or DEFAULT_DATE_FORMATS)
    value = f"CAST(try_strptime({v}, [{', '.join(map(sql_literal, formats))}]) AS DATE)"
    return Step(value, None, "DATE", failure=("to_date", f" matches none of the formats {_formats_text(formats)}"))


def _to_timestamp(v: str, args: dict[str, Any]) -> Step:
    formats = list(args.get("formats") or DEFAULT_TIMESTAMP_FORMATS)
    zone = sql_literal(args.get("timezone") or "UTC")
    tries = []
    for fmt in formats:
        parsed = f"try_strptime({v}, {sql_literal(fmt)})"
        # A format with an offset gives an instant; one without is wall time in `timezone`.
        tries.append(parsed if "%z" in fmt or "%Z" in fmt else f"timezone({zone}, {parsed})")
    value = f"coalesce({', '.join(tries)})" if len(tries) > 1 else tries[0]
    return Step(value, None, "TIMESTAMPTZ",
                failure=("to_timestamp", f" matches none of the formats {_formats_text(formats)}"))


def _to_boolean(v: str, args: dict[Any, Any]) -> Step:
    trues = _bool_texts(args, True)
    falses = _bool_texts(args, False)
    value = f"CASE WHEN {_in_list(v, trues)} THEN true WHEN {_in_list(v, falses)} THEN false END"
    shown = f" is not one of {', '.join(map(str, trues))} (true) or {', '.join(map(str, falses))} (false)"
    return Step(value, None, "BOOLEAN", failure=("to_boolean", shown))


def _bool_texts(args: dict[Any, Any], which: bool) -> list[Any]:
    for key in (("true", True) if which else ("false", False)):
        if key in args:
            return list(args[key] or [])
    return []


def _sheet_serial_date(v: str) -> Step:
    # Days since 1899-12-30; the fraction is the time of day, rounded to the second
    # (spreadsheet floats carry noise below that). Formatted dates are accepted too.
    serial = (f"CASE WHEN regexp_matches({v}, '{_SERIAL}') THEN TIMESTAMP '{SERIAL_EPOCH}' + "
              f"to_seconds(CAST(round(TRY_CAST({v} AS DOUBLE) * 86400) AS BIGINT)) END")
    formats = ", ".join(map(sql_literal, DEFAULT_TIMESTAMP_FORMATS + DEFAULT_DATE_FORMATS))
    value = f"coalesce({serial}, try_strptime({v}, [{formats}]))"
    return Step(value, None, "TIMESTAMP", failure=("sheet_serial_date", " is not a serial day number or a date"))


def _default(v: str, dtype: str, literal: Any) -> Step:
    text = sql_literal(literal)
    if dtype in ("VARCHAR", "ANY"):
        return Step(f"coalesce({v}, {text})", None, dtype)
    typed = f"TRY_CAST({text} AS {dtype})"
    error = None if literal is None else f"CASE WHEN {v} IS NULL AND {typed} IS NULL THEN " \
        f"{sql_literal(f'default: {literal!r} is not a valid {dtype}')} END"
    return Step(f"coalesce({v}, {typed})", error, dtype)


def macro_name(expr: str) -> str:
    """A stable name for the DuckDB macro wrapping a ``sql`` transform's expression."""
    return "reconcile_sql_" + hashlib.sha1(expr.encode()).hexdigest()[:12]


def compile_chain(transforms: Sequence[Transform]) -> Compiled:
    """The chain as step builders; each takes the SQL of its input column.

    >>> from engine.rules.model import Transform
    >>> chain = compile_chain([Transform("trim"), Transform("empty_to_null")])
    >>> [s("v").value for s in chain.steps][1]
    "NULLIF(v, '')"
    """
    steps: list[Callable[[str], Step]] = []
    macros: list[tuple[str, str]] = []
    dtype = "VARCHAR"
    for t in transforms:
        builder = _builder(t, dtype)
        if t.name == "sql":
            macros.append((macro_name(t.args), t.args))
        steps.append(builder)
        dtype = builder("v").dtype
    return Compiled(tuple(steps), tuple(macros), tuple(t.name for t in transforms))


# Steps that leave PostgreSQL's text of an integer or numeric(p,s) value as it is (it has no
# blanks and is never empty).
_CANONICAL_TEXT_STEPS = frozenset({"trim", "empty_to_null"})


def reads_canonical_text(transforms: Sequence[Transform], pg_type: str) -> bool:
    """Whether the chain, then the cast to the column's type, gives back every value of the
    column exactly, without error, from the text PostgreSQL prints for it.

    True for integer and ``numeric(p,s)`` columns with ``s < p`` (``csv_read_type``: one text
    per value, which DuckDB's type reads exactly and prints alike; DuckDB prints a
    ``numeric(p,p)`` value ``.5`` where PostgreSQL prints ``0.5``) whose chain is ``trim`` and
    ``empty_to_null`` steps, then at most ``to_integer`` (integer columns) or ``to_decimal``.
    For such a field, a cell whose text equals the table's text holds the table's value, so
    the diff can compare texts (``canonical_text_sql``) before it runs any chain. ``NaN``, the
    one numeric text DuckDB cannot read, is the diff's to tell apart.

    >>> reads_canonical_text([Transform("trim"), Transform("to_decimal")], "numeric(12,2)")
    True
    >>> [reads_canonical_text([Transform("to_integer")], t) for t in ("numeric(12,2)", "bigint", "numeric", "text")]
    [False, True, False, False]
    >>> reads_canonical_text([Transform("to_decimal"), Transform("trim")], "integer")
    False
    >>> reads_canonical_text([Transform("to_decimal")], "numeric(3,3)")
    False
    """
    dtype = csv_read_type(pg_type)
    if dtype is None or _decimal_scale(dtype) == _decimal_precision(dtype):
        return False
    names = [t.name for t in transforms]
    readers = ("to_integer", "to_decimal") if dtype in _INTEGERS else ("to_decimal",)
    if names and names[-1] in readers:
        names = names[:-1]
    return all(name in _CANONICAL_TEXT_STEPS for name in names)


def _decimal_precision(dtype: str) -> int | None:
    return int(dtype[len("DECIMAL("):].split(",")[0]) if dtype.startswith("DECIMAL(") else None


def _decimal_scale(dtype: str) -> int:
    return int(dtype.rstrip(")").split(",")[1]) if dtype.startswith("DECIMAL(") else 0


def canonical_text_pattern(pg_type: str) -> str | None:
    """The regular expression PostgreSQL's text of every value of a ``csv_read_type`` column
    matches in full (what DuckDB's cast to text prints too, but for a ``numeric(p,p)``), else None.

    >>> [canonical_text_pattern(t) for t in ("bigint", "numeric(12,2)", "text")]
    ['-?(?:0|[1-9][0-9]*)', '-?(?:0|[1-9][0-9]*)\\\\.[0-9]{2}', None]
    """
    dtype = csv_read_type(pg_type)
    if dtype is None:
        return None
    integer = "-?(?:0|[1-9][0-9]*)"
    scale = _decimal_scale(dtype)
    return integer + (f"\\.[0-9]{{{scale}}}" if scale else "")


def canonical_text_sql(v: str, transforms: Sequence[Transform]) -> str:
    """The raw cell ``v`` as the text it must equal for a ``reads_canonical_text`` field to
    hold the table's value: itself, or NULL for '' when the chain makes '' NULL."""
    return f"NULLIF({v}, '')" if blank_is_null(transforms) else v


def blank_is_null(transforms: Sequence[Transform]) -> bool:
    """Whether a ``reads_canonical_text`` chain makes an empty cell NULL (not invalid)."""
    return any(t.name == "empty_to_null" for t in transforms)


def _builder(t: Transform, dtype: str) -> Callable[[str], Step]:
    name, args = t.name, t.args
    simple: dict[str, Callable[[str], Step]] = {
        "trim": _trim, "collapse_whitespace": _collapse, "nfkc": _nfkc,
        "lower": lambda v: Step(f"lower({v})", None, "VARCHAR"),
        "upper": lambda v: Step(f"upper({v})", None, "VARCHAR"),
        "empty_to_null": lambda v: Step(f"NULLIF({v}, '')", None, "VARCHAR"),
        "null_if": lambda v: _null_if(v, args), "map": lambda v: _map(v, args),
        "replace": lambda v: _replace(v, args), "to_integer": _to_integer, "to_decimal": _to_decimal,
        "to_date": lambda v: _to_date(v, args or {}), "to_timestamp": lambda v: _to_timestamp(v, args or {}),
        "to_boolean": lambda v: _to_boolean(v, args), "sheet_serial_date": _sheet_serial_date,
        "sql": lambda v: Step(f"{macro_name(args)}({v})", None, "ANY"),
    }
    if name == "default":
        return lambda v: _default(v, dtype, args)
    if name not in simple:
        raise ValueError(f"unknown transform {name!r}")
    step = simple[name]
    if dtype == "VARCHAR" or name == "sql":
        return step
    return lambda v: step(_text(v, dtype))  # a text transform after a typed one reads its text


def cell_error(v: str) -> str:
    """Error SQL for a spreadsheet error value (``#N/A``, ``#REF!``, ...) in a raw cell.

    Equalities behind a prefix test, not ``IN``: DuckDB plans an ``IN`` list as a join per
    column (30 joins for 30 fields, a fifth of the diff); the prefix test lets nearly every
    cell through at once.
    """
    equal = " OR ".join(f"{v} = {sql_literal(e)}" for e in CELL_ERRORS)
    return f"CASE WHEN starts_with({v}, '#') AND ({equal}) THEN 'cell holds the spreadsheet error ' || {_quoted(v)} END"


_INTEGERS = ("SMALLINT", "INTEGER", "BIGINT")
_FLOATS = ("FLOAT", "DOUBLE")
_FIRST_INSTANT = {"DATE": "DATE '0001-01-01'", "TIMESTAMP": "TIMESTAMP '0001-01-01 00:00:00'",
                  "TIMESTAMPTZ": "TIMESTAMPTZ '0001-01-01 00:00:00+00'"}
_BOUNDED_TEXT = re.compile(r"^(character varying|character)\((\d+)\)$")


def final_cast(v: str, from_type: str, to_type: str, pg_type: str) -> Step:
    """The chain's value as the column's DuckDB type; a non-NULL value that fails is invalid.

    A text longer than a ``character varying(n)`` or ``character(n)`` column holds is invalid
    too (PostgreSQL would refuse the write, and the whole run with it), unless only spaces
    run over, which PostgreSQL cuts off, and so does this.
    """
    bounded = _BOUNDED_TEXT.match(pg_type)
    if bounded and to_type == "VARCHAR":
        kind, n, text = bounded.group(1), int(bounded.group(2)), _text(v, from_type)
        if kind == "character":  # it prints without its padding: compared without trailing spaces
            value = f"CASE WHEN length(rtrim({text}, ' ')) <= {n} THEN rtrim({text}, ' ') END"
        else:
            value = (f"CASE WHEN length({text}) <= {n} THEN {text} "
                     f"WHEN length(rtrim({text}, ' ')) <= {n} THEN left({text}, {n}) END")
        return Step(value, None, to_type, failure=("type", f" is longer than {pg_type} holds"))
    if from_type == to_type:
        if to_type not in _FIRST_INSTANT:
            return Step(v, None, to_type)
        value = v  # a date a transform made is still checked against PostgreSQL's range
    elif to_type in _INTEGERS and from_type in ("VARCHAR", "ANY"):
        text = _text(v, from_type)
        value = _integer(text) if to_type == "BIGINT" else f"TRY_CAST({_integer(text)} AS {to_type})"
    elif {to_type, from_type} == {"TIMESTAMP", "TIMESTAMPTZ"}:
        value = f"timezone('UTC', {v})"  # timestamp columns hold UTC wall time, whatever the session
    elif to_type in _FLOATS:
        value = _float(v, from_type, to_type)
    else:
        value = f"TRY_CAST({v} AS {to_type})"
    if to_type in _FIRST_INSTANT:
        value = _in_postgres_range(value, to_type, v if from_type == "VARCHAR" and to_type == "TIMESTAMPTZ" else None)
    return Step(value, None, to_type, failure=("type", f" is not a valid {pg_type}"))


def _in_postgres_range(value: str, to_type: str, text: str | None = None) -> str:
    """PostgreSQL has no year 0 and refuses '0000-01-01', which DuckDB reads as 1 BC (and would
    write so); its dates end at 5874897-12-31, DuckDB's later. A sheet's BC dates are not read
    at all (DuckDB's cast refuses 'BC'), so a finite value outside these is invalid. A
    timestamptz is checked in UTC (a BC instant prints as text DuckDB cannot read back) and,
    given its ``text``, as written, as PostgreSQL reads it ('0000-12-31 23:00-05' is year 0)."""
    outside = f"{value} < {_FIRST_INSTANT[to_type]}"
    if to_type == "DATE":
        outside += f" OR {value} > DATE '5874897-12-31'"
    if text is not None:
        outside += f" OR TRY_CAST({text} AS TIMESTAMP) < TIMESTAMP '0001-01-01 00:00:00'"
    return f"CASE WHEN ({outside}) AND isfinite({value}) THEN NULL ELSE {value} END"


def _float(v: str, from_type: str, to_type: str) -> str:
    """DuckDB reads a number past the type's range as infinity and one too small as zero
    (1e39 and 1e-50 for a real, 1e-400 for a double); PostgreSQL refuses both as out of
    range. An infinity is one only when the text says so ('inf', '-Infinity'), a zero only
    when no digit but 0 comes before its exponent. DuckDB also reads '1_0' as 10, which
    PostgreSQL refuses for a float."""
    cast, text = f"TRY_CAST({v} AS {to_type})", _text(v, from_type)
    return (f"CASE WHEN contains({text}, '_') THEN NULL "
            f"WHEN isinf({cast}) THEN CASE WHEN contains(lower({text}), 'inf') THEN {cast} END "
            f"WHEN {cast} = 0 THEN CASE WHEN NOT regexp_matches({text}, '^[^eE]*[1-9]') THEN {cast} END "
            f"ELSE {cast} END")


@dataclass(frozen=True)
class Lane:
    """One value to transform: its input column, its chain, and the column type it must reach.

    The layered query names its output columns ``l<i>_v`` (value) and ``l<i>_e`` (error).
    """

    source: str  # SQL of the input (a quoted sheet column)
    chain: Compiled
    to_type: str  # the DuckDB type of the table column
    pg_type: str  # for messages
    # The table column whose type PostgreSQL reads the value into and prints back, instead of
    # a cast in DuckDB (``reads_through_postgres``); ``prepare_chains`` fills its dictionary.
    through_postgres: str | None = None


def chain_query(source_table: str, lanes: Sequence[Lane], keep: Sequence[str], *, final: bool = True,
                source: str | None = None, numbers: Sequence[int] | None = None) -> str:
    """SQL of the layered projection: ``keep`` columns, then ``l<i>_v, l<i>_e`` for each lane.

    Layer 0 reads the cells (a spreadsheet error value is invalid at once); layer j applies
    step j of every chain and keeps its input as ``l<i>_p``, from which the next layer tells
    whether a typed step failed; the cast to the column's type comes last (unless ``final``
    is false). An ``nfkc`` step joins the NFKC dictionary (see ``prepare_chains``). ``source``,
    when given, is the SQL of the relation to read instead of the table (the same rows).
    ``numbers``: the ``<i>`` of each lane's columns (default: its position in ``lanes``).
    """
    depth = max((len(lane.chain.steps) for lane in lanes), default=0)
    kept = [ident(k) for k in keep]
    numbered = list(zip(numbers if numbers is not None else range(len(lanes)), lanes))
    first = kept + [f"{lane.source} AS l{i}_v, {cell_error(lane.source)} AS l{i}_e" for i, lane in numbered]
    layers = [f"SELECT {', '.join(first)} FROM {source or ident(source_table)}"]
    dtypes = ["VARCHAR"] * len(lanes)
    pending: list[tuple[str, str] | None] = [None] * len(lanes)
    steps = depth + 1 if final else depth
    for j in range(steps + 1):
        cols, joins = list(kept), []
        for k, (i, lane) in enumerate(numbered):
            v, errors = f"l{i}_v", [f"l{i}_e"]
            if pending[k]:
                errors.append(_error_when(f"l{i}_p IS NOT NULL AND {v} IS NULL", f"l{i}_p", *pending[k]))
            step = _layer_step(lane, j, depth, v, dtypes[k]) if j < steps else Step(v, None, dtypes[k])
            dtypes[k], pending[k] = step.dtype, step.failure
            value = step.value
            if step.join is not None:
                alias = f"n{i}"
                value = value.replace(_JOIN_ALIAS, alias)
                joins.append(f"LEFT JOIN {step.join_table} AS {alias} ON {alias}.src = {step.join}")
            errors += [step.error] if step.error else []
            error = f"coalesce({', '.join(errors)})" if len(errors) > 1 else errors[0]
            keep_input = f", {v} AS l{i}_p" if step.failure else ""
            cols.append(f"{value} AS {v}, {error} AS l{i}_e{keep_input}")
        layers.append(f"SELECT {', '.join(cols)} FROM _l{j} {' '.join(joins)}")
    ctes = ", ".join(f"_l{j} AS ({sql})" for j, sql in enumerate(layers[:-1]))
    return f"WITH {ctes} {layers[-1]}"


def _layer_step(lane: Lane, j: int, depth: int, v: str, dtype: str) -> Step:
    if j < len(lane.chain.steps):
        return lane.chain.steps[j](v)
    if j == depth and lane.through_postgres is not None:
        return _as_postgres_prints(v, dtype, lane)
    if j == depth:
        return final_cast(v, dtype, lane.to_type, lane.pg_type)
    return Step(v, None, dtype)


def postgres_dictionary(column: str) -> str:
    """The DuckDB table of (src, dst): texts and what PostgreSQL printed after reading each into
    ``column`` (dst NULL: the column's type refused it)."""
    return ident(f"reconcile_pg_{column}")


def _as_postgres_prints(v: str, dtype: str, lane: Lane) -> Step:
    """The value as PostgreSQL prints it once read into the column; NULL (invalid) if refused."""
    return Step(f"{_JOIN_ALIAS}.dst", None, "VARCHAR", join=_text(v, dtype),
                join_table=postgres_dictionary(lane.through_postgres or ""),
                failure=("type", f" is not a valid {lane.pg_type}"))


def prepare_chains(con: duckdb.DuckDBPyConnection, source_table: str, lanes: Sequence[Lane],
                   read_by_postgres: Callable[[str, list[str]], list[str | None]] | None = None) -> None:
    """Make everything the chains need exist on ``con``: ``sql`` macros, the NFKC dictionary,
    and for a lane ``through_postgres``, what PostgreSQL prints for each distinct value the
    chain gives (``read_by_postgres(column, texts)``: one text or None per text).

    NFKC has no DuckDB built-in, and Python functions in DuckDB need numpy, which reconcile
    does not depend on. So the distinct non-ASCII texts that reach each ``nfkc`` step are
    normalised once in Python and kept in a two-column table that the step joins: one extra
    scan per chain position holding an ``nfkc``, and ASCII texts never leave DuckDB.
    """
    for lane in lanes:
        for name, expr in lane.chain.macros:
            con.execute(f"CREATE OR REPLACE TEMP MACRO {ident(name)}(value) AS ({expr})")
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {NFKC_TABLE} (src VARCHAR, dst VARCHAR)")
    positions = sorted({j for lane in lanes for j, name in enumerate(lane.chain.names) if name == "nfkc"})
    for j in positions:
        _fill_nfkc(con, source_table, [lane for lane in lanes if j < len(lane.chain.names)
                                       and lane.chain.names[j] == "nfkc"], j)
    for lane in lanes:
        if lane.through_postgres is not None:
            _fill_postgres_dictionary(con, source_table, lane, read_by_postgres)


def _fill_postgres_dictionary(con: duckdb.DuckDBPyConnection, source_table: str, lane: Lane,
                              read_by_postgres: Callable[[str, list[str]], list[str | None]] | None) -> None:
    column = lane.through_postgres or ""
    table = postgres_dictionary(column)
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (src VARCHAR, dst VARCHAR)")
    before = Lane(lane.source, lane.chain, lane.to_type, lane.pg_type)  # the chain, without the final step
    query = (f"SELECT DISTINCT CAST(l0_v AS VARCHAR) FROM ({chain_query(source_table, [before], [], final=False)}) "
             f"WHERE l0_v IS NOT NULL AND CAST(l0_v AS VARCHAR) NOT IN (SELECT src FROM {table})")
    texts = [r[0] for r in con.execute(query).fetchall()]
    if not texts:
        return
    if read_by_postgres is None:
        raise ValueError(f"the values of {column!r} must be read by PostgreSQL, and no reader was given")
    con.execute(f"INSERT INTO {table} SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                [texts, read_by_postgres(column, texts)])


def _fill_nfkc(con: duckdb.DuckDBPyConnection, source_table: str, lanes: Sequence[Lane], j: int) -> None:
    truncated = [Lane(lane.source, lane.chain.upto(j), lane.to_type, lane.pg_type) for lane in lanes]
    values = ", ".join(f"CAST(l{i}_v AS VARCHAR)" for i in range(len(truncated)))
    query = (f"SELECT DISTINCT v FROM (SELECT unnest([{values}]) AS v FROM "
             f"({chain_query(source_table, truncated, [], final=False)})) "
             f"WHERE strlen(v) <> length(v) AND v NOT IN (SELECT src FROM {NFKC_TABLE})")
    texts = [r[0] for r in con.execute(query).fetchall()]
    if texts:
        normal = [unicodedata.normalize("NFKC", t) for t in texts]
        con.execute(f"INSERT INTO {NFKC_TABLE} SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])", [texts, normal])


def apply_chain(con: duckdb.DuckDBPyConnection, transforms: Sequence[Transform], texts: Sequence[str],
                pg_type: str = "text") -> list[tuple[str | None, str | None]]:
    """Run a chain on a few cell texts: (value as PostgreSQL text, error) per text, in order.

    For tests and previews; the diff runs the same SQL over the whole sheet.
    """
    chain = compile_chain(transforms)
    dtype = duck_type(pg_type)
    con.execute("CREATE OR REPLACE TEMP TABLE _reconcile_cells (_row INTEGER, c VARCHAR)")
    con.executemany("INSERT INTO _reconcile_cells VALUES (?, ?)", list(enumerate(texts)))
    lanes = [Lane(ident("c"), chain, dtype, pg_type)]
    prepare_chains(con, "_reconcile_cells", lanes)
    query = chain_query("_reconcile_cells", lanes, ["_row"])
    rows = con.execute(f"SELECT {render_sql('l0_v', dtype)}, l0_e FROM ({query}) ORDER BY _row").fetchall()
    con.execute("DROP TABLE _reconcile_cells")
    return [(v, e) for v, e in rows]


def sql_step_error(con: duckdb.DuckDBPyConnection, transforms: Sequence[Transform]) -> tuple[int, str, str] | None:
    """The first ``sql`` step that DuckDB cannot bind to the value its earlier steps give it:
    (its index, the DuckDB type of that value, DuckDB's reason), or None.

    The chain's own layered SQL, over an empty text column, is bound (EXPLAIN) and never
    run: what fails here fails in every run's diff (``upper(value)`` after ``to_integer``).
    The cast to the table column's type, which needs the catalog, is not part of it.
    """
    cells = "_reconcile_bind"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {cells} (_row INTEGER, c VARCHAR)")
    try:
        for i, t in enumerate(transforms):
            if t.name != "sql":
                continue
            lanes = [Lane(ident("c"), compile_chain(transforms[:i + 1]), "VARCHAR", "text")]
            try:
                prepare_chains(con, cells, lanes)
                con.execute("EXPLAIN " + chain_query(cells, lanes, ["_row"], final=False))
            except duckdb.Error as err:
                given = compile_chain(transforms[:i]).steps[-1]("v").dtype if i else "VARCHAR"
                return i, given, duckdb_reason(err)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {cells}")
    return None


def duckdb_reason(err: duckdb.Error) -> str:
    """DuckDB's message without its class prefix and the echoed query: its first line, and
    its 'Did you mean' line when it has one."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    first = lines[0].split(" Error: ", 1)[-1] if lines else type(err).__name__
    hint = next((line for line in lines[1:2] if line.startswith("Did you mean")), "")
    return f"{first} {hint}".strip()


# -- comparisons --------------------------------------------------------------------------------

def equal_sql(cmp: Comparison, s: str, t: str, dtype: str) -> str:
    """SQL true when sheet value ``s`` and table value ``t`` (both ``dtype``) count as equal.

    NULL equals NULL; NULL never equals a value. ``never`` compares exactly (its differences
    are reported; the plan never writes them).

    >>> equal_sql(Comparison("exact"), "s", "t", "VARCHAR")
    '(s IS NOT DISTINCT FROM t)'
    """
    if cmp.kind in ("exact", "never"):
        return f"({s} IS NOT DISTINCT FROM {t})"
    if cmp.kind == "ignore_case":
        return f"(lower({render_sql(s, dtype)}) IS NOT DISTINCT FROM lower({render_sql(t, dtype)}))"
    if cmp.kind == "ignore_whitespace":
        def strip(x: str) -> str:
            return f"regexp_replace({render_sql(x, dtype)}, '{_WS_CLASS}+', '', 'g')"
        return f"({strip(s)} IS NOT DISTINCT FROM {strip(t)})"
    if cmp.kind == "numeric":
        return _numeric_equal(s, t, dtype, cmp.tolerance or Decimal(0))
    raise ValueError(f"unknown comparison {cmp.kind!r}")


def _numeric_equal(s: str, t: str, dtype: str, tolerance: Decimal) -> str:
    # Exact decimal arithmetic (texts too), except for float columns.
    number = "DOUBLE" if dtype in _FLOATS else "DECIMAL(38,10)"
    a, b = f"TRY_CAST({s} AS {number})", f"TRY_CAST({t} AS {number})"
    tol = f"CAST({sql_literal(tolerance)} AS {number})"
    # Values that are not numbers (a text column) fall back to exact comparison.
    return (f"(CASE WHEN {s} IS NULL OR {t} IS NULL THEN {s} IS NULL AND {t} IS NULL "
            f"WHEN {a} IS NULL OR {b} IS NULL THEN {s} = {t} "
            f"ELSE {a} = {b} OR {_within(a, b, tol)} END)")  # inf - inf and NaN - NaN are NaN


def _within(a: str, b: str, tol: str) -> str:
    """``abs(a - b) <= tol``; where the subtraction overflows DECIMAL(38,10) (values 10^28
    apart), in DOUBLE instead of failing the whole diff."""
    return (f"coalesce(try(abs({a} - {b}) <= {tol}), "
            f"abs(CAST({a} AS DOUBLE) - CAST({b} AS DOUBLE)) <= CAST({tol} AS DOUBLE))")


__all__ = ["Compiled", "Lane", "Step", "apply_chain", "chain_query", "WHITESPACE", "cell_error", "compile_chain",
           "duckdb_reason", "equal_sql", "final_cast", "ident", "prepare_chains", "sql_literal", "sql_step_error"]
