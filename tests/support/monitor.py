"""Seed the reconcile log tables directly, for monitoring tests that need no engine run."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

from engine import monitor

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def schema(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        monitor.ensure_tables(conn)


def add_run(dsn: str, rule: str, *, ago: timedelta, status: str = "succeeded", command: str = "run",
            keys: list[str] | None = None, fields: dict[str, dict[str, Any]] | None = None,
            logs: list[dict[str, Any]] | None = None) -> int:
    """One finished run started ``ago`` before NOW, with field_stats rows and field_sync_logs rows."""
    started = NOW - ago
    with psycopg.connect(dsn) as conn:
        run_id = conn.execute(
            "INSERT INTO reconcile.runs (rule_name, rule_hash, command, selectors, started_at, finished_at, status) "
            "VALUES (%s, 'h', %s, %s, %s, %s, %s) RETURNING id",
            [rule, command, json.dumps({"keys": keys or [], "fields": []}), started,
             started + timedelta(seconds=5), status]).fetchone()[0]
        for name, figures in (fields or {}).items():
            conn.execute(
                "INSERT INTO reconcile.field_stats (run_id, rule_name, field_name, compared, differing, written, "
                "conflicts, invalid, errors) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [run_id, rule, name] + [figures.get(k, 0) for k in
                                        ("compared", "differing", "written", "conflicts", "invalid", "errors")])
        for log in logs or []:
            conn.execute(
                "INSERT INTO reconcile.field_sync_logs (run_id, rule_name, record_key, field_name, success, "
                "old_value, new_value, error_message, kind, synced_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [run_id, rule, log["key"], log["field"], log.get("success", False), log.get("old"),
                 log.get("new"), log.get("message"), log.get("kind", "error"), started + timedelta(seconds=1)])
    return run_id
