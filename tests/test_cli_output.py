"""What every command prints: the text table aligns by terminal width, so Japanese field names
and values line up; an error reconcile did not expect is an error like any other."""
from __future__ import annotations

import json

import click
from click.testing import CliRunner

from engine.cli import main
from engine.cli.app import display_width, text_table
from engine.cli.render import plan_text
from engine.results import Change, FieldCounts, PlanResult
from engine.rules import loader


def test_display_width_counts_wide_characters_twice():
    assert display_width("買主番号") == 8
    assert display_width("ｶﾅ") == 2  # half-width katakana are narrow
    assert display_width("Ａ1") == 3  # a full-width letter is wide
    assert display_width("e\u0301") == 1  # a combining accent takes no cell


def test_columns_line_up_with_wide_text():
    lines = text_table(["field", "n"], [["買主番号", 1], ["name", 22]]).splitlines()
    assert lines == ["field     n",
                     "--------  --",
                     "買主番号   1",
                     "name      22"]
    assert len({display_width(line) for line in lines[1:]}) == 1, "every row ends in the same terminal cell"


def test_an_unexpected_error_is_rc900_with_exit_1_and_no_traceback_unless_asked(monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("boom at postgresql://app:s3cret@db/x")

    monkeypatch.setattr(loader, "validate_paths", broken)  # a bug, injected
    text = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert text.exit_code == 1
    assert "error: RC900 internal error: RuntimeError: boom at postgresql://app:***@db/x" in text.stderr
    assert "RECONCILE_DEBUG=1" in text.stderr
    assert "Traceback" not in text.output and "s3cret" not in text.output
    as_json = CliRunner().invoke(main, ["validate", str(tmp_path), "--format", "json"])
    document = json.loads(as_json.stdout)  # still exactly one JSON document for scripts
    assert as_json.exit_code == 1 and document["ok"] is False
    assert document["error"]["code"] == "RC900" and "s3cret" not in as_json.output
    monkeypatch.setenv("RECONCILE_DEBUG", "1")
    debug = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert debug.exit_code == 1 and "Traceback" in debug.stderr and "in broken" in debug.stderr
    assert "s3cret" not in debug.output


def test_clicks_own_usage_errors_inside_a_command_keep_exit_2(monkeypatch, tmp_path):
    def usage(*args, **kwargs):
        raise click.UsageError("no such thing")

    monkeypatch.setattr(loader, "validate_paths", usage)
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 2 and "no such thing" in result.output and "RC900" not in result.output


def test_the_plans_sample_header_counts_rows_not_updates_against_inserts():
    """It said '(20 of 13 differing fields)' when inserts were in the sample, and '(10 of 0
    differing fields)' for new rows only: the sample mixes both, the figures are the plan's rows."""
    changes = tuple(Change(f"N{i}", "note", None, "x", i, action="insert") for i in range(10))
    plan = PlanResult("r", "public.t", (FieldCounts("note", compared=0),), new_rows=10, changes=changes)
    assert "First planned writes (10 shown; the plan updates 0 row(s) and finds 10 new):" in plan_text(plan)
