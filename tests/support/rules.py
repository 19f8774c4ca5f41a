"""Helpers for the rule-file tests: the invalid-case files and a small valid rule file."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CASES = Path(__file__).resolve().parent.parent / "rules_invalid"
_EXPECT = re.compile(r"^# expect: (?P<code>R\d{3}) (?P<line>\d+):(?P<column>\d+) (?P<message>.+)$")

MINIMAL = """\
version: 1
name: t
source: {type: google_sheets, spreadsheet: abc}
target: {table: public.buyers}
key: {field: buyer_number, column: 買主番号}
fields:
  name:
    column: 氏名
"""


@dataclass(frozen=True)
class Expected:
    """One problem a case file must produce: ``# expect: CODE line:col message`` (the whole message)."""

    code: str
    line: int
    column: int
    message: str


def case_files() -> list[Path]:
    return sorted(CASES.glob("*.yaml"))


def expectations(path: Path) -> list[Expected]:
    """The ``# expect:`` lines at the top of a case file (at least one)."""
    found = []
    for text in path.read_text(encoding="utf-8").splitlines():
        match = _EXPECT.match(text)
        if not match:
            break
        found.append(Expected(match["code"], int(match["line"]), int(match["column"]), match["message"]))
    if not found:
        raise AssertionError(f"{path}: no '# expect: CODE line:col message' line at the top")
    return found


def write_rules(folder: Path, text: str = MINIMAL, name: str = "rules.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def file_rules(folder: Path, name: str, sheet_csv: str, fields: str, *, extra: str = "") -> Path:
    """A rule file beside its sheet: ``<name>.csv`` holding ``sheet_csv``, read into the table
    ``public.<name>`` keyed by ``id`` (the sheet's column ``id``); ``fields`` are the YAML lines
    under ``fields:``, ``extra`` more top-level YAML (a policy). Returns the rule file's path."""
    (folder / f"{name}.csv").write_text(sheet_csv, encoding="utf-8")
    return write_rules(folder, f"version: 1\nname: {name}\nsource: {{type: file, path: {name}.csv}}\n"
                               f"target: {{table: public.{name}}}\nkey: {{field: id, column: id}}\n"
                               f"fields:\n{fields}{extra}", name=f"{name}.yaml")
