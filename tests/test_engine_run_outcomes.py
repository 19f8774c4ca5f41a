"""What a run does besides succeeding, on the buyers sample through the CLI and the API:
the row guard refuses (exit 4), a dry run writes nothing, a read-back mismatch makes the run
partial (exit 1), and an edit made in the app meanwhile is a conflict, never overwritten."""
from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from engine import api
from engine.cli import main
from engine.resources import resource_path
from support.rules import file_rules

pytestmark = pytest.mark.integration
RULES = resource_path("rules", "buyers_file.yaml")



def rules_with(tmp_path: Path, old: str, new: str) -> str:
    """A copy of the sample rule file with one line changed (its sheet path made absolute)."""
    text = RULES.read_text(encoding="utf-8")
    assert old in text, old
    text = text.replace(old, new).replace("path: ../examples/buyers.csv",
                                          f"path: {resource_path('examples', 'buyers.csv')}")
    path = tmp_path / "buyers.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def table(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT b::text FROM public.buyers AS b ORDER BY buyer_number").fetchall()


def fetch(dsn: str, query: str, params: list | None = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params or []).fetchall()


def test_a_run_over_the_row_guard_exits_4_and_writes_nothing(buyers_dsn, tmp_path):
    rules = rules_with(tmp_path, "max_changed_rows: 50%", "max_changed_rows: 3")
    before = table(buyers_dsn)
    out = cli("run", rules, "--dsn", buyers_dsn, "--format", "json")
    assert out.exit_code == 4, out.output
    doc = json.loads(out.stdout)
    assert doc["ok"] is False and "more than max_changed_rows 3" in doc["run"]["plan"]["refused"]
    assert (doc["error"]["code"], doc["error"]["exit_code"]) == ("RC400", 4)
    assert doc["error"]["message"] == doc["run"]["plan"]["refused"]
    assert table(buyers_dsn) == before
    run_id = doc["run"]["run_id"]
    assert fetch(buyers_dsn, "SELECT status, (counts->>'refused')::bool FROM reconcile.runs") == [("failed", True)]
    assert fetch(buyers_dsn, "SELECT count(*) FROM reconcile.field_stats WHERE run_id = %s", [run_id]) == [(14,)]
    assert fetch(buyers_dsn, "SELECT count(*) FROM reconcile.field_sync_logs WHERE success") == [(0,)]


def test_dry_run_writes_nothing_not_even_the_log_schema(buyers_dsn):
    before = table(buyers_dsn)
    out = cli("run", str(RULES), "--dsn", buyers_dsn, "--dry-run", "--format", "json")
    assert out.exit_code == 0, out.output
    run = json.loads(out.stdout)["run"]
    assert run["dry_run"] is True and run["run_id"] is None and run["plan"]["changed_rows"] > 0
    assert table(buyers_dsn) == before
    assert fetch(buyers_dsn, "SELECT to_regnamespace('reconcile')") == [(None,)]


def test_a_read_back_mismatch_makes_the_run_partial(buyers_dsn):
    with psycopg.connect(buyers_dsn) as conn:  # something in the database rewrites what we write
        conn.execute("CREATE FUNCTION mark_follow_up() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                     "NEW.viewing_result_follow_up := NEW.viewing_result_follow_up || '（転記）'; RETURN NEW; END $$; "
                     "CREATE TRIGGER mark_follow_up BEFORE UPDATE OF viewing_result_follow_up ON public.buyers "
                     "FOR EACH ROW EXECUTE FUNCTION mark_follow_up()")
    out = cli("run", str(RULES), "--dsn", buyers_dsn, "--key", "6666", "--format", "json")
    assert out.exit_code == 1, out.output
    run = json.loads(out.stdout)["run"]
    assert run["status"] == "partial"
    assert [(m["record_key"], m["field"], m["old_value"], m["new_value"]) for m in run["readback_mismatches"]] == [
        ("6666", "viewing_result_follow_up", "2回目内覧希望・金曜に電話（転記）", "2回目内覧希望・金曜に電話")]
    assert fetch(buyers_dsn, "SELECT status, (counts->>'readback_mismatches')::int, strpos(error, %s) > 0 "
                             "FROM reconcile.runs", ["read-back mismatch: record '6666'"]) == [("partial", 1, True)]


