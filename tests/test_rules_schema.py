"""The JSON Schema is valid, documents every property, and every shipped rule file validates."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from jsonschema import Draft202012Validator

from engine.resources import resource_path, rules_schema
from engine.rules import validate_paths
from engine.rules.model import COMPARE_NAMES, TRANSFORM_NAMES

SHIPPED = sorted(resource_path("rules").glob("*.y*ml"))


def properties(node: Any, path: str = "#") -> Iterator[tuple[str, Any]]:
    """Every (path, subschema) under a `properties` keyword, anywhere in the schema."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{path}/properties/{name}", sub
        for key, value in node.items():
            yield from properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from properties(value, f"{path}/{i}")


def test_schema_is_valid_draft_2020_12():
    schema = rules_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_property_has_a_description():
    found = list(properties(rules_schema()))
    assert len(found) > 40
    missing = [path for path, sub in found if not (isinstance(sub, dict) and sub.get("description"))]
    assert missing == []


def test_every_object_forbids_unknown_keys():
    def objects(node: Any, path: str = "#") -> Iterator[tuple[str, dict]]:
        if isinstance(node, dict):
            if "properties" in node and node.get("type") == "object":
                yield path, node
            for key, value in node.items():
                yield from objects(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from objects(value, f"{path}/{i}")

    # `source` dispatches on type to two closed objects; the short form of `map` is open by design
    open_ok = {"#/properties/source", "#/$defs/map/properties/map"}
    loose = [p for p, o in objects(rules_schema()) if "additionalProperties" not in o and p not in open_ok]
    assert loose == []


def test_schema_names_every_transform_and_comparison_of_the_model():
    schema = rules_schema()["$defs"]
    in_schema = set(schema["transform"]["oneOf"][0]["enum"])
    for ref in schema["transform"]["oneOf"][1:]:
        in_schema |= set(schema[ref["$ref"].rsplit("/", 1)[1]]["properties"])
    assert in_schema == set(TRANSFORM_NAMES)
    assert set(schema["comparison"]["oneOf"][0]["enum"]) == set(COMPARE_NAMES)


def test_rules_are_shipped():
    assert {p.name for p in SHIPPED} >= {"buyers.yaml", "buyers_file.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_rule_file_is_valid_with_no_environment(path):
    assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=../schemas/rules.schema.json\n")
    problems = validate_paths([path], env={})
    assert [p for p in problems if p.severity == "error"] == []
    assert {p.code for p in problems} <= {"R060"}  # only unset variables, as warnings


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_rule_file_is_valid_with_its_environment(path):
    env = {"BUYERS_SPREADSHEET_ID": "1AbC", "DATABASE_URL": "postgresql://localhost/x"}
    assert validate_paths([path], env=env, strict_env=True) == []


def test_docs_describe_every_problem_code_transform_and_comparison():
    import re
    from pathlib import Path

    import engine.rules

    docs = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    source = "".join(p.read_text(encoding="utf-8") for p in Path(engine.rules.__file__).parent.glob("*.py"))
    codes = set(re.findall(r'"(R\d{3})"', source))
    assert len(codes) >= 25
    assert [c for c in sorted(codes) if f"| {c} |" not in docs] == []
    assert [n for n in TRANSFORM_NAMES + COMPARE_NAMES if f"`{n}`" not in docs] == []
