"""reconcile: declarative, verifiable sync from a spreadsheet to PostgreSQL.

The public API (the CLI is a thin layer over it) is re-exported here as it lands:
``load_rules``, ``validate_paths``, ``plan``, ``run``, ``verify``, ``recover``, ``rollback``.
"""
from __future__ import annotations

__version__ = "0.1.0"
