"""The sheet half of `reconcile check`: header coverage and sheet key uniqueness."""
from __future__ import annotations

from engine.coverage import build_report, check_sheet
from support.sheets import ruleset, write_text

FIELDS = {"follow_up_assignee": "後続担当", "viewing_result_follow_up": "内見結果フォロー"}


def sheet_report(path, fields=FIELDS):
    rules = ruleset(path, key=("buyer_number", "買主番号"), fields=fields)
    sheet, columns, keys = check_sheet(rules)
    return build_report(rules, sheet, columns, keys, None)


def test_buyer_6666_header_with_full_width_space_is_found(tmp_path):
    path = write_text(tmp_path / "s.csv", "買主番号,内見結果フォロー,後続担当\u3000\n6666,済,山田\n6667,未,佐藤\n")
    report = sheet_report(path)
    assert report.ok and report.exit_code == 0
    found = {f.field: (f.sheet.letter, f.sheet.header) for f in report.fields}
    assert found == {"buyer_number": ("A", "買主番号"), "viewing_result_follow_up": ("B", "内見結果フォロー"),
                     "follow_up_assignee": ("C", "後続担当\u3000")}
    assert report.sheet_keys.rows == 2 and report.sheet_keys.unique


def test_renamed_header_fails_the_check_naming_field_and_closest_header(tmp_path):
    path = write_text(tmp_path / "s.csv", "買主番号,内見結果フォロー,後続担当者,メモ\n6666,済,山田,x\n")
    report = sheet_report(path)
    assert not report.ok and report.exit_code == 2
    (problem,) = report.problems
    assert "follow_up_assignee" in problem and "C '後続担当者'" in problem
    bad = next(f for f in report.fields if f.field == "follow_up_assignee")
    assert bad.sheet is None and [c.letter for c in bad.candidates] == ["C"]
    assert [u.header for u in report.unmapped] == ["後続担当者", "メモ"]


def test_duplicate_and_empty_sheet_keys_are_counted_as_warnings(tmp_path):
    path = write_text(tmp_path / "s.csv",
                      "買主番号,内見結果フォロー,後続担当\n1,a,b\n2,a,b\n1,c,d\n,e,f\n2,g,h\n1,i,j\n")
    report = sheet_report(path)
    keys = report.sheet_keys
    assert (keys.rows, keys.empty, keys.duplicate_keys, keys.duplicate_rows) == (6, 1, 2, 5)
    assert keys.sample == ("1", "2")
    assert report.ok and len(report.warnings) == 1 and "duplicate" in report.warnings[0]


def test_missing_key_column_is_a_problem_and_no_key_counts(tmp_path):
    path = write_text(tmp_path / "s.csv", "番号,内見結果フォロー,後続担当\n1,a,b\n")
    report = sheet_report(path)
    assert not report.ok and report.sheet_keys is None
    assert any("buyer_number" in p for p in report.problems)


def test_report_serialises(tmp_path):
    import json

    path = write_text(tmp_path / "s.csv", "買主番号,内見結果フォロー\n1,a\n")
    document = sheet_report(path).to_dict()
    json.dumps(document, ensure_ascii=False)
    assert document["ok"] is False and document["exit_code"] == 2
    missing = document["fields"][1]
    assert missing["field"] == "follow_up_assignee" and "not found" in missing["sheet_problem"]
