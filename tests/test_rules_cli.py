"""`reconcile validate` through click: formats, exit codes, directories, --strict-env."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.resources import resource_path
from support.rules import CASES, MINIMAL, write_rules

RULES_DIR = resource_path("rules")


@pytest.fixture
def no_env(monkeypatch):
    for name in ("BUYERS_SPREADSHEET_ID", "DATABASE_URL", "GOOGLE_APPLICATION_CREDENTIALS", "RECONCILE_ALERT_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)


def validate(*args: str):
    return CliRunner().invoke(main, ["validate", *args])


def test_shipped_rules_directory_is_valid_with_warnings_only(no_env):
    result = validate(str(RULES_DIR))
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "2 files, 0 errors, 2 warnings"
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(" R060 " in line and line.endswith("(warning)") for line in lines)


def test_strict_env_turns_unset_variables_into_errors(no_env):
    result = validate(str(RULES_DIR / "buyers.yaml"), "--strict-env")
    assert result.exit_code == 2
    assert "1 file, 2 errors, 0 warnings" in result.stderr


def test_a_broken_copy_gives_one_precise_line_and_exit_2(tmp_path: Path, no_env):
    text = (RULES_DIR / "buyers.yaml").read_text(encoding="utf-8").replace("compare: ignore_case",
                                                                            "compare: ignore_cas")
    path = write_rules(tmp_path, text, "buyers.yaml")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "ignore_cas" in t)
    result = validate(str(path))
    assert result.exit_code == 2
    errors = [t for t in result.stdout.splitlines() if not t.endswith("(warning)")]
    assert errors == [f"{path}:{line}:14: R026 fields.email.compare: unknown comparison 'ignore_cas'; did you mean "
                      "'ignore_case'? (valid: exact, ignore_case, ignore_whitespace, numeric, never, or "
                      "{numeric: {tolerance: 0.5}})"]


def test_json_format_is_one_document_with_every_problem(tmp_path: Path):
    bad = write_rules(tmp_path, MINIMAL + "    transform: [trimm]\n", "bad.yaml")
    write_rules(tmp_path, MINIMAL, "good.yml")
    result = validate(str(tmp_path), "--format", "json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["files"] == 2 and document["errors"] == 1
    assert document["problems"] == [{"path": str(bad), "line": 9, "column": 17, "code": "R020", "severity": "error",
                                     "message": document["problems"][0]["message"]}]
    assert "did you mean 'trim'" in document["problems"][0]["message"]


def test_json_format_for_a_valid_file_exits_0(tmp_path: Path):
    result = validate(str(write_rules(tmp_path, MINIMAL)), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"ok": True, "files": 1, "errors": 0, "warnings": 0, "problems": []}


def test_directories_are_searched_recursively_and_every_file_reported():
    result = validate(str(CASES), "--format", "json", "--strict-env")
    document = json.loads(result.stdout)
    assert result.exit_code == 2
    assert document["files"] == len(list(CASES.glob("*.yaml")))
    assert {Path(p["path"]).name for p in document["problems"]} == {p.name for p in CASES.glob("*.yaml")}


def test_a_missing_path_is_reported(tmp_path: Path):
    result = validate(str(tmp_path / "nowhere.yaml"))
    assert result.exit_code == 2
    assert "R003 no such file or directory" in result.stdout


def test_passwords_in_expanded_values_are_not_printed(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RULES_TEST_DSN", "postgresql://app:s3cret@db/x")
    # the table's message quotes the expanded value: the password in it must not be printed
    text = MINIMAL.replace("target: {table: public.buyers}",
                           "target: {dsn: \"${RULES_TEST_DSN}\", table: \"${RULES_TEST_DSN}\"}")
    path = str(write_rules(tmp_path, text))
    as_json = validate(path, "--format", "json")
    assert as_json.exit_code == 2 and "s3cret" not in as_json.stdout
    assert [p["code"] for p in json.loads(as_json.stdout)["problems"] if "app:***@db/x" in p["message"]] == ["R050"]
    as_text = validate(path)
    assert "'postgresql://app:***@db/x' is not a plain SQL identifier" in as_text.stdout
    assert "s3cret" not in as_text.output


def loaded_modules(path: Path) -> tuple[str, list[str]]:
    code = ("import sys; from click.testing import CliRunner; from engine.cli import main; "
            f"r = CliRunner().invoke(main, ['validate', {str(path)!r}]); "
            "print(r.exit_code, sorted(m for m in ('duckdb', 'psycopg', 'gspread') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    code_, _, modules = out.strip().partition(" ")
    return code_, ast.literal_eval(modules)


def test_validate_does_not_load_the_engine_drivers(tmp_path: Path):
    assert loaded_modules(write_rules(tmp_path, MINIMAL)) == ("0", [])
    # regexes and strptime formats are checked by DuckDB, the engine that evaluates them
    assert loaded_modules(RULES_DIR) == ("0", ["duckdb"])


def test_help_documents_the_command():
    result = CliRunner().invoke(main, ["validate", "--help"])
    assert result.exit_code == 0 and "--strict-env" in result.output and "path:line:col" in result.output


def test_a_folder_without_rule_files_is_an_error(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("not a rule file", encoding="utf-8")
    result = validate(str(tmp_path))
    assert result.exit_code == 2
    assert result.stdout.strip() == f"{tmp_path}: R003 no *.yaml or *.yml rule files in this folder"
