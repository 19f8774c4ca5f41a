"""Sources, registered by the rule file's ``source.type``."""
from __future__ import annotations

from typing import Callable

from ..errors import ConfigurationError
from ..progress import SILENT, Progress
from ..rules.model import Source as SourceRule
from .base import CELL_ERRORS, SheetData, Source, column_letter

_REGISTRY: dict[str, Callable[[SourceRule], Source]] = {}


def register(kind: str):
    def deco(factory: Callable[[SourceRule], Source]):
        _REGISTRY[kind] = factory
        return factory
    return deco


def open_source(rule: SourceRule, progress: Progress = SILENT) -> Source:
    """The Source for a rule file's ``source:`` block; ``progress`` shows long reads on a terminal."""
    if rule.type not in _REGISTRY:  # a test may have imported one built-in source already
        _load_builtin()
    try:
        factory = _REGISTRY[rule.type]
    except KeyError:
        raise ConfigurationError(f"no source of type {rule.type!r}",
                                 hint=f"known types: {', '.join(sorted(_REGISTRY))}") from None
    source = factory(rule)
    source.progress = progress
    return source


def _load_builtin() -> None:
    # Imported lazily so that `reconcile validate` never imports gspread or openpyxl.
    from . import file, google_sheets  # noqa: F401


__all__ = ["CELL_ERRORS", "SheetData", "Source", "column_letter", "open_source", "register"]
