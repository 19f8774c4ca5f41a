"""Header resolution: rule columns matched to sheet headers by normalised text, drift reported."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from engine.sources.headers import normalize_header, resolve
from support.sheets import ruleset

BUYER_FIELDS = {"viewing_result_follow_up": "内見結果フォロー", "follow_up_assignee": "後続担当", "name": "氏名"}


def rules(fields=BUYER_FIELDS):
    return ruleset(Path("/nonexistent.csv"), key=("buyer_number", "買主番号"), fields=fields)


def test_trailing_full_width_space_is_matched():
    """The buyer 6666 root cause: the sheet header was '後続担当\u3000'."""
    columns = resolve(["買主番号", "氏名", "内見結果フォロー", "後続担当\u3000"], rules())
    assert columns.problems == () and columns.skipped == ()
    ref = columns.fields["follow_up_assignee"]
    assert (ref.index, ref.letter, ref.header) == (4, "D", "後続担当\u3000")
    assert columns.key.letter == "A"


def test_line_break_inside_a_header_cell_is_matched():
    columns = resolve(["買主番号", "氏名", "内見結果\nフォロー", "後続 担当"], rules(
        {"viewing_result_follow_up": "内見結果 フォロー", "name": "氏名"}))
    assert columns.fields["viewing_result_follow_up"].letter == "C"
    assert columns.problems == ()


def test_a_moved_column_is_still_matched_by_header():
    before = resolve(["買主番号", "氏名", "内見結果フォロー", "後続担当"], rules())
    after = resolve(["後続担当", "買主番号", "メモ", "氏名", "内見結果フォロー"], rules())
    assert before.fields["follow_up_assignee"].letter == "D"
    assert after.fields["follow_up_assignee"].letter == "A"
    assert after.key.letter == "B" and after.fields["name"].letter == "D"
    assert [u.header for u in after.unmapped] == ["メモ"]


def test_a_renamed_header_is_reported_with_closest_names_and_letters():
    columns = resolve(["買主番号", "氏名", "内見結果フォロー", "後続担当者"], rules())
    assert columns.skipped == ("follow_up_assignee",)
    assert "follow_up_assignee" not in columns.fields and "name" in columns.fields
    (problem,) = columns.problems
    assert problem.kind == "missing" and problem.column == "後続担当"
    assert [(c.letter, c.header) for c in problem.candidates][0] == ("D", "後続担当者")
    message = problem.message()
    assert "follow_up_assignee" in message and "D '後続担当者'" in message
    assert [u.header for u in columns.unmapped] == ["後続担当者"]


def test_no_close_header_gives_no_candidates():
    columns = resolve(["買主番号", "氏名", "内見結果フォロー"], rules({"email": "E-mail address"}))
    (problem,) = columns.problems
    assert problem.kind == "missing" and problem.candidates == ()


def test_duplicate_headers_are_ambiguous():
    columns = resolve(["買主番号", "氏名", "後続担当", "内見結果フォロー", "後続担当 "], rules())
    (problem,) = columns.problems
    assert problem.kind == "ambiguous"
    assert [c.letter for c in problem.candidates] == ["C", "E"]
    assert columns.skipped == ("follow_up_assignee",)
    assert "matches several headers" in problem.message()


def test_missing_key_gives_no_key_and_is_not_a_skipped_field():
    columns = resolve(["番号", "氏名", "内見結果フォロー", "後続担当"], rules())
    assert columns.key is None
    assert [p.field for p in columns.problems] == ["buyer_number"]
    assert columns.skipped == ()


def test_fields_selection_resolves_only_those_fields():
    columns = resolve(["買主番号", "氏名"], rules(), fields=["name"])
    assert list(columns.fields) == ["name"] and columns.problems == ()


def test_blank_headers_never_match_and_are_not_listed_as_unmapped():
    columns = resolve(["買主番号", "", "氏名", "内見結果フォロー", "後続担当"], rules())
    assert columns.problems == () and columns.unmapped == ()


variants = st.sampled_from(["", " ", "\u3000", "\n", "\t", "  \u3000"])


@given(st.text(alphabet=st.sampled_from(list("abcXYZ後続担当-_1")), min_size=1, max_size=8),
       variants, variants, st.booleans())
def test_whitespace_and_width_variants_normalise_equal(core, before, after, upper):
    """Property: surrounding whitespace (incl. U+3000 and line breaks), letter case and
    full-width forms never change the normalised header."""
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in core)
    variant = before + (wide.upper() if upper else wide) + after
    assert normalize_header(variant) == normalize_header(core)
