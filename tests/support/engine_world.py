"""A small random world for engine property tests: a sheet (CSV), a table, a rule set.

Fields cover the kinds of values that break syncs: text with stray whitespace and unicode,
empty cells, decimals compared with a tolerance, dates, and cells that cannot be read.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
from hypothesis import strategies as st
from psycopg import sql

from engine.rules.model import (Comparison, FieldRule, FileSource, KeyRule, Policy, RuleSet, Target,
                                Transform)

HEADERS = {"k": "番号", "note": "メモ", "owner": "担当", "amount": "金額", "due": "期日"}
TABLE = "world"


def rules_for(csv_path: Path, *, new_rows: str = "insert", schema: str = "public") -> RuleSet:
    return RuleSet(
        version=1, name="world",
        source=FileSource(path=csv_path),
        target=Target(dsn=None, schema=schema, table=TABLE),
        key=KeyRule(field="k", column=HEADERS["k"], transforms=(Transform("trim"),)),
        fields=(
            FieldRule("note", HEADERS["note"], (Transform("trim"), Transform("empty_to_null"))),
            FieldRule("owner", HEADERS["owner"], (Transform("trim"), Transform("nfkc"), Transform("empty_to_null"))),
            FieldRule("amount", HEADERS["amount"], (Transform("nfkc"), Transform("to_decimal")),
                      compare=Comparison("numeric", Decimal("0.5"))),
            FieldRule("due", HEADERS["due"], (Transform("to_date", {"formats": ["%Y-%m-%d", "%Y/%m/%d"]}),)),
        ),
        policy=Policy(new_rows=new_rows, missing_rows="report"),
        hash="test",
    )


DDL = """
CREATE TABLE {table} (
    k text PRIMARY KEY,
    note text,
    owner text CHECK (owner IS NULL OR owner <> 'FORBIDDEN'),
    amount numeric(10,2),
    due date
)"""

texts = st.sampled_from(["", " ", "田中", "田中 ", "ｶﾀｶﾅ", "a,b", 'say "hi"', "line\nbreak", "x", "Ｘ"])
amounts = st.sampled_from(["", "1", "1.2", "1.4", "２", "10.5", "abc", "-3", "1,000"])
dates = st.sampled_from(["", "2024-01-31", "2024/02/29", "31/01/2024", "2023-12-01"])
keys = st.sampled_from([f"K{i}" for i in range(8)])


@dataclass(frozen=True)
class World:
    sheet: list[dict[str, str]]  # rows by field name, raw cell text
    table: list[dict[str, object]]  # rows by column, Python values (None = NULL)


def sheet_rows():
    row = st.fixed_dictionaries({"k": keys, "note": texts, "owner": texts, "amount": amounts, "due": dates})
    return st.lists(row, max_size=8, unique_by=lambda r: r["k"])


def table_rows():
    row = st.fixed_dictionaries({
        "k": keys,
        "note": st.one_of(st.none(), st.sampled_from(["", "田中", "x", "old"])),
        "owner": st.one_of(st.none(), st.sampled_from(["田中", "カタカナ", "X", "old"])),
        "amount": st.one_of(st.none(), st.sampled_from([Decimal("1.00"), Decimal("1.20"), Decimal("2.00"),
                                                        Decimal("10.40"), Decimal("99.00")])),
        "due": st.one_of(st.none(), st.sampled_from(["2024-01-31", "2024-02-29", "2020-01-01"])),
    })
    return st.lists(row, max_size=8, unique_by=lambda r: r["k"])


worlds = st.builds(World, sheet_rows(), table_rows())


def write_sheet(path: Path, rows: list[dict[str, str]], *, drop: str | None = None) -> Path:
    """The sheet as a CSV export; ``drop`` leaves one field's column out (a renamed header)."""
    names = [n for n in HEADERS if n != drop]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([HEADERS[n] for n in names])
        for row in rows:
            writer.writerow([row[n] for n in names])
    return path


def load_table(dsn: str, rows: list[dict[str, object]], table: str = TABLE) -> None:
    with psycopg.connect(dsn) as conn:
        ident = sql.Identifier(table)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
        conn.execute(sql.SQL(DDL).format(table=ident))
        with conn.cursor().copy(sql.SQL("COPY {} (k, note, owner, amount, due) FROM STDIN").format(ident)) as copy:
            for r in rows:
                copy.write_row([r["k"], r["note"], r["owner"], r["amount"], r["due"]])
        conn.execute("DROP SCHEMA IF EXISTS reconcile CASCADE")


def table_state(dsn: str, table: str = TABLE) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql.SQL("SELECT k, note, owner, amount, due FROM {} ORDER BY k").format(
            sql.Identifier(table))).fetchall()


def fetch(dsn: str, query: str, params: list | None = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params or []).fetchall()
