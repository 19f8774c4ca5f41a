"""The text table aligns by terminal width, so Japanese field names and values line up."""
from __future__ import annotations

from engine.cli.app import display_width, text_table


def test_display_width_counts_wide_characters_twice():
    assert display_width("買主番号") == 8
    assert display_width("ｶﾅ") == 2  # half-width katakana are narrow
    assert display_width("Ａ1") == 3  # a full-width letter is wide
    assert display_width("e\u0301") == 1  # a combining accent takes no cell


def test_columns_line_up_with_wide_text():
    lines = text_table(["field", "n"], [["買主番号", 1], ["name", 22]]).splitlines()
    assert lines == ["field     n",
                     "--------  --",
                     "買主番号   1",
                     "name      22"]
    assert len({display_width(line) for line in lines[1:]}) == 1, "every row ends in the same terminal cell"
