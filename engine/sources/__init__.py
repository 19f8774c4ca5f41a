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
    if rule.type not in _REGISTRY:
        _load_builtin(rule.type)
    try:
        factory = _REGISTRY[rule.type]
    except KeyError:
        raise ConfigurationError(f"no source of type {rule.type!r}",
                                 hint=f"known types: {', '.join(sorted(_REGISTRY))}") from None
    source = factory(rule)
    source.progress = progress
    return source


_BUILTIN = {"file": "file", "google_sheets": "google_sheets"}  # source type -> module


def _load_builtin(kind: str) -> None:
    # Only the module of the type asked for: a file run never imports gspread and requests.
    import importlib

    if kind in _BUILTIN:
        importlib.import_module(f"{__name__}.{_BUILTIN[kind]}")
    else:  # an unknown type: load them all, so the error can list every known one
        for module in _BUILTIN.values():
            importlib.import_module(f"{__name__}.{module}")


__all__ = ["CELL_ERRORS", "SheetData", "Source", "column_letter", "open_source", "register"]
