"""The README's "Try it by hand" commands, run as written, with the exit codes their comments give.

The database is the test's own (``DATABASE_URL``, and ``--dsn embedded`` pointed at it), so the
block a user copies is the block that is tested: verify, report, recover, rollback, stats and
the persistent-drift alert, on the bundled buyers sample.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from support.webhook import webhook_receiver

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Try it by hand"


def readme_commands() -> list[tuple[list[str], int]]:
    """(argv after `reconcile`, expected exit code) for each command of the section's sh block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index(SECTION):].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0] != "reconcile":
            continue  # activating the venv
        expected = re.search(r"#\s*exit (\d)", line)
        commands.append((words[1:], int(expected.group(1)) if expected else 0))
    return commands


def test_the_walkthrough_block_is_found():
    commands = readme_commands()
    assert [argv[0] for argv, _ in commands][:3] == ["demo", "verify", "verify"]
    assert {code for _, code in commands} == {0, 3, 5}


def test_readme_walkthrough_runs_as_written(pg_dsn, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the block's paths are relative to the checkout
    monkeypatch.setenv("DATABASE_URL", pg_dsn)
    runner = CliRunner()
    backup_id = None
    with webhook_receiver() as hook:
        monkeypatch.setenv("RECONCILE_ALERT_WEBHOOK", hook.url)
        for argv, expected in readme_commands():
            argv = [pg_dsn if a == "embedded" else str(tmp_path / a) if a.endswith(".html") else a for a in argv]
            if "BACKUP_ID" in argv:
                assert backup_id, "rollback before any recover printed a backup id"
                argv = [backup_id if a == "BACKUP_ID" else a for a in argv]
            if argv[0] == "demo":  # the demo drops tables, so it never reads DATABASE_URL
                argv += ["--dsn", pg_dsn]
            out = runner.invoke(main, argv)
            assert out.exit_code == expected, f"reconcile {' '.join(argv)}\n{out.output}"
            if argv[0] == "recover":
                backup_id = re.search(r"reconcile rollback ([0-9a-f-]{36})", out.output).group(1)
    report = (tmp_path / "drift.html").read_text(encoding="utf-8")
    assert report.lower().startswith("<!doctype html>") and "6666" in report
    drift = [b for b in hook.bodies if b["kind"] == "persistent_drift"]
    assert [(b["field"], b["state"]) for b in drift] == [("family_size", "firing")], hook.bodies
    assert "family_size" in drift[0]["text"]
