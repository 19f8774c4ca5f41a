"""Rule-file format versions: renamed and removed keys, and one-step upgrades.

A rule file says ``version: N``. Files of an older version are upgraded one step at a
time (N -> N+1 -> ... -> CURRENT) by the functions in ``UPGRADES``, so each step stays
small and testable. Keys that were renamed or removed live in tables with a message
each, so a user who writes an old or a familiar-but-wrong name gets told what to write.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .model import Problem

if TYPE_CHECKING:
    from .loader import Document

CURRENT = 1
SUPPORTED = (1,)

# Step N -> N+1 on the plain data. Version 1 is the first published format, so none yet;
# version 2 will add `2: _upgrade_1_to_2` here and bump CURRENT.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

# (where, old key) -> new key. `*` matches any field name. These are names used in the
# original design's drafts and by neighbouring tools; the file is read as if the new key
# had been written, and the old one is still an error so the file gets fixed.
RENAMED: dict[tuple[tuple[str, ...], str], str] = {
    (("fields", "*"), "transforms"): "transform",
    (("fields", "*"), "header"): "column",
    (("fields", "*"), "comparison"): "compare",
    (("key",), "transforms"): "transform",
    (("key",), "header"): "column",
    (("source",), "sheet"): "worksheet",
    (("source",), "spreadsheet_id"): "spreadsheet",
    (("policy",), "max_changes"): "max_changed_rows",
    ((), "mappings"): "fields",
    ((), "primary_key"): "key",
}

# (where, key) -> why it is gone and what to write instead.
REMOVED: dict[tuple[tuple[str, ...], str], str] = {
    (("policy",), "delete_missing"): "rows the sheet lacks are never deleted; "
                                     "use `missing_rows: report` or `missing_rows: ignore`",
    (("fields", "*"), "required"): "a value a transform rejects is handled by `on_invalid: fail`",
}


def _matches(pattern: tuple[str, ...], path: tuple[Any, ...]) -> bool:
    return len(pattern) == len(path) and all(p in ("*", q) for p, q in zip(pattern, path))


def _mappings(data: Any, path: tuple[Any, ...] = ()):
    if isinstance(data, dict):
        yield path, data
        for key, value in data.items():
            if key != "transform":  # transform arguments are user data, not format keys
                yield from _mappings(value, path + (key,))


def rename_keys(doc: Document) -> list[Problem]:
    """Report renamed and removed keys; read renamed ones under their new name."""
    from .loader import dotted

    problems = []
    for path, mapping in list(_mappings(doc.data)):
        for key in list(mapping):
            new = next((n for (where, old), n in RENAMED.items() if old == key and _matches(where, path)), None)
            gone = next((m for (where, old), m in REMOVED.items() if old == key and _matches(where, path)), None)
            if new and new not in mapping:
                problems.append(doc.problem(path + (key,), "R071", f"{dotted(path + (key,))}: the key {key!r} "
                                            f"is called {new!r} in version {CURRENT}; rename it", at_key=True))
                mapping[new] = mapping.pop(key)
                _move_marks(doc, path + (key,), path + (new,))
            elif gone:
                problems.append(doc.problem(path + (key,), "R071", f"{dotted(path + (key,))}: the key {key!r} "
                                            f"does not exist in version {CURRENT}: {gone}", at_key=True))
                del mapping[key]
    return problems


def _move_marks(doc: Document, old: tuple[Any, ...], new: tuple[Any, ...]) -> None:
    for table in (doc.marks, doc.key_marks, doc.raw):
        for path in [p for p in table if p[:len(old)] == old]:
            table[new + path[len(old):]] = table.pop(path)


def upgrade(doc: Document) -> tuple[bool, list[Problem]]:
    """Check ``version`` and upgrade ``doc.data`` to CURRENT in place.

    Returns (readable, problems): not readable when the version is unknown, since then
    no key can be interpreted. A missing ``version`` is left to the schema (required key).
    """
    data = doc.data
    if not isinstance(data, dict):
        return True, []  # the schema says what the top level must be
    version = data.get("version", CURRENT)
    if isinstance(version, bool) or not isinstance(version, int) or version not in (*UPGRADES, *SUPPORTED):
        supported = ", ".join(map(str, SUPPORTED))
        quoted = " (a number, not a string: write it without quotes)" if isinstance(version, str) else ""
        return False, [doc.problem(("version",), "R070", f"unsupported version {version!r}{quoted}; this "
                                   f"reconcile reads version {supported} (see docs/rules.md, 'Versions')")]
    while version < CURRENT:
        doc.data = data = UPGRADES[version](data)
        version += 1
        data["version"] = version
    return True, rename_keys(doc)