def test_an_app_edit_made_during_the_run_is_a_conflict_and_kept(buyers_dsn):
    def app_edits_6666(session: api.Session) -> None:
        with psycopg.connect(buyers_dsn) as app:
            app.execute("UPDATE public.buyers SET follow_up_assignee = '佐藤' WHERE buyer_number = '6666'")

    result = api.run(RULES, dsn=buyers_dsn, before_apply=app_edits_6666)
    assert result.status == "succeeded" and result.exit_code == 0
    assert [(c.record_key, c.field) for c in result.conflicts] == [("6666", "follow_up_assignee")]
    kept = fetch(buyers_dsn, "SELECT follow_up_assignee, viewing_result_follow_up FROM public.buyers "
                             "WHERE buyer_number = '6666'")
    assert kept == [("佐藤", "2回目内覧希望・金曜に電話")], "the other field is written, the edited one is not"
    stats = dict(fetch(buyers_dsn, "SELECT field_name, conflicts FROM reconcile.field_stats WHERE run_id = %s",
                       [result.run_id]))
    assert stats["follow_up_assignee"] == 1 and sum(stats.values()) == 1
    assert fetch(buyers_dsn, "SELECT record_key, success, new_value FROM reconcile.field_sync_logs "
                             "WHERE run_id = %s AND field_name = 'follow_up_assignee' AND NOT success", [result.run_id]) == \
        [("6666", False, "田中")]
    following = api.plan(RULES, dsn=buyers_dsn, keys=["6666"])
    assert {c.field: c.differing for c in following.fields}["follow_up_assignee"] == 1, \
        "the next run picks the conflict up"


def test_a_percent_guard_counts_the_whole_table_whether_or_not_the_run_is_keyed(buyers_dsn, tmp_path):
    """The guard's base is the table's row count: counted by the snapshot's COPY when it copies
    every row, by a count of its own when ``--key`` restricts the COPY to a few."""
    with psycopg.connect(buyers_dsn) as conn:
        rows = conn.execute("SELECT count(*) FROM public.buyers").fetchone()[0]
    full = api.plan(str(RULES), dsn=buyers_dsn)
    assert full.table_rows == rows and full.changed_rows >= 2
    percent = 150 / rows  # allows one changed row of the whole table, none of a one-row base
    rules = rules_with(tmp_path, "max_changed_rows: 50%", f"max_changed_rows: {percent:.6f}%")
    refused = api.plan(rules, dsn=buyers_dsn)
    assert refused.refused and f"of {rows} table rows" in refused.refused
    keyed = api.plan(rules, dsn=buyers_dsn, keys=["6666"])
    assert keyed.table_rows == rows and keyed.changed_rows == 1 and not keyed.refused


def test_table_columns_named_like_the_snapshots_own_columns_sync(pg_dsn, tmp_path: Path):
    """The snapshot in DuckDB holds the key beside one column per field, named as the field:
    a field named `k` (the key's name there before) made every plan fail in DuckDB's CSV
    reader. The key's column there is now one no field can be named; `k`, `h` (the hash) and
    `values_key` are plain fields."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE public.clash (id text PRIMARY KEY, k text, h integer, values_key text)")
        conn.execute("INSERT INTO public.clash VALUES ('u1', 'old', 1, 'x'), ('u2', 'same', 2, 'y')")
    rules = file_rules(tmp_path, "clash", "id,k,h,values_key\nu1,new,10,x\nu2,same,2,y\n",
                       "  k: {column: k}\n  h: {column: h, transform: [to_integer]}\n  values_key: {column: values_key}\n")
    result = api.run(rules, dsn=pg_dsn)
    assert (result.status, result.written) == ("succeeded", 2)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT id, k, h, values_key FROM public.clash ORDER BY id").fetchall() == [
            ("u1", "new", 10, "x"), ("u2", "same", 2, "y")]
    assert api.plan(rules, dsn=pg_dsn).changed_rows == 0
