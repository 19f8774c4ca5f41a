"""The sample sheet and the stale seed: what the demo and the engine's end-to-end tests rely on."""
from __future__ import annotations

import csv
import importlib.util

import psycopg

from engine.resources import read_text, resource_path

FOLLOW_UP = "2回目内覧希望・金曜に電話"


def sheet() -> dict[str, dict[str, str]]:
    with resource_path("examples", "buyers.csv").open(encoding="utf-8", newline="") as fh:
        return {row["買主番号"]: row for row in csv.DictReader(fh)}


def test_sample_sheet_has_200_buyers_with_the_awkward_cells():
    rows = sheet()
    assert len(rows) == 200
    assert rows["6666"]["内覧結果・後続対応"] == FOLLOW_UP and rows["6666"]["後続担当"] == "田中"
    assert sum(r["家族人数"] == "三人" for r in rows.values()) == 2
    assert any("０" in r["電話番号"] for r in rows.values())
    assert any(r["備考"] == "" for r in rows.values())


def test_committed_sample_files_are_what_the_generator_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_buyers", resource_path("examples", "make_buyers.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.HERE = tmp_path
    module.main()
    for name in ("buyers.csv", "seed_buyers.sql"):
        assert (tmp_path / name).read_bytes() == resource_path("examples", name).read_bytes(), name


def test_seed_is_a_stale_copy_of_the_sheet(pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(read_text("sql", "buyers.sql"))
        conn.execute(read_text("sql", "buyers.sql"))  # IF NOT EXISTS: safe to run twice
        conn.execute(read_text("examples", "seed_buyers.sql"))
        keys = {k for (k,) in conn.execute("SELECT buyer_number FROM public.buyers")}
        watched = conn.execute("SELECT viewing_result_follow_up, follow_up_assignee FROM public.buyers "
                               "WHERE buyer_number = '6666'").fetchone()
    in_sheet = set(sheet())
    assert len(keys) == 197
    assert len(in_sheet - keys) == 5 and len(keys - in_sheet) == 2
    assert watched[0] != FOLLOW_UP and watched[1] != "田中"
