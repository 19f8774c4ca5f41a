"""`reconcile stats` figures (field_stats, records_with_issues) against hand-computed values."""
from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from engine import monitor
from support.monitor import NOW, add_run, schema

H = timedelta(hours=1)
pytestmark = pytest.mark.integration


@pytest.fixture
def logs(pg_dsn):
    """Four runs of rule 'b' in the last day plus one old run and one run of another rule."""
    schema(pg_dsn)
    add_run(pg_dsn, "b", ago=48 * H, fields={"note": {"compared": 99, "errors": 1}})  # outside 24h
    add_run(pg_dsn, "other", ago=1 * H, fields={"note": {"compared": 7, "errors": 1}})
    add_run(pg_dsn, "b", ago=20 * H, fields={"note": {"compared": 10, "differing": 3, "written": 3},
                                             "owner": {"compared": 10, "differing": 2, "written": 1, "conflicts": 1}},
            logs=[{"key": "K1", "field": "owner", "kind": "conflict", "message": "changed meanwhile"},
                  {"key": "K2", "field": "note", "kind": "write", "success": True, "old": "a", "new": "b"},
                  {"key": "K4", "field": "note", "kind": "write", "success": True, "old": "1", "new": "2"}])
    add_run(pg_dsn, "b", ago=10 * H, status="partial",
            fields={"note": {"compared": 10, "differing": 1, "written": 1},
                    "owner": {"compared": 0, "errors": 1}},
            logs=[{"key": "*", "field": "owner", "kind": "error", "message": "column missing"},
                  {"key": "K2", "field": "note", "kind": "write", "success": True, "old": "a", "new": "b"},
                  {"key": "K4", "field": "note", "kind": "write", "success": True, "old": "2", "new": "3"}])
    add_run(pg_dsn, "b", ago=5 * H, status="failed",
            fields={"note": {"compared": 10, "differing": 2, "errors": 1},
                    "owner": {"compared": 10, "differing": 1, "invalid": 1}},
            logs=[{"key": "K1", "field": "owner", "kind": "invalid", "message": "not a date"},
                  {"key": "K3", "field": "note", "kind": "error", "message": "check violated"}])
    add_run(pg_dsn, "b", ago=2 * H, fields={"note": {"compared": 11}, "owner": {"compared": 11}})
    return pg_dsn


def test_field_stats_equal_hand_computed(logs):
    """Sums over the window's runs only. note: 5 write attempts (4 writes, 1 error) -> rate 1/5;
    owner: a conflict and a missing-column error -> 2 of 2 failed (the invalid cell is no attempt)."""
    stats = {s.field: s for s in monitor.field_stats(logs, "b", since=24 * H, now=NOW)}
    assert set(stats) == {"note", "owner"}
    note, owner = stats["note"], stats["owner"]
    assert (note.runs, note.compared, note.differing, note.written, note.failed_runs, note.errors) == \
        (4, 41, 6, 4, 1, 1)
    assert (note.attempts, note.failed) == (5, 1) and note.failure_rate == pytest.approx(0.2)
    assert (owner.runs, owner.compared, owner.written, owner.conflicts, owner.invalid, owner.failed_runs) == \
        (4, 31, 1, 1, 1, 1)
    assert (owner.attempts, owner.failed, owner.failure_rate) == (2, 2, 1.0)
    assert owner.last_success == NOW - 2 * H + timedelta(seconds=5)
    assert note.last_run == NOW - 2 * H


def test_field_stats_one_field_and_short_window(logs):
    """--field narrows to one field; --since 6h keeps the last two runs only."""
    stats = monitor.field_stats(logs, "b", since=6 * H, field="owner", now=NOW)
    assert [(s.field, s.runs, s.compared, s.invalid, s.failed_runs, s.attempts) for s in stats] == \
        [("owner", 2, 21, 1, 0, 0)]


def test_last_success_skips_failed_runs_and_field_errors(logs):
    """A field's last success is a run where it had no error and the run did not fail."""
    add_run(logs, "b", ago=1 * H, status="failed", fields={"note": {"compared": 1}})
    add_run(logs, "b", ago=0.5 * H, status="partial", fields={"note": {"compared": 1, "errors": 1}})
    note = monitor.field_stats(logs, "b", since=24 * H, field="note", now=NOW)[0]
    assert note.last_success == NOW - 2 * H + timedelta(seconds=5)


def test_records_with_issues(logs):
    """K1/owner failed in two runs (conflict, invalid); K2/note got the same value from two plain
    runs (something reverts it); K4/note got two different values (sheet edits: no issue);
    K3/note failed once (below min_runs); the '*' row is a field-wide error, not a record."""
    found = monitor.records_with_issues(logs, "b", since=24 * H, now=NOW)
    got = {(r.record_key, r.field): r for r in found}
    assert set(got) == {("K1", "owner"), ("K2", "note")}
    k1 = got[("K1", "owner")]
    assert (k1.runs, k1.conflicts, k1.invalid, k1.errors, k1.rewrites) == (2, 1, 1, 0, 0)
    assert k1.last_message == "not a date"
    assert got[("K2", "note")].rewrites == 2
    once = monitor.records_with_issues(logs, "b", since=24 * H, now=NOW, min_runs=1, field="note")
    assert {(r.record_key, r.field) for r in once} == {("K2", "note"), ("K3", "note")}


def test_stats_on_a_database_without_logs(pg_dsn):
    """No reconcile schema yet: no figures, and nothing created by a read."""
    assert monitor.field_stats(pg_dsn, "b", since=24 * H) == []
    assert monitor.records_with_issues(pg_dsn, "b", since=24 * H) == []
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('reconcile')").fetchone() == (None,)


def test_duration_option_parses_spans():
    """--since accepts 30m, 24h, 7d and combinations; anything else is a usage error."""
    import click

    from engine.cli.monitoring import Duration

    parse = Duration().convert
    assert parse("1h30m", None, None) == timedelta(minutes=90)
    assert parse("7d", None, None) == timedelta(days=7)
    with pytest.raises(click.BadParameter):
        parse("soon", None, None)
    with pytest.raises(click.BadParameter):
        parse("5 parsecs", None, None)
