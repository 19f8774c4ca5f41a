"""verify on the buyers sample: the stale follow-up of buyer 6666 is found, reported, and gone after a run."""
from __future__ import annotations

import json

import pytest

# The CLI runner and rule file of the engine's e2e test (buyers_dsn is in conftest); shared, not copied.
from test_engine_buyers_e2e import RULES, cli
from test_report_formats import parse

pytestmark = pytest.mark.integration
FOLLOW_UP = ("follow_up_assignee", "viewing_result_follow_up")


def test_buyer_6666_is_inconsistent_until_a_run_and_the_report_shows_it(buyers_dsn, tmp_path):
    report = tmp_path / "verify.html"
    before = cli("verify", RULES, "--dsn", buyers_dsn, "--key", "6666", "--format", "json", "--report", str(report))
    assert before.exit_code == 3, before.output
    records = {r["field"]: r for r in json.loads(before.output)["verify"]["records"]}
    assert set(FOLLOW_UP) <= set(records)
    assert records["viewing_result_follow_up"]["sheet_value"] == "2回目内覧希望・金曜に電話"
    assert records["follow_up_assignee"]["sheet_value"] == "田中"
    assert all(records[f]["table_value"] != records[f]["sheet_value"] for f in FOLLOW_UP)

    page = parse(report.read_text(encoding="utf-8"))
    assert page.find("table", id="records")
    assert len(page.find("tr", **{"class": "changed"})) == 2, "one row per differing field of 6666"
    shown = "".join(text for _, text in page.texts)  # a highlighted value is split into spans
    assert "2回目内覧希望・金曜に電話" in shown and "田中" in shown

    assert cli("run", RULES, "--dsn", buyers_dsn).exit_code == 0
    fixed = cli("verify", RULES, "--dsn", buyers_dsn, "--key", "6666", "--report", str(tmp_path / "after.md"))
    assert fixed.exit_code == 0, fixed.output
    summary = (tmp_path / "after.md").read_text(encoding="utf-8")
    assert "**Consistent**" in summary and "| run |" in summary  # the run shows in the history

    # what a run cannot fix stays reported: unreadable cells and rows the sheet lacks, no changed value
    rest = cli("verify", RULES, "--dsn", buyers_dsn, "--format", "json")
    assert rest.exit_code == 3
    statuses = {r["status"] for r in json.loads(rest.output)["verify"]["records"]}
    assert "changed" not in statuses and statuses <= {"invalid", "missing_row", "duplicate_key", "null_key"}


def test_a_key_in_neither_side_is_an_error_not_consistent(buyers_dsn):
    out = cli("verify", RULES, "--dsn", buyers_dsn, "--key", "6666", "--key", "12345", "--format", "json")
    assert out.exit_code == 2, out.output
    error = json.loads(out.stdout)["error"]
    assert error["code"] == "RC160" and error["details"] == {"record_keys": ["12345"]}
    assert error["message"].startswith("record '12345' is neither in the sheet")
    # the key's transforms apply, as for --key of plan and run: a full-width key is found
    assert cli("verify", RULES, "--dsn", buyers_dsn, "--key", "６６６６").exit_code == 3
