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
    for args in (["rollback", "--dsn", pg_dsn], ["rollback", "", "--dsn", pg_dsn]):  # '' too: no 'run None'
        usage = runner.invoke(main, [*args, "--format", "json"])
        assert usage.exit_code == 2 and json.loads(usage.stdout)["error"]["code"] == "RC100", usage.output


def test_rollback_without_a_database_names_only_the_places_it_looked(monkeypatch):
    """rollback takes no rule file, so the error does not say it looked in one."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    out = CliRunner().invoke(main, ["rollback", "b-1"])
    assert out.exit_code == 2 and "tried --dsn (not given), $DATABASE_URL (not set)" in out.output
    assert "rule file" not in out.output


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


RULES = """version: 1
name: items
source: {{type: file, path: sheet.csv}}
target: {{dsn: "{dsn}", table: public.items}}
key: {{field: id, column: ID}}
fields:
  note: {{column: Note}}
"""


def test_recover_then_rollback_from_the_command_line(pg_dsn, tmp_path):
    """recover --key 1 writes the sheet's note and prints the backup id; rollback of that id
    through $DATABASE_URL puts the row back exactly; a second recover writes nothing (exit 0)."""
    make_table(pg_dsn, [(1, "old", "1.20", None, None, None, None), (2, "keep", None, None, None, None, None)])
    before = snapshot(pg_dsn)
    (tmp_path / "sheet.csv").write_text("ID,Note\n1,new\n2,changed\n", encoding="utf-8")
    rules = tmp_path / "items.yaml"
    rules.write_text(RULES.format(dsn=pg_dsn), encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(main, ["recover", str(rules), "--key", "1", "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)["recovery"]
    assert (doc["written"], doc["success_count"], doc["record_keys"]) == (1, 1, ["1"])
    assert snapshot(pg_dsn)[1] == before[1]  # record 2 was not asked for
    again = runner.invoke(main, ["recover", str(rules), "--key", "1"])
    assert again.exit_code == 0 and "no backup taken" in again.output
    undo = runner.invoke(main, ["rollback", doc["backup_id"]], env={"DATABASE_URL": pg_dsn})
    assert undo.exit_code == 0, undo.output
    assert snapshot(pg_dsn) == before
