"""load_rules: the RuleSet built from the shipped file-source rules, ${VAR} expansion, marks."""
from __future__ import annotations

import copy
import hashlib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import RuleFileError
from engine.resources import resource_path
from engine.rules import Problem, load_rules, validate_paths
from engine.rules.loader import expand_string
from engine.rules.model import (Comparison, FileSource, GoogleSheetsSource, RowLimit, RuleSet, Target,
                                Transform)
from support.rules import MINIMAL, write_rules

BUYERS_FILE = resource_path("rules", "buyers_file.yaml")
BUYERS = resource_path("rules", "buyers.yaml")


def test_buyers_file_rules_load_into_the_expected_ruleset():
    rules = load_rules(BUYERS_FILE, env={})
    assert isinstance(rules, RuleSet) and rules.version == 1 and rules.name == "buyers"
    assert rules.path == BUYERS_FILE.resolve()
    assert rules.hash == hashlib.sha256(BUYERS_FILE.read_bytes()).hexdigest()
    assert isinstance(rules.source, FileSource)
    assert rules.source.path == (BUYERS_FILE.parent / "../examples/buyers.csv").resolve()
    assert rules.source.path.is_absolute() and rules.source.path.exists()
    assert rules.target == Target(dsn="embedded", schema="public", table="buyers")
    assert rules.key.field == "buyer_number" and rules.key.column == "買主番号"
    assert len(rules.fields) == 14
    assert {"viewing_result_follow_up", "follow_up_assignee"} <= set(rules.field_names)
    budget = rules.field("budget_man_yen")
    assert budget.compare == Comparison("numeric", Decimal("0.5"))
    assert isinstance(budget.compare.tolerance, Decimal)
    status = rules.field("status").transforms[-1]
    assert status == Transform("map", {"values": {"追客中": "active", "成約": "closed", "見送り": "dropped"},
                                       "unmapped": "invalid"})
    assert rules.field("viewing_date").transforms[-1].args == {"formats": ["%Y/%m/%d", "%Y-%m-%d"]}
    assert rules.field("next_contact_at").transforms[-1].args["timezone"] == "Asia/Tokyo"
    boolean = rules.field("pet_allowed").transforms[-1].args
    assert "TRUE" in boolean["true"] and "FALSE" in boolean["false"]
    assert rules.field("email").compare == Comparison("ignore_case")
    assert rules.policy.new_rows == "insert" and rules.policy.max_changed_rows == RowLimit(percent=50.0)
    assert rules.monitoring.window == timedelta(hours=24)
    assert rules.monitoring.notify == ()  # the webhook's ${VAR:-} is empty: alerts go to stderr


def test_marks_point_at_the_rule_file_lines():
    rules = load_rules(BUYERS_FILE, env={})
    lines = BUYERS_FILE.read_text(encoding="utf-8").splitlines()
    follow = rules.field("follow_up_assignee")
    assert lines[follow.mark.line - 1].strip() == "follow_up_assignee:"
    first = follow.transforms[0].mark
    assert lines[first.line - 1][first.column - 1:].startswith("trim")


def test_environment_variables_are_expanded_and_the_dsn_may_come_later():
    env = {"BUYERS_SPREADSHEET_ID": "1AbC", "DATABASE_URL": "postgresql://app:pw@db/crm"}
    rules = load_rules(BUYERS, env=env)
    assert isinstance(rules.source, GoogleSheetsSource)
    assert rules.source.spreadsheet == "1AbC" and rules.source.worksheet == "買主リスト"
    assert rules.source.credentials is None  # ${GOOGLE_APPLICATION_CREDENTIALS:-} empty
    assert rules.target.dsn == "postgresql://app:pw@db/crm"
    assert rules.policy.max_changed_rows == RowLimit(percent=10.0)
    assert load_rules(BUYERS, env={"BUYERS_SPREADSHEET_ID": "1AbC"}).target.dsn is None


def test_an_unset_variable_is_an_error_naming_it_and_its_line():
    with pytest.raises(RuleFileError) as raised:
        load_rules(BUYERS, env={})
    err = raised.value
    assert err.exit_code == 2
    [problem] = [p for p in err.problems if p.severity == "error"]
    assert problem.code == "R060" and "BUYERS_SPREADSHEET_ID" in problem.message
    assert problem.line == 9
    assert "BUYERS_SPREADSHEET_ID" in str(err) and "--dsn" in str(err)  # the dsn warning is listed too


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path):
    text = MINIMAL.replace("name: t", "name: Bad Name") + "    transform: [trimm]\n    compare: exactt\n"
    with pytest.raises(RuleFileError) as raised:
        load_rules(write_rules(tmp_path, text), env={})
    assert [p.code for p in raised.value.problems] == ["R014", "R020", "R026"]
    assert raised.value.to_dict()["problems"][1]["line"] == 9


def test_short_and_long_forms_of_map_and_numeric_give_the_same_model(tmp_path: Path):
    short = MINIMAL + "    transform: [{map: {a: b}}]\n    compare: numeric\n"
    long = MINIMAL + "    transform: [{map: {values: {a: b}, unmapped: keep}}]\n    compare: {numeric: {tolerance: 0}}\n"
    one = load_rules(write_rules(tmp_path, short, "short.yaml"), env={}).field("name")
    two = load_rules(write_rules(tmp_path, long, "long.yaml"), env={}).field("name")
    assert one == two
    assert one.transforms[0].args == {"values": {"a": "b"}, "unmapped": "keep"}


