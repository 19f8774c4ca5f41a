"""`reconcile stats` and `reconcile alerts` from a rule file: output, JSON, exit codes (0 / 5)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.monitor import EXIT_ALERTS
from support import monitor as logs

pytestmark = pytest.mark.integration
RULES = """version: 1
name: b
source: {{type: file, path: sheet.csv}}
target: {{dsn: "{dsn}", table: public.t}}
key: {{field: k, column: K}}
fields:
  note: {{column: Note}}
monitoring:
  window: 1h
  alert_when: {{persistent_drift_runs: 2, zero_compared: false}}
  notify: [{{stderr: true}}]
"""


@pytest.fixture
def rule_file(pg_dsn, tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "sheet.csv").write_text("K,Note\n1,a\n", encoding="utf-8")
    path = tmp_path / "b.yaml"
    path.write_text(RULES.format(dsn=pg_dsn), encoding="utf-8")
    monkeypatch.setattr(logs, "NOW", datetime.now(timezone.utc))
    logs.schema(pg_dsn)
    return path


def test_stats_json_and_table(rule_file, pg_dsn):
    logs.add_run(pg_dsn, "b", ago=timedelta(minutes=30), fields={"note": {"compared": 4, "differing": 1, "written": 1}},
                 logs=[{"key": "1", "field": "note", "kind": "write", "success": True}])
    out = CliRunner().invoke(main, ["stats", str(rule_file), "--since", "2h", "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert [(f["field"], f["runs"], f["compared"], f["written"], f["failure_rate"]) for f in doc["fields"]] == \
        [("note", 1, 4, 1, 0.0)]
    table = CliRunner().invoke(main, ["stats", str(rule_file), "--field", "note"])
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("field "))
    assert lines[header].split() == ["field", "runs", "compared", "differing", "written", "failed", "conflicts",
                                     "invalid", "failure", "rate", "failed", "runs", "last", "success"]
    assert lines[header + 2].split()[:10] == ["note", "1", "4", "1", "1", "0", "0", "0", "0%", "0"]


def test_alerts_exit_codes(rule_file, pg_dsn):
    """No alert: exit 0. Two runs leaving 'note' different: exit 5, the line on stderr, once."""
    runner = CliRunner()
    quiet = runner.invoke(main, ["alerts", str(rule_file)])
    assert quiet.exit_code == 0, quiet.output
    for minutes in (20, 10):
        logs.add_run(pg_dsn, "b", ago=timedelta(minutes=minutes), fields={"note": {"compared": 4, "differing": 1,
                                                                                   "conflicts": 1}})
    first = runner.invoke(main, ["alerts", str(rule_file), "--format", "json"])
    assert first.exit_code == EXIT_ALERTS == 5, first.output
    assert "ALERT [b] persistent_drift field note" in first.stderr
    assert json.loads(first.stdout)["alerts"][0]["due"] is True
    again = runner.invoke(main, ["alerts", str(rule_file)])
    assert again.exit_code == 5 and "ALERT" not in again.stderr and "within window" in again.stdout


def test_a_window_past_a_century_is_a_usage_error_not_a_crash(rule_file):
    for since in ("99999999999d", "1000000d", "999999999999999999999999s"):
        out = CliRunner().invoke(main, ["stats", str(rule_file), "--since", since])
        assert out.exit_code == 2 and "is too long; at most 36500d" in out.output, out.output
    assert CliRunner().invoke(main, ["stats", str(rule_file), "--since", "36500d"]).exit_code == 0


def test_stats_for_a_field_the_rule_file_does_not_map_is_a_usage_error(rule_file):
    """It said 'no runs in the window' with exit 0, as for a field that merely had no runs."""
    out = CliRunner().invoke(main, ["stats", str(rule_file), "--field", "nots"])
    assert out.exit_code == 2 and "RC103 --field 'nots' is not mapped" in out.output and "mapped fields: note" in out.output
    assert CliRunner().invoke(main, ["stats", str(rule_file), "--field", "note"]).exit_code == 0
