"""`reconcile db init` and `reconcile db status` through the CLI."""
from __future__ import annotations

import json

from click.testing import CliRunner

from engine import runlog, target
from engine.cli import main
from engine.resources import migrations
from support import tables

LATEST = max(v for v, _, _ in migrations())


def test_db_init_then_status(pg_dsn):
    runner = CliRunner()
    status = runner.invoke(main, ["db", "status", "--dsn", pg_dsn])
    assert status.exit_code == 0 and "not created" in status.output
    first = runner.invoke(main, ["db", "init", "--dsn", pg_dsn])
    again = runner.invoke(main, ["db", "init", "--dsn", pg_dsn, "--format", "json"])
    assert first.exit_code == 0 and f"version {LATEST}" in first.output
    assert json.loads(again.output) == {"ok": True, "schema_version": LATEST}
    with target.connect(pg_dsn) as conn:
        run_id = runlog.start_run(conn, tables.rules(), selectors={})
        runlog.finish_run(conn, run_id, "succeeded", {"written": 4})
    out = runner.invoke(main, ["db", "status", "--dsn", pg_dsn, "--format", "json"])
    doc = json.loads(out.output)
    assert doc["schema_version"] == LATEST
    assert [(r["id"], r["status"], r["counts"]) for r in doc["runs"]] == [(run_id, "succeeded", {"written": 4})]
    text = runner.invoke(main, ["db", "status", "--dsn", pg_dsn])
    assert "succeeded" in text.output and f"version: {LATEST}" in text.output


def test_db_init_without_a_dsn_says_where_it_looked(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["db", "init", "--format", "json"])
    assert result.exit_code == 2
    error = json.loads(result.output)["error"]
    assert error["code"] == "RC102" and "tried --dsn (not given)" in error["message"]


def test_db_commands_have_help():
    for args in (["db", "--help"], ["db", "init", "--help"], ["db", "status", "--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and "Usage" in result.output and len(result.output) > 100


def test_db_query_reads_and_cannot_write(pg_dsn):
    runner = CliRunner()
    assert runner.invoke(main, ["db", "init", "--dsn", pg_dsn]).exit_code == 0
    out = runner.invoke(main, ["db", "query", "SELECT 'buyers' AS rule, 3 AS n", "--dsn", pg_dsn, "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"ok": True, "columns": ["rule", "n"], "rows": [{"rule": "buyers", "n": 3}]}
    table = runner.invoke(main, ["db", "query", "SELECT count(*) AS runs FROM reconcile.runs", "--dsn", pg_dsn])
    assert table.stdout.splitlines() == ["runs", "----", "   0"]
    refused = runner.invoke(main, ["db", "query", "CREATE TABLE public.written (a int)", "--dsn", pg_dsn])
    assert refused.exit_code == 1 and "read-only transaction" in refused.output
    with target.connect(pg_dsn) as conn:
        assert conn.execute("SELECT to_regclass('public.written')").fetchone()[0] is None


def test_db_query_runs_one_statement_so_a_commit_cannot_open_a_writable_one(pg_dsn):
    with target.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE public.kept (a int)")
        conn.execute("INSERT INTO public.kept VALUES (1)")
        conn.commit()
    runner = CliRunner()
    for query in ("COMMIT; DELETE FROM public.kept", "SELECT 1; COMMIT; DELETE FROM public.kept; SELECT 2"):
        refused = runner.invoke(main, ["db", "query", query, "--dsn", pg_dsn])
        assert refused.exit_code == 1 and "cannot insert multiple commands" in refused.output, refused.output
    with target.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM public.kept").fetchone()[0] == 1
    empty = runner.invoke(main, ["db", "query", "  ", "--dsn", pg_dsn])
    assert empty.exit_code == 2 and "RC100 the query is empty" in empty.output
    literal = runner.invoke(main, ["db", "query", "SELECT '100%' AS a", "--dsn", pg_dsn, "--format", "json"])
    assert json.loads(literal.stdout)["rows"] == [{"a": "100%"}], "a % in the SQL is not a placeholder"
