"""A small sheet and table for the verify and report tests, plus a hand-made VerifyResult.

The sheet is a CSV written to tmp_path with Japanese headers; the table is public.people.
``RULES_YAML`` is the same rule set as a file, for the CLI.
"""
from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence

import psycopg

from engine.rules.model import (Comparison, FieldRule, FileSource, KeyRule, Policy, RuleSet, Target,
                                Transform)
from engine.consistency import FieldDrift, Inconsistency, RunSummary, VerifyResult

HEADERS = ("番号", "氏名", "都市", "金額")
FIELDS = ("name", "city", "amount")
DDL = "CREATE TABLE public.people (k text PRIMARY KEY, name text, city text, amount numeric(10,2))"

# Sheet and table agree on these rows (after trim / empty_to_null / to_decimal).
AGREED = [("1", "佐藤", "Tokyo", "10.50"), ("2", "Suzuki ", "Osaka", "3"), ("3", "高橋", "", "")]
AGREED_TABLE = [("1", "佐藤", "Tokyo", "10.50"), ("2", "Suzuki", "Osaka", "3.00"), ("3", "高橋", None, None)]

RULES_YAML = """\
version: 1
name: people
source: {{type: file, path: {csv}}}
target: {{table: public.people}}
key: {{field: k, column: 番号, transform: [trim]}}
fields:
  name: {{column: 氏名, transform: [trim, empty_to_null]}}
  city: {{column: 都市, transform: [trim, empty_to_null]}}
  amount: {{column: 金額, transform: [trim, empty_to_null, to_decimal], on_invalid: keep}}
policy: {{new_rows: report, missing_rows: report}}
"""


def rules(csv_path: Path, *, new_rows: str = "report", missing_rows: str = "report") -> RuleSet:
    return RuleSet(
        version=1, name="people", source=FileSource(path=csv_path),
        target=Target(dsn=None, schema="public", table="people"),
        key=KeyRule(field="k", column="番号", transforms=(Transform("trim"),)),
        fields=(
            FieldRule("name", "氏名", (Transform("trim"), Transform("empty_to_null"))),
            FieldRule("city", "都市", (Transform("trim"), Transform("empty_to_null"))),
            FieldRule("amount", "金額", (Transform("trim"), Transform("empty_to_null"), Transform("to_decimal")),
                      compare=Comparison("exact")),
        ),
        policy=Policy(new_rows=new_rows, missing_rows=missing_rows), hash="test")


def write_sheet(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        writer.writerows(rows)
    return path


def write_rules(folder: Path, csv_path: Path) -> Path:
    path = folder / "people.yaml"
    path.write_text(RULES_YAML.format(csv=csv_path), encoding="utf-8")
    return path


def create_table(dsn: str, rows: Sequence[Sequence[str | None]]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(DDL)
        with conn.cursor().copy("COPY public.people (k, name, city, amount) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def table_rows(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT k, name, city, amount::text FROM public.people ORDER BY k").fetchall()


def create_log_schema(dsn: str) -> None:
    from engine.resources import migrations

    with psycopg.connect(dsn, autocommit=True) as conn:
        for _, _, text in migrations():
            conn.execute(text)


def insert_run(dsn: str, rule: str, *, status: str = "succeeded", command: str = "run", minutes_ago: int = 0,
               stats: Sequence[tuple[str, int, int, int]] = (), error: str | None = None) -> int:
    """A finished run with field_stats rows (field, compared, differing, written); returns its id."""
    started = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    with psycopg.connect(dsn) as conn:
        run_id = conn.execute(
            "INSERT INTO reconcile.runs (rule_name, rule_hash, command, status, started_at, finished_at, error) "
            "VALUES (%s, 'h', %s, %s, %s, %s, %s) RETURNING id",
            [rule, command, status, started, started + timedelta(seconds=2.5), error]).fetchone()[0]
        for field, compared, differing, written in stats:
            conn.execute("INSERT INTO reconcile.field_stats (run_id, rule_name, field_name, compared, differing, "
                         "written) VALUES (%s, %s, %s, %s, %s, %s)", [run_id, rule, field, compared, differing, written])
    return run_id


XSS = "<script>alert('x')</script>"


def sample_result(*, records: int = 3, consistent: bool = False) -> VerifyResult:
    """A hand-made result with hostile and tricky values (markup, whitespace, newlines, NULL)."""
    found = [
        Inconsistency("6666", "follow_up", "changed", 12, "2回目内覧希望・金曜に電話 ", "2回目内覧希望・金曜に電話",
                      "2回目内覧希望", None),
        Inconsistency("7001", "assignee", "changed", 14, XSS, XSS, "田中", None),
        Inconsistency("7002", "amount", "invalid", 15, "1,0x0", None, "100.00", "to_decimal: '1,0x0' is not a number"),
        Inconsistency("7003", "assignee", "new_row", 16, "鈴木", "鈴木", None, None),
        Inconsistency("9999", None, "missing_row", None, None, None, None, None),
        Inconsistency("7004", "note", "changed", 17, "line one\nline two", "line one\nline two", "line one", None),
    ][:records] if not consistent else []
    return VerifyResult(
        rule_name="buyers", table="public.buyers", checked_at=datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc),
        consistent=consistent or not found,
        fields=(FieldDrift("follow_up", 120, 1, 0), FieldDrift("assignee", 120, 1, 0),
                FieldDrift("amount", 120, 0, 1), FieldDrift("note", 120, 1, 0)),
        records=tuple(found), sheet_rows=121, table_rows=121, source="buyers.csv")


def sample_history() -> tuple[RunSummary, ...]:
    now = datetime(2026, 11, 29, 2, 0, tzinfo=timezone.utc)
    return tuple(RunSummary(100 - i, "run", status, now - timedelta(hours=i), now - timedelta(hours=i) +
                            timedelta(seconds=3), 480, differing, written, 0, 0, 1 if status == "failed" else 0,
                            "boom <b>" if status == "failed" else None)
                 for i, (status, differing, written) in enumerate(
                     [("succeeded", 2, 2), ("partial", 5, 4), ("failed", 7, 0), ("succeeded", 3, 3)]))


def make_world(folder: Path, dsn: str, sheet: Sequence[Sequence[str]], table: Sequence[Sequence[str | None]]) -> Path:
    """Write the sheet and the rule file under ``folder``, create and fill the table; return the rule file."""
    csv_path = write_sheet(folder / "people.csv", sheet)
    create_table(dsn, table)
    return write_rules(folder, csv_path)


def schema_exists(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT to_regnamespace('reconcile') IS NOT NULL").fetchone()[0]
