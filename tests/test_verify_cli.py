"""`reconcile verify` against real PostgreSQL: exit codes, what it lists, selectors, reports, read-only."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from engine.cli import main
from support import verify as world

DRIFTED_SHEET = world.AGREED + [("4", "伊藤", " Kobe ", "7"), ("5", "Ono", "Sendai", "1,0x")]
DRIFTED_TABLE = world.AGREED_TABLE + [("4", "伊藤", "Nara", "7.00"), ("5", "Ono", "Sendai", "2.00")]


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def agreed(tmp_path, pg_dsn):
    return str(world.make_world(tmp_path, pg_dsn, world.AGREED, world.AGREED_TABLE)), pg_dsn


@pytest.fixture
def drifted(tmp_path, pg_dsn):
    return str(world.make_world(tmp_path, pg_dsn, DRIFTED_SHEET, DRIFTED_TABLE)), pg_dsn


def test_consistent_table_exits_0_and_says_so(agreed):
    rules, dsn = agreed
    done = cli("verify", rules, "--dsn", dsn)
    assert done.exit_code == 0, done.output
    assert "CONSISTENT" in done.output and "NOT CONSISTENT" not in done.output
    as_json = cli("verify", rules, "--dsn", dsn, "--format", "json")
    assert as_json.exit_code == 0
    document = json.loads(as_json.output)
    assert document["ok"] is True and document["verify"]["records"] == []


def test_drift_exits_3_listing_record_field_both_values_and_the_transform_result(drifted):
    rules, dsn = drifted
    done = cli("verify", rules, "--dsn", dsn)
    assert done.exit_code == 3, done.output
    assert "NOT CONSISTENT: 2 records differ" in done.output
    city = next(line for line in done.output.splitlines() if line.split()[:2] == ["4", "city"])
    assert " Kobe " in city and "Nara" in city and "changed" in city

    document = json.loads(cli("verify", rules, "--dsn", dsn, "--format", "json").output)
    assert document["ok"] is False
    records = {(r["record_key"], r["field"]): r for r in document["verify"]["records"]}
    assert set(records) == {("4", "city"), ("5", "amount")}
    assert records["4", "city"] == {
        "record_key": "4", "field": "city", "status": "changed", "sheet_row": 5, "raw_value": " Kobe ",
        "sheet_value": "Kobe", "table_value": "Nara", "message": None}
    unreadable = records["5", "amount"]
    assert unreadable["status"] == "invalid" and unreadable["raw_value"] == "1,0x"
    assert unreadable["table_value"] == "2.00" and "to_decimal" in unreadable["message"]
    drift = {f["field"]: f for f in document["verify"]["fields"]}
    assert (drift["city"]["changed"], drift["amount"]["invalid"], drift["name"]["drift"]) == (1, 1, 0)
    assert drift["city"]["compared"] == 5


def test_verify_writes_nothing_not_even_the_log_schema(drifted):
    rules, dsn = drifted
    before = world.table_rows(dsn)
    assert cli("verify", rules, "--dsn", dsn).exit_code == 3
    assert world.table_rows(dsn) == before
    assert not world.schema_exists(dsn)


def test_key_restricts_to_that_record(drifted):
    rules, dsn = drifted
    only_4 = json.loads(cli("verify", rules, "--dsn", dsn, "--key", "4", "--format", "json").output)
    assert [(r["record_key"], r["field"]) for r in only_4["verify"]["records"]] == [("4", "city")]
    clean = cli("verify", rules, "--dsn", dsn, "--key", "1", "--key", "2")
    assert clean.exit_code == 0, clean.output


def test_fields_restrict_to_those_fields(drifted):
    rules, dsn = drifted
    done = cli("verify", rules, "--dsn", dsn, "--fields", "amount,name", "--format", "json")
    assert done.exit_code == 3
    document = json.loads(done.output)
    assert [(r["record_key"], r["field"]) for r in document["verify"]["records"]] == [("5", "amount")]
    assert [f["field"] for f in document["verify"]["fields"]] == ["amount", "name"]
    assert cli("verify", rules, "--dsn", dsn, "--fields", "name").exit_code == 0


def test_unknown_field_is_a_usage_error(drifted):
    rules, dsn = drifted
    done = cli("verify", rules, "--dsn", dsn, "--fields", "nmae")
    assert done.exit_code == 2
    assert "nmae" in done.output


def test_table_output_shows_50_records_and_points_to_report_for_the_rest(tmp_path, pg_dsn):
    sheet = [(str(i), f"name {i}", "new city", "1") for i in range(60)]
    table = [(str(i), f"name {i}", "old city", "1") for i in range(60)]
    rules = str(world.make_world(tmp_path, pg_dsn, sheet, table))
    done = cli("verify", rules, "--dsn", pg_dsn)
    assert done.exit_code == 3
    listed = [line for line in done.output.splitlines() if " city " in line and "changed" in line]
    assert len(listed) == 50
    assert "... and 10 more; write them all with --report FILE" in done.output


@pytest.mark.parametrize("suffix", [".json", ".md", ".html"])
def test_report_option_writes_the_format_of_its_suffix(drifted, tmp_path, suffix):
    rules, dsn = drifted
    path = tmp_path / "out" / f"verify{suffix}"
    done = cli("verify", rules, "--dsn", dsn, "--report", str(path))
    assert done.exit_code == 3
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        assert len(json.loads(text)["result"]["records"]) == 2
    elif suffix == ".md":
        assert "| record | field | status |" in text and "` Kobe `" in text
    else:
        assert text.startswith("<!doctype html>") and 'id="drift-chart"' in text and 'id="records"' in text


def test_report_with_an_unknown_suffix_is_refused_before_anything_runs(drifted, tmp_path):
    rules, dsn = drifted
    path = tmp_path / "verify.pdf"
    done = cli("verify", rules, "--dsn", dsn, "--report", str(path), "--format", "json")
    assert done.exit_code == 2
    error = json.loads(done.output)["error"]
    assert error["code"] == "RC161" and ".pdf" in error["message"]
    assert all(s in error["hint"] for s in (".json", ".md", ".html"))
    assert not path.exists()


def test_a_report_that_cannot_be_written_is_rc162_not_a_crash(drifted, tmp_path):
    rules, dsn = drifted
    blocker = tmp_path / "blocker.json"
    blocker.write_text("{}", encoding="utf-8")
    for path in (str(blocker / "report.json"), "/proc/version.json"):  # a file in the way; a place nobody writes
        done = cli("verify", rules, "--dsn", dsn, "--report", path, "--format", "json")
        assert done.exit_code == 1, done.output
        error = json.loads(done.stdout)["error"]
        assert error["code"] == "RC162" and path in error["message"], error