def test_cell_texts_stay_as_written_and_yaml_dates_stay_text(tmp_path: Path):
    text = MINIMAL + ("    transform: [{null_if: [-, 0, N/A]}, {to_boolean: {true: [TRUE, yes], false: [FALSE, no]}}]\n"
                      "    on_invalid: default\n    default: 2024-01-01\n")
    field = load_rules(write_rules(tmp_path, text), env={}).field("name")
    assert field.transforms[0].args == ["-", "0", "N/A"]
    assert field.transforms[1].args == {"true": ["TRUE", "yes"], "false": ["FALSE", "no"]}
    assert field.default == "2024-01-01"


def test_row_limit_count_duration_and_bare_typed_transforms(tmp_path: Path):
    text = MINIMAL + ("    transform: [to_date]\npolicy: {max_changed_rows: 500}\n"
                      "monitoring: {window: 90m, alert_when: {no_success_for: 2d}, notify: [{stderr: true}]}\n")
    rules = load_rules(write_rules(tmp_path, text), env={})
    assert rules.policy.max_changed_rows == RowLimit(count=500)
    assert rules.monitoring.window == timedelta(minutes=90)
    assert rules.monitoring.no_success_for == timedelta(days=2)
    assert rules.monitoring.notify[0].stderr is True
    assert rules.field("name").transforms[0].args == {"formats": ["%Y-%m-%d", "%Y/%m/%d"]}


def test_bare_table_name_means_schema_public(tmp_path: Path):
    rules = load_rules(write_rules(tmp_path, MINIMAL.replace("public.buyers", "buyers")), env={})
    assert (rules.target.schema, rules.target.table) == ("public", "buyers")


def test_missing_file_is_a_rule_file_error(tmp_path: Path):
    with pytest.raises(RuleFileError) as raised:
        load_rules(tmp_path / "nope.yaml")
    assert raised.value.problems[0].code == "R003"


@given(text=st.text().filter(lambda t: "${" not in t), env=st.dictionaries(
    st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True), st.text(max_size=5), max_size=3))
def test_strings_without_a_variable_reference_are_unchanged(text, env):
    """Property: any string without `${` comes out of expansion exactly as it went in, whatever the environment."""
    assert expand_string(text, env) == (text, [], [])


@given(value=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x85\ufeff"))
       .filter(lambda t: "${" not in t))
def test_string_values_without_a_variable_reference_survive_loading_unchanged(tmp_path_factory, value):
    """Property: a (quoted) string value without `${` in a rule file is loaded byte-for-byte unchanged."""
    folder = tmp_path_factory.mktemp("prop")
    quoted = '"' + "".join(f"\\U{ord(c):08x}" for c in value) + '"'
    rules = load_rules(write_rules(folder, MINIMAL + f"description: {quoted}\n"), env={})
    assert rules.description == value


def _node_paths(data, path=()):
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _node_paths(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _node_paths(value, path + (i,))


_BUYERS_DATA = yaml.safe_load(BUYERS_FILE.read_text(encoding="utf-8"))
_PATHS = [p for p in _node_paths(_BUYERS_DATA) if p]
_WEIRD = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "x", "trim", "10%", "${X}"]),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                          st.sampled_from(["a", "numeric", "values", "formats", "true"]), inner, max_size=2),
                      max_leaves=6)


@given(where=st.sampled_from(_PATHS), value=_WEIRD)
def test_any_damaged_rule_file_gives_problems_never_a_crash(tmp_path_factory, where, value):
    """Property: replacing any node of a valid rule file by any small YAML value yields a list of
    Problems from validate_paths, and load_rules either loads or raises RuleFileError, never another error."""
    data = copy.deepcopy(_BUYERS_DATA)
    node = data
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    path = tmp_path_factory.mktemp("damaged") / "rules.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    problems = validate_paths([path], env={})
    assert all(isinstance(p, Problem) and p.path == str(path) for p in problems)
    try:
        load_rules(path, env={})
    except RuleFileError as err:
        assert any(p.severity == "error" for p in err.problems)


@pytest.mark.parametrize("source, warned", [
    ("{type: file, path: s.csv, worksheet: Sheet1}", True),
    ("{type: file, path: s.txt, format: tsv, worksheet: Sheet1}", True),
    ("{type: file, path: s.xlsx, worksheet: Sheet1}", False),
])
def test_a_worksheet_for_a_csv_file_is_a_warning_not_silence(tmp_path, source, warned):
    """A CSV has one sheet: the worksheet was ignored without a word."""
    (tmp_path / "s.csv").write_text("k\n1\n", encoding="utf-8")
    path = tmp_path / "w.yaml"
    path.write_text("version: 1\nname: t\nsource: " + source + "\ntarget: {table: public.t}\n"
                    "key: {field: k, column: k}\nfields:\n  n: {column: n}\n", encoding="utf-8")
    codes = [(p.code, p.severity) for p in validate_paths([path], env={}) if p.code != "R081"]
    assert codes == ([("R085", "warning")] if warned else [])
    assert load_rules(path, env={}).source.worksheet == "Sheet1"  # a warning: the file still loads


def test_a_webhook_in_an_unset_variable_is_the_variables_warning_not_a_bad_url(tmp_path):
    """validate without the variable set (CI) saw '' or '${...}' and called it no http URL (R014)."""
    path = tmp_path / "w.yaml"
    path.write_text(MINIMAL + "monitoring:\n  notify:\n    - webhook: ${RULES_TEST_UNSET_HOOK}\n", encoding="utf-8")
    problems = [(p.code, p.severity) for p in validate_paths([path], env={})]
    assert problems == [("R060", "warning")], problems
