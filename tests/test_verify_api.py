"""engine.consistency (verify) as a library: verify_record, row policies, header problems and the run history."""
from __future__ import annotations

import csv

import pytest

from engine.rules import load_rules
from engine.consistency import RecordNotFound, read_history, run_history, verify, verify_record
from support import verify as world

SHEET = world.AGREED + [("4", "伊藤", "Kobe", "7")]  # 4 only in the sheet
TABLE = world.AGREED_TABLE + [("9", "Gone", "Nara", None)]  # 9 only in the table


@pytest.fixture
def rules_path(tmp_path, pg_dsn):
    return world.make_world(tmp_path, pg_dsn, SHEET, TABLE)


def test_verify_record_of_an_agreeing_record_is_consistent(rules_path, pg_dsn):
    result = verify_record(rules_path, "2", dsn=pg_dsn)
    assert result.consistent and result.records == ()
    assert result.selectors["keys"] == ["2"]


def test_verify_record_reports_a_record_missing_on_either_side(rules_path, pg_dsn):
    only_sheet = verify_record(rules_path, "4", dsn=pg_dsn)
    assert not only_sheet.consistent
    assert {(r.field, r.status, r.sheet_value) for r in only_sheet.records} == {
        ("name", "new_row", "伊藤"), ("city", "new_row", "Kobe"), ("amount", "new_row", "7.00")}
    assert only_sheet.count("new_row") == 1 and only_sheet.records_affected == 1
    only_table = verify_record(rules_path, "9", dsn=pg_dsn)
    assert [(r.record_key, r.field, r.status) for r in only_table.records] == [("9", None, "missing_row")]


def test_verify_record_of_an_unknown_key_is_an_error_not_consistent(rules_path, pg_dsn):
    with pytest.raises(RecordNotFound) as raised:
        verify_record(rules_path, "404", dsn=pg_dsn)
    assert raised.value.code == "RC160" and "'404'" in raised.value.message
    assert "public.people" in raised.value.message and raised.value.hint


def test_row_policies_decide_whether_extra_rows_count(rules_path, pg_dsn):
    reported = verify(rules_path, dsn=pg_dsn)
    assert (reported.count("new_row"), reported.count("missing_row"), reported.consistent) == (1, 1, False)
    ruleset = load_rules(rules_path)
    ignoring = world.rules(ruleset.source.path, new_rows="ignore", missing_rows="ignore")
    quiet = verify(ignoring, dsn=pg_dsn)
    assert quiet.consistent and quiet.records == ()


def test_a_field_whose_column_is_missing_is_not_called_consistent(tmp_path, pg_dsn):
    path = tmp_path / "people.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["番号", "氏名", "金額"])  # no 都市 column
        writer.writerows([(k, n, a) for k, n, _, a in world.AGREED])
    world.create_table(pg_dsn, world.AGREED_TABLE)
    result = verify(world.rules(path), dsn=pg_dsn)
    assert result.records == ()
    assert not result.consistent
    city = next(f for f in result.fields if f.field == "city")
    assert city.error
    assert any("都市" in p for p in result.header_problems)
    assert result.unchecked == ("city",) and result.verdict() == "1 field not checked"


def test_history_is_empty_when_nothing_was_ever_logged(rules_path, pg_dsn):
    assert run_history(rules_path, dsn=pg_dsn) == ()
    assert not world.schema_exists(pg_dsn)


def test_history_lists_the_latest_runs_of_this_rule_newest_first_with_summed_stats(rules_path, pg_dsn):
    world.create_log_schema(pg_dsn)
    old = world.insert_run(pg_dsn, "people", minutes_ago=30, stats=[("name", 4, 1, 1), ("city", 4, 2, 2)])
    failed = world.insert_run(pg_dsn, "people", status="failed", minutes_ago=20, error="boom",
                              stats=[("name", 4, 3, 0)])
    world.insert_run(pg_dsn, "other", minutes_ago=10, stats=[("name", 9, 9, 9)])
    newest = world.insert_run(pg_dsn, "people", command="recover", minutes_ago=1)
    history = run_history(rules_path, dsn=pg_dsn)
    assert [h.run_id for h in history] == [newest, failed, old]
    assert (history[2].compared, history[2].differing, history[2].written) == (8, 3, 3)
    assert (history[1].status, history[1].error, history[1].differing) == ("failed", "boom", 3)
    assert history[0].command == "recover" and history[0].differing == 0
    assert history[0].seconds == pytest.approx(2.5)
    assert [h.run_id for h in run_history(rules_path, dsn=pg_dsn, limit=2)] == [newest, failed]


def test_history_reads_only(rules_path, pg_dsn):
    import psycopg

    world.create_log_schema(pg_dsn)
    world.insert_run(pg_dsn, "people", stats=[("name", 1, 1, 1)])
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("SET TRANSACTION READ ONLY")  # any write in read_history would fail
        assert len(read_history(conn, "people")) == 1
