"""The recover and rollback commands: exit codes and output, over a seeded backup."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from engine.cli import main
from support.recovery import make_table, set_value, snapshot, write

pytestmark = pytest.mark.integration


def test_rollback_command_exit_codes(pg_dsn):
    """0 when everything is restored, 1 with a conflict, 2 without BACKUP_ID or --run."""
    make_table(pg_dsn, [(1, "a", None, None, None, None, None), (2, "b", None, None, None, None, None)])
    before = snapshot(pg_dsn)
    _run, backup = write(pg_dsn, {(1, "note"): "x", (2, "note"): "y"})
    set_value(pg_dsn, 2, "note", "edited")
    runner = CliRunner()
    out = runner.invoke(main, ["rollback", backup, "--dsn", pg_dsn, "--format", "json"])
    assert out.exit_code == 1, out.output
    doc = json.loads(out.stdout)
    assert doc["rollback"]["restored"] == 1 and doc["rollback"]["conflicts"][0]["record_key"] == "2"
    forced = runner.invoke(main, ["rollback", backup, "--dsn", pg_dsn, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "1 fields restored (1 forced)" in forced.output
    assert snapshot(pg_dsn) == before
    assert runner.invoke(main, ["rollback", "--dsn", pg_dsn]).exit_code == 2


def test_rollback_command_reads_database_url(pg_dsn, monkeypatch):
    make_table(pg_dsn, [(1, "a", None, None, None, None, None)])
    _run, backup = write(pg_dsn, {(1, "note"): "x"})
    monkeypatch.setenv("DATABASE_URL", pg_dsn)
    out = CliRunner().invoke(main, ["rollback", backup])
    assert out.exit_code == 0, out.output
    assert snapshot(pg_dsn)[0].startswith("(1,a,")


def test_recover_command_needs_key_or_all(tmp_path):
    rules = tmp_path / "r.yaml"
    rules.write_text("version: 1\n")
    out = CliRunner().invoke(main, ["recover", str(rules)])
    assert out.exit_code == 2 and "--all-inconsistent" in out.output
    both = CliRunner().invoke(main, ["recover", str(rules), "--key", "1", "--all-inconsistent"])
    assert both.exit_code == 2
