"""The ``reconcile`` command line: thin click commands over the library API.

Each module in this package registers its commands on ``main``; they are found here
so that adding a command never means editing a shared list.
"""
from __future__ import annotations

import importlib
import pkgutil

from .app import entry, main

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "app":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["entry", "main"]
