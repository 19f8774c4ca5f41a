"""The buyer 6666 incident, end to end through the CLI against real PostgreSQL.

The sample sheet (examples/buyers.csv) holds buyer 6666's viewing follow-up and its
assignee; the seeded table has both out of date. plan must show them, run must write them
(and log old and new values), a second run must find nothing.
"""
from __future__ import annotations

import json

import psycopg
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.resources import resource_path

pytestmark = pytest.mark.integration
RULES = str(resource_path("rules", "buyers_file.yaml"))
FOLLOW_UP = ("viewing_result_follow_up", "follow_up_assignee")



def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def buyer(dsn: str, key: str) -> dict:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute("SELECT * FROM public.buyers WHERE buyer_number = %s", [key])
        return dict(zip([c.name for c in cur.description], cur.fetchone()))


def test_buyer_6666_follow_up_fields_are_planned_written_logged_and_converge(buyers_dsn):
    stale = buyer(buyers_dsn, "6666")

    planned = cli("plan", RULES, "--dsn", buyers_dsn, "--format", "json", "--detailed-exitcode")
    assert planned.exit_code == 3, planned.output
    plan = json.loads(planned.output)["plan"]
    assert plan["changed_rows"] > 0
    counts = {f["field"]: f for f in plan["fields"]}
    assert all(counts[f]["differing"] >= 1 for f in FOLLOW_UP)
    assert buyer(buyers_dsn, "6666") == stale  # plan wrote nothing

    ran = cli("run", RULES, "--dsn", buyers_dsn, "--format", "json")
    assert ran.exit_code == 0, ran.output
    run = json.loads(ran.output)["run"]
    assert run["status"] == "succeeded"
    fixed = buyer(buyers_dsn, "6666")
    assert fixed["viewing_result_follow_up"] == "2回目内覧希望・金曜に電話"
    assert fixed["follow_up_assignee"] == "田中"

    with psycopg.connect(buyers_dsn) as conn:
        logged = conn.execute(
            "SELECT field_name, old_value, new_value FROM reconcile.field_sync_logs "
            "WHERE run_id = %s AND record_key = '6666' AND success ORDER BY field_name",
            [run["run_id"]]).fetchall()
        stats = conn.execute("SELECT count(*) FROM reconcile.field_stats WHERE run_id = %s",
                             [run["run_id"]]).fetchone()[0]
    assert [(f, n) for f, _, n in logged if f in FOLLOW_UP] == [
        ("follow_up_assignee", "田中"), ("viewing_result_follow_up", "2回目内覧希望・金曜に電話")]
    assert {f: o for f, o, _ in logged if f in FOLLOW_UP} == {f: stale[f] for f in FOLLOW_UP}
    assert stats == len(counts)

    again = cli("run", RULES, "--dsn", buyers_dsn, "--format", "json")
    assert again.exit_code == 0
    assert json.loads(again.output)["run"]["written"] == 0
    assert cli("plan", RULES, "--dsn", buyers_dsn, "--detailed-exitcode").exit_code == 0


def test_targeted_resync_of_one_buyer_and_one_field(buyers_dsn):
    assert cli("run", RULES, "--dsn", buyers_dsn).exit_code == 0
    with psycopg.connect(buyers_dsn) as conn:
        conn.execute("UPDATE public.buyers SET follow_up_assignee = 'stale', notes = 'stale' "
                     "WHERE buyer_number IN ('6666', (SELECT min(buyer_number) FROM public.buyers))")

    ran = cli("run", RULES, "--dsn", buyers_dsn, "--key", "6666", "--fields", "follow_up_assignee",
              "--format", "json")
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.output)["run"]["written"] == 1
    assert buyer(buyers_dsn, "6666")["follow_up_assignee"] == "田中"
    assert buyer(buyers_dsn, "6666")["notes"] == "stale"  # not selected: untouched
    remaining = cli("plan", RULES, "--dsn", buyers_dsn, "--format", "json")
    fields = {f["field"]: f["differing"] for f in json.loads(remaining.output)["plan"]["fields"]}
    assert fields["notes"] >= 1


def test_json_output_is_one_document_and_hides_the_password(buyers_dsn):
    dsn_with_password = buyers_dsn + " password=s3cret-value"
    ran = cli("plan", RULES, "--dsn", dsn_with_password, "--format", "json")
    assert ran.exit_code == 0 and json.loads(ran.stdout)["ok"] is True  # exactly one document
    assert "s3cret-value" not in ran.output


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_connection_error_names_the_server_but_not_the_password(fmt):
    dsn = "postgresql://app:s3cret-value@127.0.0.1:1/buyers"  # nothing listens on port 1
    ran = cli("plan", RULES, "--dsn", dsn, "--format", fmt)
    assert ran.exit_code == 1, ran.output
    assert "s3cret-value" not in ran.output
    if fmt == "json":
        error = json.loads(ran.stdout)["error"]
        assert error["code"] in ("RC520", "RC521")
        assert "postgresql://app:***@127.0.0.1:1/buyers" in error["message"]
    else:
        assert "cannot connect to postgresql://app:***@127.0.0.1:1/buyers" in ran.output


def test_missing_dsn_says_where_it_looked(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["plan", str(resource_path("rules", "buyers.yaml"))])
    assert result.exit_code == 2
    assert "--dsn" in result.output and "DATABASE_URL" in result.output
