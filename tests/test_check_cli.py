"""`reconcile check` through the CLI against real PostgreSQL: exit 0 when all is mapped, 2 otherwise."""
from __future__ import annotations

import json

import psycopg
import pytest
from click.testing import CliRunner

from engine.cli import main
from support.sheets import write_rules, write_text

FIELDS = {"viewing_result_follow_up": "内見結果フォロー", "follow_up_assignee": "後続担当"}
KEY = ("buyer_number", "買主番号")


@pytest.fixture
def buyers(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE buyers (buyer_number text PRIMARY KEY, viewing_result_follow_up text, "
                      "follow_up_assignee varchar(40), budget numeric(12,2))")
        conn.execute("INSERT INTO buyers VALUES ('6666', '未', '佐藤', 1), ('6667', NULL, NULL, 2)")
    return pg_dsn


def run_check(tmp_path, dsn, sheet_text, *extra, fields=FIELDS):
    """Write the sheet and a rule file reading it, then run `reconcile check` on them."""
    sheet = write_text(tmp_path / "s.csv", sheet_text)
    rules = write_rules(tmp_path / "r.yaml", sheet, key=KEY, fields=fields)
    return CliRunner().invoke(main, ["check", str(rules), "--dsn", dsn, *extra])


def test_all_mapped_exits_0_and_shows_letters_and_types(tmp_path, buyers):
    result = run_check(tmp_path, buyers, "買主番号,内見結果フォロー,後続担当\u3000\n6666,済,山田\n6667,,\n")
    assert result.exit_code == 0, result.output
    # repr shows the hidden full-width space, so the user can see why the header looked different
    assert "C '後続担当\\u3000'" in result.output and "character varying(40)" in result.output
    assert result.output.rstrip().endswith("OK: every column is mapped.")


def test_renamed_sheet_header_exits_2_naming_field_and_closest_header(tmp_path, buyers):
    result = run_check(tmp_path, buyers, "買主番号,内見結果フォロー,後続担当者\n6666,済,山田\n")
    assert result.exit_code == 2, result.output
    assert "follow_up_assignee" in result.output and "C '後続担当者'" in result.output


def test_column_missing_from_the_table_exits_2(tmp_path, buyers):
    result = run_check(tmp_path, buyers, "買主番号,内見結果フォロー,後続担当,メール\n6666,済,山田,a@b\n",
                       "--format", "json", fields={**FIELDS, "email": "メール"})
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    email = next(f for f in document["fields"] if f["field"] == "email")
    assert email["sheet"]["letter"] == "D" and email["table_type"] is None and email["table_problem"]
    assert any("email" in p for p in document["problems"])
    others = [f for f in document["fields"] if f["field"] != "email"]
    assert all(f["table_type"] for f in others)


def test_duplicate_table_keys_fail_the_check(tmp_path, pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE buyers (buyer_number text, viewing_result_follow_up text, "
                     "follow_up_assignee text)")
        conn.execute("INSERT INTO buyers VALUES ('1', 'a', 'b'), ('1', 'c', 'd'), (NULL, 'e', 'f')")
    result = run_check(tmp_path, pg_dsn, "買主番号,内見結果フォロー,後続担当\n1,a,b\n", "--format", "json")
    document = json.loads(result.stdout)
    keys = document["table_keys"]
    assert (keys["rows"], keys["empty"], keys["duplicate_keys"], keys["duplicate_rows"]) == (3, 1, 1, 2)
    assert result.exit_code == 2 and document["ok"] is False


def test_missing_table_exits_2_and_still_reports_the_sheet(tmp_path, pg_dsn):
    result = run_check(tmp_path, pg_dsn, "買主番号,内見結果フォロー,後続担当\n1,a,b\n", "--format", "json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert any("public.buyers not found" in p for p in document["problems"])
    assert all(f["sheet"] for f in document["fields"]) and document["sheet_keys"]["rows"] == 1
