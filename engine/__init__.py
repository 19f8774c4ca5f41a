"""reconcile: declarative, verifiable sync from a spreadsheet to PostgreSQL.

The public API, which the CLI is a thin layer over::

    import engine
    rules = engine.load_rules("rules/buyers.yaml")
    problems = engine.validate_paths(["rules/"])
    planned = engine.plan(rules, keys=["6666"])        # what would be written; writes nothing
    result = engine.run(rules)                         # apply, log, read back
    report = engine.verify(rules)                      # records where table and sheet disagree
    engine.recover(rules, keys=["6666"]); engine.rollback(backup_id, dsn=...)
    engine.field_stats(dsn, "buyers", since=timedelta(hours=24))   # per-field figures

Names are imported on first use, so ``import engine`` stays cheap (``reconcile validate``
never loads DuckDB or psycopg).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_rules": "engine.rules",
    "validate_paths": "engine.rules",
    "open_session": "engine.api",
    "plan": "engine.api",
    "run": "engine.api",
    "check": "engine.coverage",
    "verify": "engine.consistency",
    "recover": "engine.recovery",
    "rollback": "engine.recovery",
    "field_stats": "engine.monitor",
    "records_with_issues": "engine.monitor",
    "check_thresholds": "engine.monitor",
    "notify": "engine.monitor",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


__all__ = ["__version__", *_API]
