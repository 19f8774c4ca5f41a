"""Data-driven diff and plan cases: each tests/cases/*.yaml is one scenario, run by one test.

A case gives the rule's fields (type, transform, compare, on_invalid, default), the key, the
sheet rows and the table rows (as PostgreSQL prints them), and what must come out: the diff
rows, per-field counts [compared, differing, invalid], summary figures, and optionally the
plan (changes, inserts, refusal, or an error code). Adding a case is a data edit.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from engine.diff import compute_diff
from engine.errors import ReconcileError
from engine.planner import build_plan
from engine.rules.model import Policy
from support.cases import FieldSpec, build, comparison, diff_rows, row_limit, transform

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def _fields(spec: dict) -> list[FieldSpec]:
    return [FieldSpec(name, f.get("type", "text"), tuple(transform(t) for t in f.get("transform", [])),
                      comparison(f.get("compare")), f.get("on_invalid", "keep"), f.get("default"))
            for name, f in spec.items()]


def _policy(spec: dict) -> Policy:
    return Policy(spec.get("new_rows", "report"), spec.get("missing_rows", "report"),
                  row_limit(spec.get("max_changed_rows")))


def _sorted(rows):
    return sorted((tuple(r) for r in rows), key=lambda r: tuple("" if v is None else str(v) for v in r))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path):
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    key = case.get("key", {})
    con = duckdb.connect()
    world = build(con, _fields(case["fields"]), case["sheet"], case["table"], key_type=key.get("type", "text"),
                  key_transforms=tuple(transform(t) for t in key.get("transform", [])),
                  policy=_policy(case.get("policy", {})))
    summary = compute_diff(con, world.rules, world.columns, world.table_info)
    assert diff_rows(con) == _sorted(case["diff"])
    assert {c.field: [c.compared, c.differing, c.invalid] for c in summary.fields} == case["counts"]
    for name, value in case.get("summary", {}).items():
        assert getattr(summary, name) == value, name
    if "plan" in case:
        _check_plan(con, world, summary, case["plan"])


def _check_plan(con, world, summary, expected: dict) -> None:
    kwargs = {"fields": expected.get("fields"), "keys": expected.get("keys")}
    if "error" in expected:
        with pytest.raises(ReconcileError) as caught:
            build_plan(con, world.rules, summary, world.table_info, **kwargs)
        assert caught.value.code == expected["error"]
        for text in expected.get("error_contains", []):
            assert text in caught.value.message
        return
    plan = build_plan(con, world.rules, summary, world.table_info, **kwargs)
    result = plan.result
    if "changes" in expected:
        got = con.execute("SELECT record_key, field, old_value, new_value FROM changes").fetchall()
        assert _sorted(got) == _sorted(expected["changes"])
    if "inserts" in expected:
        got = con.execute("SELECT record_key, field, new_value FROM inserts").fetchall()
        assert _sorted(got) == _sorted(expected["inserts"])
    for name in ("changed_rows", "new_rows", "missing_rows"):
        if name in expected:
            assert getattr(result, name) == expected[name], name
    assert result.refused == expected.get("refused")
    if "fields_to_write" in expected:
        assert list(plan.fields_to_write) == expected["fields_to_write"]
