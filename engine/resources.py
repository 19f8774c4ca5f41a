"""Find files shipped with reconcile (JSON Schema, SQL) in a checkout and in an install.

In a checkout they live at the top (``schemas/``, ``sql/``) where editors and CI see them;
an installed wheel carries the same folders as ``engine.schemas`` and ``engine.sql``.
"""
from __future__ import annotations

import json
from functools import cache
import importlib.util
from pathlib import Path
from typing import Any

_CHECKOUT = Path(__file__).resolve().parent.parent
# Top-level folder of the checkout -> the package it ships as (see pyproject's package-dir).
_PACKAGES = {"schemas": "engine.schemas", "sql": "engine.sql", "examples": "engine.examples",
             "rules": "engine.shipped_rules"}


def resource_path(kind: str, *parts: str) -> Path:
    """Path of a shipped file, e.g. ``resource_path("sql", "migrations", "0001_init.sql")``.

    ``kind`` is one of schemas, sql, examples (the demo's sample sheet) and rules (shipped rule files).
    """
    local = _CHECKOUT.joinpath(kind, *parts)
    if local.exists():
        return local
    for folder in _installed_folders(kind):
        shipped = folder.joinpath(*parts)
        if shipped.exists():
            return shipped
    raise FileNotFoundError(f"reconcile resource not found: {kind}/{'/'.join(parts)}")


def _installed_folders(kind: str) -> list[Path]:
    # The data folders are namespace packages (no __init__.py), which importlib.resources
    # turns into a MultiplexedPath; pip installs them as plain folders, so use those.
    spec = importlib.util.find_spec(_PACKAGES[kind])
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(location) for location in spec.submodule_search_locations]


def read_text(kind: str, *parts: str) -> str:
    return resource_path(kind, *parts).read_text(encoding="utf-8")


@cache
def rules_schema() -> dict[str, Any]:
    """The JSON Schema of rule files (``schemas/rules.schema.json``)."""
    return json.loads(read_text("schemas", "rules.schema.json"))


def sql(name: str) -> str:
    """The text of ``sql/<name>`` (for queries too long to keep inline)."""
    return read_text("sql", name)


def migrations() -> list[tuple[int, str, str]]:
    """Numbered migrations as (version, name, sql), in order: ``sql/migrations/NNNN_name.sql``."""
    folder = resource_path("sql", "migrations")
    found = []
    for path in sorted(folder.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        found.append((int(number), name, path.read_text(encoding="utf-8")))
    return found
