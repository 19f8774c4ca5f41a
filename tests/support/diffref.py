"""A plain-Python reference diff, written from the documented semantics, for differential tests.

It covers the transforms, comparisons and column types the property test draws from:
trim, collapse_whitespace, nfkc, lower, upper, empty_to_null, null_if, map (keep/null/invalid),
to_integer, to_decimal; exact, ignore_case, ignore_whitespace, numeric; text, bigint,
numeric(p,s). Deliberately naive: dicts and loops, no SQL.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping, Sequence

from engine.sources import CELL_ERRORS
from engine.transforms import WHITESPACE

_WS = "[" + re.escape(WHITESPACE) + "]"
_INTEGER = re.compile(r"^[ \t\n\f\r]*[+-]?[0-9]+[ \t\n\f\r]*$")
_DECIMAL = re.compile(r"^[ \t\n\f\r]*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\f\r]*$")
_BLANKS = " \t\n\f\r"
_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")


class Invalid(Exception):
    pass


def _quoted(value: Any) -> str:
    return f"'{value}'"


def _step(name: str, args: Any, v: Any) -> Any:
    if name == "map":
        if v is None:
            return None
        values = {str(k): t for k, t in args["values"].items()}
        if v in values:
            return None if values[v] is None else str(values[v])
        if args["unmapped"] == "invalid":
            raise Invalid(f"map: {_quoted(v)} is not one of the mapped values ({', '.join(map(str, values))[:200]})")
        return None if args["unmapped"] == "null" else v
    if v is None:
        return None
    if name == "trim":
        return v.strip(WHITESPACE)
    if name == "collapse_whitespace":
        return re.sub(_WS + "+", " ", v)
    if name == "nfkc":
        return unicodedata.normalize("NFKC", v)
    if name == "lower":
        return v.lower()
    if name == "upper":
        return v.upper()
    if name == "empty_to_null":
        return None if v == "" else v
    if name == "null_if":
        return None if v in [str(a) for a in args] else v
    if name == "to_integer":
        if _INTEGER.match(v):
            n = int(v.strip(_BLANKS))
            if -2**63 <= n < 2**63:
                return n
        raise Invalid(f"to_integer: {_quoted(v)} is not an integer")
    if name == "to_decimal":
        if _DECIMAL.match(v):
            return v.strip(_BLANKS)
        raise Invalid(f"to_decimal: {_quoted(v)} is not a decimal number")
    raise ValueError(f"the reference does not know {name!r}")


def typed(value: Any, pg_type: str) -> Any:
    """A value (text or int) as the column's type, or raise Invalid-worthy ValueError."""
    if value is None:
        return None
    if pg_type == "text":
        return str(value)
    if pg_type == "bigint":
        if isinstance(value, int):
            return value
        if _INTEGER.match(value):
            n = int(value.strip(_BLANKS))
            if -2**63 <= n < 2**63:
                return n
        raise ValueError(value)
    p, s = map(int, _NUMERIC.match(pg_type).groups())
    if not _DECIMAL.match(str(value)):
        raise ValueError(value)
    d = Decimal(str(value).strip(_BLANKS))
    if not d.is_zero() and d.adjusted() >= p - s:  # too large already: rounding only grows it
        raise ValueError(value)  # (and quantizing '1e31' to 2 places overflows Decimal's 28 digits)
    q = d.quantize(Decimal(1).scaleb(-s), rounding=ROUND_HALF_UP)
    if q.is_zero():
        q = abs(q)
    if q.adjusted() >= p - s:  # rounding carried it over (99.995 in numeric(4,2))
        raise ValueError(value)
    return q


def render(value: Any) -> str | None:
    return None if value is None else str(value)


def transform(chain: Sequence[tuple[str, Any]], raw: str, pg_type: str) -> tuple[Any, str | None]:
    """(typed value, error message) of one cell."""
    if raw in CELL_ERRORS:
        return None, f"cell holds the spreadsheet error {_quoted(raw)}"
    v: Any = raw
    try:
        for name, args in chain:
            v = _step(name, args, v)
    except Invalid as err:
        return None, str(err)
    try:
        return typed(v, pg_type), None
    except ValueError:
        return None, f"type: {_quoted(v)} is not a valid {pg_type}"


def _strip_ws(text: str) -> str:
    return re.sub(_WS + "+", "", text)


def equal(kind: str, tolerance: Decimal | None, s: Any, t: Any) -> bool:
    if kind in ("exact", "never"):
        return s == t
    if s is None or t is None:
        return s is None and t is None
    if kind == "ignore_case":
        return str(s).lower() == str(t).lower()
    if kind == "ignore_whitespace":
        return _strip_ws(str(s)) == _strip_ws(str(t))
    if not (_DECIMAL.match(str(s)) and _DECIMAL.match(str(t))):  # not numbers: compared exactly
        return s == t
    return abs(Decimal(str(s).strip(_BLANKS)) - Decimal(str(t).strip(_BLANKS))) <= (tolerance or Decimal(0))


def reference_diff(fields: Sequence[Mapping[str, Any]], key_chain: Sequence[tuple[str, Any]],
                   sheet: Sequence[Mapping[str, str]], table: Sequence[Mapping[str, Any]]) -> list[tuple]:
    """The diff rows as (record_key, field, status, sheet_row, raw, sheet_value, table_value, message).

    ``fields``: dicts with name, pg_type, chain [(name, args)], compare kind, tolerance. Text
    keys only. Sheet rows are numbered from 2, in order; table rows hold PostgreSQL text.
    """
    out: list[tuple] = []
    keys = []
    for i, row in enumerate(sheet):
        raw_key = row.get("key", "")
        k, err = transform(key_chain, raw_key, "text")
        if err is not None:
            keys.append((i, None, raw_key, "key: " + err))
        elif k is None or k == "":
            keys.append((i, None, raw_key, "key is empty"))
        else:
            keys.append((i, k, raw_key, None))
    counts = Counter(k for _, k, _, _ in keys if k is not None)
    by_key = {r["key"]: r for r in table}
    for i, k, raw_key, err in keys:
        if k is None:
            out.append((None, None, "null_key", i + 2, raw_key, None, None, err))
        elif counts[k] > 1:
            out.append((k, None, "duplicate_key", i + 2, raw_key, None, None,
                        f"key '{k}' is on {counts[k]} sheet rows; none is applied"))
    for i, k, _, _ in keys:
        if k is None or counts[k] > 1:
            continue
        trow = by_key.get(k)
        for f in fields:
            raw = sheet[i].get(f["name"], "")
            value, err = transform(f["chain"], raw, f["pg_type"])
            tval = None if trow is None else trow.get(f["name"])
            if err is not None:
                out.append((k, f["name"], "invalid", i + 2, raw, None, tval, err))
            elif trow is None:
                out.append((k, f["name"], "new_row", i + 2, raw, render(value), None, None))
            elif not equal(f["compare"], f.get("tolerance"), value, typed(tval, f["pg_type"])):
                out.append((k, f["name"], "changed", i + 2, raw, render(value), tval, None))
    for k in by_key:
        if counts.get(k, 0) == 0:
            out.append((k, None, "missing_row", None, None, None, None, None))
    return sorted(out, key=lambda r: tuple("" if v is None else str(v) for v in r))


__all__ = ["equal", "reference_diff", "render", "transform", "typed"]
