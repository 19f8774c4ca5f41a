"""Rule files: the model, the YAML loader with line marks, and validation.

``load_rules(path)`` gives the RuleSet the engine consumes (or raises ``RuleFileError``
listing every problem); ``validate_paths(paths)`` lists every problem of every file
without needing a database, credentials, network or environment variables.
"""
from __future__ import annotations

from .loader import load_rules, validate_paths
from .model import *  # noqa: F401,F403
from .model import Problem

__all__ = ["Problem", "load_rules", "validate_paths"]
