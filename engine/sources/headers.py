"""Header resolution: which sheet column each rule reads, matched by header text.

A header drifts in ways people do not see: a trailing full-width space (``後続担当\\u3000``,
the buyer 6666 root cause), a line break typed inside the cell, full-width letters, a
column moved to another letter. Matching is on normalised text, never on position, and
every rule column that matches no header or several is reported with the closest headers
and their letters, so a field never stops syncing silently.
"""
from __future__ import annotations

import difflib
import unicodedata
from typing import Sequence

from ..columns import ColumnMap, ColumnRef, HeaderProblem
from ..rules.model import RuleSet
from .base import column_letter

# Invisible characters that survive NFKC and are not whitespace to str.split().
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
CLOSEST = 3  # candidates shown for a missing header
CLOSENESS = 0.5  # difflib ratio below which a header is not offered as "closest"


def normalize_header(text: str) -> str:
    """The form headers are compared in: NFKC, whitespace collapsed and trimmed, casefolded.

    >>> normalize_header("後続担当\\u3000")
    '後続担当'
    >>> normalize_header("  Follow-up\\n Assignee ")
    'follow-up assignee'
    >>> normalize_header("ＩＤ　番号")
    'id 番号'
    >>> normalize_header("\\ufeffid")
    'id'
    """
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return " ".join(text.split()).casefold()


def header_refs(headers: Sequence[str]) -> list[ColumnRef]:
    """Every header cell as a ColumnRef (1-based index, letters, text as read)."""
    return [ColumnRef(i, column_letter(i), h) for i, h in enumerate(headers, start=1)]


def resolve(headers: Sequence[str], rules: RuleSet, fields: Sequence[str] | None = None) -> ColumnMap:
    """Match the key column and each field's ``column`` against the header row.

    ``fields`` limits which fields are resolved (``--fields``); the key is always resolved.
    A field whose column matches no header (``missing``) or several (``ambiguous``) is a
    ``HeaderProblem`` and is listed in ``skipped``; the key in that state gives ``key=None``.
    Headers that no rule of the rule set reads are listed in ``unmapped``.
    """
    index = _index(headers)
    names = list(index)
    chosen = [rules.field(name) for name in fields] if fields else list(rules.fields)
    problems: list[HeaderProblem] = []
    key = _match(rules.key.field, rules.key.column, index, names, problems)
    resolved: dict[str, ColumnRef] = {}
    for rule in chosen:
        ref = _match(rule.name, rule.column, index, names, problems)
        if ref is not None:
            resolved[rule.name] = ref
    read = {normalize_header(rules.key.column)} | {normalize_header(f.column) for f in rules.fields}
    unmapped = tuple(ref for ref in header_refs(headers)
                     if normalize_header(ref.header) and normalize_header(ref.header) not in read)
    skipped = tuple(dict.fromkeys(p.field for p in problems if p.field != rules.key.field))
    return ColumnMap(key=key, fields=resolved, problems=tuple(problems), unmapped=unmapped, skipped=skipped)


def _index(headers: Sequence[str]) -> dict[str, list[ColumnRef]]:
    """Normalised header text -> the columns that carry it (blank headers match nothing)."""
    index: dict[str, list[ColumnRef]] = {}
    for ref in header_refs(headers):
        name = normalize_header(ref.header)
        if name:
            index.setdefault(name, []).append(ref)
    return index


def _match(field: str, column: str, index: dict[str, list[ColumnRef]], names: list[str],
           problems: list[HeaderProblem]) -> ColumnRef | None:
    wanted = normalize_header(column)
    found = index.get(wanted, [])
    if len(found) == 1:
        return found[0]
    if found:
        problems.append(HeaderProblem(field, column, "ambiguous", tuple(found)))
    else:
        problems.append(HeaderProblem(field, column, "missing", closest_headers(wanted, index, names)))
    return None


def closest_headers(wanted: str, index: dict[str, list[ColumnRef]],
                    names: list[str]) -> tuple[ColumnRef, ...]:
    """Up to ``CLOSEST`` headers whose normalised text is nearest to ``wanted`` (difflib)."""
    close = difflib.get_close_matches(wanted, names, n=CLOSEST, cutoff=CLOSENESS)
    return tuple(index[name][0] for name in close)
