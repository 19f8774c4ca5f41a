"""`reconcile check` and `reconcile run` on the shipped Google Sheets rule file (rules/buyers.yaml),
served by the emulator from the sample sheet, into real PostgreSQL: as a user would run them."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.resources import resource_path
from engine.sources import google_sheets
from support.google_fixtures import *  # noqa: F401,F403 (fixtures)
from support.google_fixtures import FakeClock
from support.sheets_emulator import Sheet, Spreadsheet

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("google_env")]
RULES = str(resource_path("rules", "buyers.yaml"))
KEY = "1BuyersSheetKey_emulated"
ACCOUNT = "reconcile-test@emulator.iam.gserviceaccount.com"


def sample_rows() -> list[list[str]]:
    with open(resource_path("examples", "buyers.csv"), encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def serve(emulator, rows: list[list[str]]) -> None:
    emulator.add(Spreadsheet(KEY, [Sheet("Summary", [["totals"]], sheet_id=0),
                                   Sheet("買主リスト", rows, sheet_id=1234)]))


def edit_header(rows: list[list[str]], old: str, new: str) -> list[list[str]]:
    return [[new if c == old else c for c in rows[0]], *rows[1:]]


def move_column(rows: list[list[str]], header: str, to: int) -> list[list[str]]:
    i = rows[0].index(header)
    out = []
    for row in rows:
        row = list(row) + [""] * (len(rows[0]) - len(row))
        cell = row.pop(i)
        row.insert(to, cell)
        out.append(row)
    return out


@pytest.fixture
def buyers_dsn(buyers_dsn, monkeypatch):
    """conftest's seeded buyers database, named to rules/buyers.yaml through its variables."""
    monkeypatch.setenv("BUYERS_SPREADSHEET_ID", KEY)
    monkeypatch.setenv("DATABASE_URL", buyers_dsn)
    monkeypatch.delenv("RECONCILE_ALERT_WEBHOOK", raising=False)
    return buyers_dsn


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def table(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT * FROM public.buyers ORDER BY buyer_number").fetchall()


def buyer(dsn: str, key: str) -> dict:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute("SELECT * FROM public.buyers WHERE buyer_number = %s", [key])
        return dict(zip([c.name for c in cur.description], cur.fetchone()))


def test_full_run_from_the_emulator_fixes_buyer_6666_and_converges(emulator, buyers_dsn):
    serve(emulator, sample_rows())
    ran = cli("run", RULES, "--format", "json")
    assert ran.exit_code == 0, ran.output
    run = json.loads(ran.stdout)["run"]
    assert run["status"] == "succeeded" and run["written"] > 0
    fixed = buyer(buyers_dsn, "6666")
    assert fixed["viewing_result_follow_up"] == "2回目内覧希望・金曜に電話"
    assert fixed["follow_up_assignee"] == "田中"
    # One metadata GET and one batchGet per run: the sample sheet is a single chunk.
    assert len(emulator.requests("values:batchGet")) == 1
    again = json.loads(cli("run", RULES, "--format", "json").stdout)["run"]
    assert again["written"] == 0 and again["status"] == "succeeded"


def test_trailing_full_width_space_in_a_header_is_found_by_check(emulator, buyers_dsn):
    """The buyer 6666 root cause: '後続担当\u3000' must still match the rule's '後続担当'."""
    serve(emulator, edit_header(sample_rows(), "後続担当", "後続担当\u3000"))
    checked = cli("check", RULES, "--format", "json")
    assert checked.exit_code == 0, checked.output
    fields = {f["field"]: f for f in json.loads(checked.stdout)["fields"]}
    assert fields["follow_up_assignee"]["sheet"]["header"] == "後続担当\u3000"
    assert fields["follow_up_assignee"]["sheet"]["letter"] == "K"


def test_trailing_full_width_space_in_a_header_is_found_by_run(emulator, buyers_dsn):
    serve(emulator, edit_header(sample_rows(), "後続担当", "後続担当\u3000"))
    ran = cli("run", RULES, "--format", "json")
    assert ran.exit_code == 0, ran.output
    assert buyer(buyers_dsn, "6666")["follow_up_assignee"] == "田中"


def test_check_as_a_user_runs_it_in_a_fresh_process(emulator, buyers_dsn, google_env):
    """The installed `reconcile` command, environment only: the source registers itself, the
    knob routes the API, the key file's token_uri routes the token."""
    serve(emulator, sample_rows())
    command = Path(sys.executable).with_name("reconcile")
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    done = subprocess.run([str(command), "check", RULES, "--format", "json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["sheet_keys"]["rows"] == len(sample_rows()) - 1
    assert f"spreadsheet {KEY} / worksheet 買主リスト" == report["sheet"]
    assert len(emulator.requests("/token")) >= 1


def test_moved_column_is_still_matched_by_header(emulator, buyers_dsn):
    serve(emulator, move_column(sample_rows(), "後続担当", 1))
    checked = json.loads(cli("check", RULES, "--format", "json").stdout)
    assert {f["field"]: f["sheet"]["letter"] for f in checked["fields"]}["follow_up_assignee"] == "B"


def test_moved_column_is_synced_by_run(emulator, buyers_dsn):
    serve(emulator, move_column(sample_rows(), "後続担当", 1))
    assert cli("run", RULES).exit_code == 0
    assert buyer(buyers_dsn, "6666")["follow_up_assignee"] == "田中"


def test_renamed_header_is_reported_by_check(emulator, buyers_dsn):
    serve(emulator, edit_header(sample_rows(), "後続担当", "後続担当者"))
    checked = cli("check", RULES, "--format", "json")
    assert checked.exit_code == 2
    problems = json.loads(checked.stdout)["problems"]
    assert any("follow_up_assignee" in p and "後続担当者" in p for p in problems)


def test_renamed_header_field_skipped_and_logged_others_synced_by_run(emulator, buyers_dsn):
    serve(emulator, edit_header(sample_rows(), "後続担当", "後続担当者"))

    stale = buyer(buyers_dsn, "6666")
    ran = cli("run", RULES, "--format", "json")
    assert ran.exit_code == 1, ran.output  # partial
    run = json.loads(ran.stdout)["run"]
    assert run["status"] == "partial"
    fixed = buyer(buyers_dsn, "6666")
    assert fixed["follow_up_assignee"] == stale["follow_up_assignee"]  # skipped, not blanked
    assert fixed["viewing_result_follow_up"] == "2回目内覧希望・金曜に電話"  # others synced
    with psycopg.connect(buyers_dsn) as conn:
        logged = conn.execute("SELECT count(*) FROM reconcile.field_sync_logs WHERE run_id = %s "
                              "AND field_name = 'follow_up_assignee' AND NOT success",
                              [run["run_id"]]).fetchone()[0]
    assert logged >= 1


def test_duplicate_headers_are_a_mapping_problem(emulator, buyers_dsn):
    serve(emulator, edit_header(sample_rows(), "備考", "氏名"))
    checked = cli("check", RULES, "--format", "json")
    assert checked.exit_code == 2
    name = {f["field"]: f for f in json.loads(checked.stdout)["fields"]}["name"]
    assert name["sheet"] is None and sorted(c["letter"] for c in name["candidates"]) == ["B", "O"]


def test_429_forever_fails_the_run_clearly_and_writes_nothing(emulator, buyers_dsn, monkeypatch):
    serve(emulator, sample_rows())
    emulator.fail(429, times=None, path="values:batchGet")
    clock = FakeClock()
    monkeypatch.setattr(google_sheets, "RETRY", clock.policy())
    before = table(buyers_dsn)
    ran = cli("run", RULES, "--format", "json")
    assert ran.exit_code == 1
    assert "Sheets API quota exceeded (429) after 5 attempts" in ran.output
    assert table(buyers_dsn) == before
    assert clock.now <= google_sheets.RETRY.deadline
    with psycopg.connect(buyers_dsn) as conn:
        status, written = conn.execute("SELECT status, (counts->>'written') FROM reconcile.runs "
                                       "ORDER BY id DESC LIMIT 1").fetchone()
    assert status == "failed" and not written


def test_unshared_sheet_fails_check_naming_the_service_account(emulator, buyers_dsn):
    serve(emulator, sample_rows())
    emulator.forbidden.add(KEY)
    before = table(buyers_dsn)
    ran = cli("check", RULES)
    assert ran.exit_code == 1
    assert f"not shared with the service account {ACCOUNT}" in ran.output
    assert table(buyers_dsn) == before


def test_unshared_sheet_fails_the_run_and_writes_nothing(emulator, buyers_dsn):
    serve(emulator, sample_rows())
    emulator.forbidden.add(KEY)
    before = table(buyers_dsn)
    ran = cli("run", RULES)
    assert ran.exit_code == 1 and f"not shared with the service account {ACCOUNT}" in ran.output
    assert table(buyers_dsn) == before
