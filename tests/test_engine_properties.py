"""Correctness properties of the original design (P1, P2, P3, P5), against real PostgreSQL.

Each property runs at least 100 hypothesis examples over random sheets, tables and
injected faults; the world is small so that every example is a complete run.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import api
from engine.errors import ReconcileError
from support.engine_world import (HEADERS, fetch, load_table, rules_for, table_state, worlds,
                                  write_sheet)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FIELDS = [n for n in HEADERS if n != "k"]


@pytest.fixture
def sheet_path(tmp_path: Path) -> Path:
    return tmp_path / "sheet.csv"


@given(world=worlds, drop=st.sampled_from([None, None, "note", "amount"]))
def test_p1_sync_completeness(pg_dsn, sheet_path, world, drop):
    """P1: every mapped field has exactly one field_stats row for every run, even when its
    sheet column is missing (then it is logged as an error) or nothing differed."""
    load_table(pg_dsn, world.table)
    rules = rules_for(write_sheet(sheet_path, world.sheet, drop=drop))
    result = api.run(rules, dsn=pg_dsn)
    rows = fetch(pg_dsn, "SELECT field_name, errors FROM reconcile.field_stats WHERE run_id = %s "
                         "ORDER BY field_name", [result.run_id])
    assert [r[0] for r in rows] == sorted(FIELDS)
    errors = {name: n for name, n in rows}
    if drop:
        assert errors[drop] >= 1 and result.status == "partial"
    assert all(errors[f] == 0 for f in FIELDS if f != drop)


@given(world=worlds)
def test_p2_consistency_after_sync(pg_dsn, sheet_path, world):
    """P2: after `run`, a `plan` on the same inputs finds no difference in any field that
    had no conflict, invalid value or error, and nothing left to write at all."""
    load_table(pg_dsn, world.table)
    rules = rules_for(write_sheet(sheet_path, world.sheet))
    first = api.run(rules, dsn=pg_dsn)
    assert first.status == "succeeded", first.errors
    again = api.plan(rules, dsn=pg_dsn)
    troubled = {c.field for c in first.fields if c.conflicts or c.invalid or c.errors}
    for counts in again.fields:
        if counts.field not in troubled:
            assert counts.differing == 0, (counts, world)
    assert again.changed_rows == 0 and again.new_rows == 0
    second = api.run(rules, dsn=pg_dsn)
    assert second.written == 0 and second.inserted_rows == 0


FAULTS = st.sampled_from(["missing_column", "invalid_value", "failing_write"])


@given(world=worlds, fault=FAULTS, victim=st.integers(min_value=0, max_value=7))
def test_p3_error_transparency(pg_dsn, sheet_path, world, fault, victim):
    """P3: every injected failure (a missing sheet column, an unreadable value, a write the
    database refuses) appears in field_sync_logs with its field name and a message."""
    sheet = [dict(r) for r in world.sheet] or [{"k": "K0", "note": "", "owner": "", "amount": "", "due": ""}]
    row = sheet[victim % len(sheet)]
    drop = None
    if fault == "missing_column":
        drop, field, needle = "owner", "owner", HEADERS["owner"]
    elif fault == "invalid_value":
        row["amount"], field, needle = "not-a-number", "amount", "not-a-number"
    else:
        row["owner"], field, needle = "FORBIDDEN", "owner", "owner"
    load_table(pg_dsn, world.table)
    rules = rules_for(write_sheet(sheet_path, sheet, drop=drop))
    try:
        api.run(rules, dsn=pg_dsn)
    except ReconcileError:
        assert fault == "failing_write"  # the only fault that aborts the data transaction
    logged = fetch(pg_dsn, "SELECT field_name, error_message FROM reconcile.field_sync_logs "
                           "WHERE NOT success AND field_name = %s", [field])
    assert logged, f"{fault} left no field_sync_logs row for {field}"
    assert any(needle in (msg or "") for _, msg in logged), logged
    if fault == "failing_write":
        status = fetch(pg_dsn, "SELECT status FROM reconcile.runs")[0][0]
        assert status == "failed"


@given(world=worlds)
def test_p5_field_level_monitoring(pg_dsn, sheet_path, world):
    """P5: each field_stats row equals what the plan's diff and field_sync_logs say for that
    field: compared/differing/invalid from the diff, written/conflicts from the log."""
    load_table(pg_dsn, world.table)
    rules = rules_for(write_sheet(sheet_path, world.sheet))
    planned = {c.field: c for c in api.plan(rules, dsn=pg_dsn).fields}
    result = api.run(rules, dsn=pg_dsn)
    stats = fetch(pg_dsn, "SELECT field_name, compared, differing, written, conflicts, invalid "
                          "FROM reconcile.field_stats WHERE run_id = %s", [result.run_id])
    logs = dict(((f, k), n) for f, k, n in fetch(
        pg_dsn, "SELECT field_name, kind, count(*) FROM reconcile.field_sync_logs WHERE run_id = %s "
                "GROUP BY 1, 2", [result.run_id]))
    for name, compared, differing, written, conflicts, invalid in stats:
        assert (compared, differing) == (planned[name].compared, planned[name].differing)
        assert written == logs.get((name, "write"), 0) + logs.get((name, "insert"), 0)
        assert conflicts == logs.get((name, "conflict"), 0)
        assert invalid == logs.get((name, "invalid"), 0) == planned[name].invalid


def test_table_state_unchanged_by_plan(pg_dsn, sheet_path):
    """plan writes nothing: the table and the (absent) log schema are as they were."""
    world_table = [{"k": "K1", "note": "old", "owner": None, "amount": None, "due": None}]
    load_table(pg_dsn, world_table)
    before = table_state(pg_dsn)
    rules = rules_for(write_sheet(sheet_path, [{"k": "K1", "note": "new", "owner": "", "amount": "",
                                                "due": ""}]))
    result = api.plan(rules, dsn=pg_dsn)
    assert result.changed_rows == 1
    assert table_state(pg_dsn) == before
    assert fetch(pg_dsn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'reconcile'") == [(0,)]
