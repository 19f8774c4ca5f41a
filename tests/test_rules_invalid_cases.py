"""Every file under tests/rules_invalid/ is rejected with exactly the problems its header states.

Adding a case is a data edit: a rule file whose first lines are
``# expect: CODE line:col message`` (one line per expected error, the message exactly as printed).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import RuleFileError
from engine.rules import load_rules, validate_paths
from support.rules import case_files, expectations

ENV = {"RULES_TEST_SET": "x"}  # the cases must not depend on the machine's environment


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_invalid_rule_file_reports_exactly_the_expected_errors(path: Path):
    expected = expectations(path)
    errors = [p for p in validate_paths([path], env=ENV, strict_env=True) if p.severity == "error"]
    got = [(p.code, p.line, p.column) for p in errors]
    assert got == [(e.code, e.line, e.column) for e in expected], "\n".join(map(str, errors))
    for problem, want in zip(errors, expected):
        assert problem.message == want.message, str(problem)
        assert str(problem).startswith(f"{path}:{want.line}:{want.column}: {want.code} ")
    with pytest.raises(RuleFileError) as raised:
        load_rules(path, env=ENV)
    assert {p.code for p in raised.value.problems if p.severity == "error"} == {e.code for e in expected}


def test_there_are_enough_cases_and_every_code_family_is_covered():
    codes = {e.code for path in case_files() for e in expectations(path)}
    assert len(case_files()) >= 25
    for code in ("R001", "R002", "R010", "R011", "R012", "R013", "R020", "R021", "R022", "R023", "R026",
                 "R030", "R031", "R032", "R040", "R050", "R060", "R070", "R071"):
        assert code in codes
