"""Sources, registered by the rule file's ``source.type``."""
from __future__ import annotations

from typing import Callable

from ..rules.model import Source as SourceRule
from .base import CELL_ERRORS, SheetData, Source, column_letter

_REGISTRY: dict[str, Callable[[SourceRule], Source]] = {}


def register(kind: str):
    def deco(factory: Callable[[SourceRule], Source]):
        _REGISTRY[kind] = factory
        return factory
    return deco


def open_source(rule: SourceRule) -> Source:
    """The Source for a rule file's ``source:`` block."""
    if not _REGISTRY:
        _load_builtin()
    return _REGISTRY[rule.type](rule)


def _load_builtin() -> None:
    # Imported lazily so that `reconcile validate` never imports gspread or openpyxl.
    from . import file, google_sheets  # noqa: F401


__all__ = ["CELL_ERRORS", "SheetData", "Source", "column_letter", "open_source", "register"]
