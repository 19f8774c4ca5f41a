"""Checks on a parsed rule file: the JSON Schema, then what a schema cannot say.

Schema errors are rewritten into one precise message each (which key, the bad value,
the valid values, the closest name). Transforms and comparisons are checked here rather
than by the schema's ``oneOf`` (whose errors say only "not valid under any of the given
schemas"). Regexes and ``sql:`` expressions are checked by DuckDB, which evaluates them
in the engine; DuckDB is imported only when a file has one, and user SQL is only parsed.
"""
from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path
from typing import Any, Iterator

from ..resources import rules_schema
from .loader import MAX_DURATION, Document, NodePath, dotted, duration_in_range, is_long_map, split_table
from .model import COMPARE_NAMES, ENCODING_HINT, TRANSFORM_NAMES, Problem, encoding_problem

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NO_ARGS = ("trim", "collapse_whitespace", "nfkc", "lower", "upper", "empty_to_null", "to_integer",
           "to_decimal", "sheet_serial_date")
OPTIONAL_ARGS = ("to_date", "to_timestamp")
TYPED = ("to_integer", "to_decimal", "to_date", "to_timestamp", "to_boolean", "sheet_serial_date")
TEXT_ONLY = ("trim", "collapse_whitespace", "nfkc", "lower", "upper", "empty_to_null", "null_if", "replace")
ARG_EXAMPLES = {
    "null_if": "a list of cell texts, e.g. null_if: ['-', 'N/A']",
    "map": "{from: to, ...} or {values: {from: to}, unmapped: keep|null|invalid}",
    "replace": "{pattern: '<RE2 regex>', with: '<text>'}",
    "to_date": "{formats: ['%Y/%m/%d']}",
    "to_timestamp": "{formats: ['%Y/%m/%d %H:%M'], timezone: Asia/Tokyo}",
    "to_boolean": "{true: [はい, ○], false: [いいえ, ×]}",
    "default": "a single value, e.g. default: 0",
    "sql": "a DuckDB expression over `value`, e.g. sql: \"upper(value)\"",
}
FILE_SUFFIXES = (".csv", ".tsv", ".xlsx")


def check_document(doc: Document) -> list[Problem]:
    """Schema and semantic problems of a parsed, env-expanded document."""
    coerce_cell_texts(doc)
    problems = list(schema_problems(doc))
    if isinstance(doc.data, dict):
        problems += semantic_problems(doc)
    return problems


def closest(word: Any, choices: tuple[str, ...] | list[str]) -> str:
    """``; did you mean 'x'?`` for the nearest valid name, or ''."""
    found = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else ""


def chains(data: dict[str, Any]) -> Iterator[tuple[NodePath, list[Any]]]:
    """Every transform list in the file, with its node path."""
    key = data.get("key")
    if isinstance(key, dict) and isinstance(key.get("transform"), list):
        yield ("key", "transform"), key["transform"]
    for name, spec in fields_of(data):
        if isinstance(spec.get("transform"), list):
            yield ("fields", name, "transform"), spec["transform"]


def fields_of(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    fields = data.get("fields")
    if isinstance(fields, dict):
        yield from ((n, s) for n, s in fields.items() if isinstance(s, dict))


def coerce_cell_texts(doc: Document) -> None:
    """Cell texts in ``null_if`` and ``to_boolean`` lists stay as written (``TRUE``, ``0``, ``-``).

    YAML would read an unquoted ``TRUE`` as a boolean and ``0`` as a number; a sheet cell
    is text, so the plain scalar's own text is what the user meant.
    """
    if not isinstance(doc.data, dict):
        return
    for path, chain in chains(doc.data):
        for i, item in enumerate(chain):
            if not isinstance(item, dict) or len(item) != 1:
                continue
            name, args = next(iter(item.items()))
            base = path + (i, name)
            if name == "null_if" and isinstance(args, list):
                _as_written(doc, base, args)
            elif name == "to_boolean" and isinstance(args, dict):
                for part in ("true", "false"):
                    if isinstance(args.get(part), list):
                        _as_written(doc, base + (part,), args[part])


def _as_written(doc: Document, path: NodePath, values: list[Any]) -> None:
    values[:] = [v if isinstance(v, str) else doc.raw.get(path + (j,), v) for j, v in enumerate(values)]


# ---------------------------------------------------------------- JSON Schema

def schema_problems(doc: Document) -> Iterator[Problem]:
    from jsonschema import Draft202012Validator

    schema = rules_schema()
    validator = Draft202012Validator(schema)
    errors = [e for e in validator.iter_errors(doc.data) if not _checked_semantically(tuple(e.absolute_path))]
    typos = _typo_targets(errors)
    for error in errors:
        path = tuple(error.absolute_path)
        if error.validator == "oneOf" and path == ("source",):
            yield from _source_problems(doc, schema, validator)
        elif not (error.validator == "required" and (path, _missing_key(error)) in typos):
            yield _schema_problem(doc, path, error)


def _typo_targets(errors: list[Any]) -> set[tuple[NodePath, str]]:
    """(mapping, key) pairs where an unknown key is a typo of that key: `colum` for `column`.

    Its "missing required key" would be an echo of the same mistake, so it is not reported.
    """
    out = set()
    for error in errors:
        if error.validator == "additionalProperties":
            allowed = list(error.schema.get("properties", {}))
            for key in error.instance:
                out.update((tuple(error.absolute_path), m) for m in difflib.get_close_matches(key, allowed, 1, 0.6))
    return out


def _missing_key(error: Any) -> str:
    return error.message.split("'")[1]


def _checked_semantically(path: NodePath) -> bool:
    """Transform items and comparisons: checked below with better messages."""
    if path[:2] == ("key", "transform") and len(path) > 2:
        return True
    if len(path) > 2 and path[0] == "fields" and (path[2] == "compare" or (path[2] == "transform" and len(path) > 3)):
        return True
    return False


def _source_problems(doc: Document, schema: dict[str, Any], validator: Any) -> Iterator[Problem]:
    kind = doc.data["source"].get("type") if isinstance(doc.data["source"], dict) else None
    ref = {"google_sheets": "googleSheetsSource", "file": "fileSource"}.get(kind) if isinstance(kind, str) else None
    if ref is None:
        return  # the `type` enum error names the valid kinds
    errors = list(validator.evolve(schema=schema["$defs"][ref]).iter_errors(doc.data["source"]))
    typos = _typo_targets(errors)
    for error in errors:
        if not (error.validator == "required" and (tuple(error.absolute_path), _missing_key(error)) in typos):
            yield _schema_problem(doc, ("source",) + tuple(error.absolute_path), error)


def _schema_problem(doc: Document, path: NodePath, error: Any) -> Problem:
    where, value, kind = dotted(path), error.instance, error.validator
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(k for k in value if k not in allowed)
        key = extra[0]
        return doc.problem(path + (key,), "R010",
                           f"unknown key {key!r} in {where}{closest(key, allowed)} (valid keys: {', '.join(allowed)})",
                           at_key=True)
    if kind == "required":
        missing = _missing_key(error)
        return doc.problem(path, "R011", f"{where}: missing required key {missing!r}", at_key=True)
    if kind == "type":
        return doc.problem(path, "R012", f"{where}: expected {_type_name(error.validator_value)}, got {value!r}")
    if kind in ("enum", "const"):
        valid = error.validator_value if kind == "enum" else [error.validator_value]
        return doc.problem(path, "R013", f"{where}: {value!r} is not valid{closest(value, [str(v) for v in valid])} "
                                         f"(valid: {', '.join(map(str, valid))})")
    if kind == "minProperties" and path == ("fields",):
        return doc.problem(path, "R011", "fields: at least one field is required", at_key=True)
    description = error.schema.get("description", "")
    return doc.problem(path, "R014", f"{where}: {value!r} is not valid here" + (f": {description}" if description
                                                                                 else f" ({error.message})"))


def _type_name(expected: Any) -> str:
    names = {"object": "a mapping", "array": "a list", "string": "a text", "integer": "an integer",
             "number": "a number", "boolean": "true or false", "null": "null"}
    items = expected if isinstance(expected, list) else [expected]
    return " or ".join(names.get(t, t) for t in items)


# ---------------------------------------------------------------- semantics

def semantic_problems(doc: Document) -> list[Problem]:
    data = doc.data
    problems = identifier_problems(doc)
    for path, chain in chains(data):
        problems += chain_problems(doc, path, chain)
    for name, spec in fields_of(data):
        problems += field_problems(doc, name, spec)
    problems += duplicate_problems(doc)
    problems += guard_problems(doc)
    problems += source_problems(doc)
    return problems


def identifier_problems(doc: Document) -> list[Problem]:
    out = []
    table = (doc.data.get("target") or {}).get("table") if isinstance(doc.data.get("target"), dict) else None
    if isinstance(table, str):
        parts = table.split(".")
        if len(parts) > 2 or not all(IDENTIFIER.match(p) for p in parts):
            out.append(doc.problem(("target", "table"), "R050",
                                   f"target.table: {table!r} is not a plain SQL identifier; write table or "
                                   "schema.table with letters, digits and underscores"))
    key = doc.data.get("key")
    if isinstance(key, dict) and isinstance(key.get("field"), str) and not IDENTIFIER.match(key["field"]):
        out.append(doc.problem(("key", "field"), "R050", f"key.field: {key['field']!r} is not a plain SQL identifier "
                                                          "(letters, digits and underscores, not starting with a digit)"))
    for name, _ in fields_of(doc.data):
        if not IDENTIFIER.match(name):
            out.append(doc.problem(("fields", name), "R050", f"fields: {name!r} is not a plain SQL identifier "
                                   "(letters, digits and underscores, not starting with a digit)", at_key=True))
    return out


def chain_problems(doc: Document, path: NodePath, chain: list[Any]) -> list[Problem]:
    out: list[Problem] = []
    typed_by: str | None = None
    for i, item in enumerate(chain):
        where = path + (i,)
        if isinstance(item, str):
            name, args, bare = item, None, True
        elif isinstance(item, dict) and len(item) == 1:
            (name, args), bare = next(iter(item.items())), False
        else:
            shown = f"keys {', '.join(map(repr, item))}" if isinstance(item, dict) else repr(item)
            out.append(doc.problem(where, "R021", f"{dotted(where)}: a transform is a name or a mapping with exactly "
                                                  f"one key (name: arguments); got {shown}"))
            continue
        if name not in TRANSFORM_NAMES:
            out.append(doc.problem(where, "R020", f"{dotted(where)}: unknown transform {name!r}"
                                   f"{closest(name, TRANSFORM_NAMES)} (valid: {', '.join(TRANSFORM_NAMES)})"))
            continue
        out += transform_problems(doc, where, name, args, bare)
        if typed_by and (name in TEXT_ONLY or name in TYPED):
            out.append(doc.problem(where, "R029", f"{dotted(where)}: {name} cannot follow {typed_by}, which already "
                                                  "turned the text into a typed value; move it before"))
        typed_by = name if name in TYPED else typed_by
    return out or sql_binding_problems(doc, path, chain)


def sql_binding_problems(doc: Document, path: NodePath, chain: list[Any]) -> list[Problem]:
    """R025 for the first ``sql:`` step that does not fit the value reaching it (``upper(value)``
    after ``to_integer``): the chain's own SQL is bound by DuckDB, as every run would bind it.
    Only for a chain without other problems, whose steps all compile."""
    items = [(item, None) if isinstance(item, str) else next(iter(item.items())) for item in chain]
    if not any(name == "sql" for name, _ in items):
        return []
    from ..transforms import sql_step_error  # imports DuckDB, which a chain with `sql:` needs anyway
    from .loader import transform_args
    from .model import Transform

    found = sql_step_error(_duck(), [Transform(name, transform_args(name, args)) for name, args in items])
    if found is None:
        return []
    i, given, reason = found
    where = path + (i,)
    if given == "ANY":
        value = "what the sql step before it gives"
    else:
        value = ("text" if given == "VARCHAR" else given) + (f", after {items[i - 1][0]}" if i else "")
    return [doc.problem(where + ("sql",), "R025", f"{dotted(where)}: sql: {items[i][1]!r} does not fit its input "
                                                   f"(value is {value}): {reason}")]


def transform_problems(doc: Document, where: NodePath, name: str, args: Any, bare: bool) -> list[Problem]:
    """Arguments of one known transform (R021-R025)."""
    label = dotted(where)
    if name in NO_ARGS:
        return [] if bare or args is None else [doc.problem(where, "R021", f"{label}: {name} takes no arguments; "
                                                                           f"write it as a bare name: {name}")]
    if bare or args is None:
        if name in OPTIONAL_ARGS:
            return []
        return [doc.problem(where, "R021", f"{label}: {name} needs arguments: {ARG_EXAMPLES[name]}")]
    argpath = where + (name,)
    checker = {"null_if": _null_if, "map": _map, "replace": _replace, "to_date": _to_date,
               "to_timestamp": _to_timestamp, "to_boolean": _to_boolean, "default": _default, "sql": _sql}[name]
    return [doc.problem(argpath + sub, code, f"{label}: {name}: {message}")
            for sub, code, message in checker(args)]


Finding = tuple[NodePath, str, str]  # (path below the arguments, code, message)


def _bad(message: str, name: str, sub: NodePath = ()) -> list[Finding]:
    return [(sub, "R021", f"{message}; expected {ARG_EXAMPLES[name]}")]


def _text_list(values: Any, name: str, sub: NodePath = ()) -> list[Finding]:
    if not isinstance(values, list) or not values:
        return _bad(f"expected a non-empty list, got {values!r}", name, sub)
    return [(sub + (j,), "R021", f"{v!r} is not a text; quote it") for j, v in enumerate(values)
            if not isinstance(v, str)]


def _null_if(args: Any) -> list[Finding]:
    return _text_list(args, "null_if")


def _map(args: Any) -> list[Finding]:
    if not isinstance(args, dict) or not args:
        return _bad(f"expected a non-empty mapping, got {args!r}", "map")
    values = args["values"] if is_long_map(args) else args
    out: list[Finding] = []
    if is_long_map(args) and args.get("unmapped", "keep") not in ("keep", "null", "invalid"):
        out.append((("unmapped",), "R021", f"unmapped: {args['unmapped']!r} is not valid"
                    f"{closest(args['unmapped'], ('keep', 'null', 'invalid'))} (valid: keep, null, invalid)"))
    sub = ("values",) if is_long_map(args) else ()
    for key, value in values.items():
        if isinstance(value, (dict, list)):
            out.append((sub + (key,), "R021", f"the value for {key!r} must be a single value, got {value!r}"))
    return out


def _replace(args: Any) -> list[Finding]:
    if not isinstance(args, dict) or set(args) != {"pattern", "with"}:
        return _bad(f"expected exactly the keys pattern and with, got {args!r}", "replace")
    out = [((k,), "R021", f"{k} must be a text, got {args[k]!r}") for k in ("pattern", "with")
           if not isinstance(args[k], str)]
    if not out:
        error = regex_error(args["pattern"])
        if error:
            out.append((("pattern",), "R022", f"invalid regular expression {args['pattern']!r}: {error} "
                        "(RE2 syntax: no look-around or back-references)"))
    return out


def _formats(args: dict[str, Any], name: str) -> list[Finding]:
    if "formats" not in args:
        return []
    formats = args["formats"]
    out = _text_list(formats, name, ("formats",))
    if out:
        return out
    for j, fmt in enumerate(formats):
        error = strptime_error(fmt)
        if error:
            out.append((("formats", j), "R023", f"invalid strptime format {fmt!r}: {error}"))
    return out


def _to_date(args: Any) -> list[Finding]:
    if not isinstance(args, dict) or not set(args) <= {"formats"}:
        return _bad(f"unexpected arguments {args!r}", "to_date")
    return _formats(args, "to_date")


def _to_timestamp(args: Any) -> list[Finding]:
    if not isinstance(args, dict) or not set(args) <= {"formats", "timezone"}:
        return _bad(f"unexpected arguments {args!r}", "to_timestamp")
    out = _formats(args, "to_timestamp")
    zone = args.get("timezone")
    if zone is not None and not timezone_ok(zone):
        out.append((("timezone",), "R024", f"unknown time zone {zone!r}; use an IANA name such as Asia/Tokyo or UTC"))
    return out


def _to_boolean(args: Any) -> list[Finding]:
    if not isinstance(args, dict) or set(args) != {"true", "false"}:
        return _bad(f"expected exactly the keys true and false, got {args!r}", "to_boolean")
    out = _text_list(args["true"], "to_boolean", ("true",)) + _text_list(args["false"], "to_boolean", ("false",))
    if not out:
        both = sorted(set(args["true"]) & set(args["false"]))
        if both:
            out.append((("false",), "R021", f"{', '.join(map(repr, both))} is listed under both true and false"))
    return out


def _default(args: Any) -> list[Finding]:
    return [] if isinstance(args, (str, int, float, bool)) else _bad(f"got {args!r}", "default")


def _sql(args: Any) -> list[Finding]:
    if not isinstance(args, str) or not args.strip():
        return _bad(f"got {args!r}", "sql")
    error = sql_expression_error(args)
    return [((), "R025", f"invalid DuckDB expression {args!r}: {error}")] if error else []


def field_problems(doc: Document, name: str, spec: dict[str, Any]) -> list[Problem]:
    path = ("fields", name)
    out = compare_problems(doc, path + ("compare",), spec["compare"]) if "compare" in spec else []
    if spec.get("on_invalid") == "default" and "default" not in spec:
        out.append(doc.problem(path + ("on_invalid",), "R028", f"{dotted(path)}: on_invalid is default but the field "
                                                               "has no `default:` value to write"))
    return out


def compare_problems(doc: Document, path: NodePath, spec: Any) -> list[Problem]:
    label = dotted(path)
    valid = f"(valid: {', '.join(COMPARE_NAMES)}, or {{numeric: {{tolerance: 0.5}}}})"
    if isinstance(spec, dict) and len(spec) == 1:
        kind, args = next(iter(spec.items()))
    elif isinstance(spec, str):
        kind, args = spec, None
    else:
        return [doc.problem(path, "R027", f"{label}: expected a comparison name or {{numeric: {{tolerance: N}}}}, "
                                          f"got {spec!r}")]
    if kind not in COMPARE_NAMES:
        return [doc.problem(path, "R026", f"{label}: unknown comparison {kind!r}{closest(kind, COMPARE_NAMES)} {valid}")]
    if args is None:
        return []
    if kind != "numeric":
        return [doc.problem(path, "R027", f"{label}: {kind} takes no arguments; write compare: {kind}")]
    if not isinstance(args, dict) or not set(args) <= {"tolerance"}:
        return [doc.problem(path + (kind,), "R027", f"{label}: numeric takes {{tolerance: N}}, got {args!r}")]
    tolerance = args.get("tolerance", 0)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
        return [doc.problem(path + (kind, "tolerance"), "R027",
                            f"{label}: tolerance must be a number >= 0, got {tolerance!r}")]
    return []


def duplicate_problems(doc: Document) -> list[Problem]:
    """R030 a sheet column read twice; R031 a table column twice (names equal but for case); R032 key as field."""
    out = []
    key = doc.data.get("key") if isinstance(doc.data.get("key"), dict) else {}
    columns: dict[str, NodePath] = {}
    if isinstance(key.get("column"), str):
        columns[key["column"].strip()] = ("key", "column")
    names: dict[str, str] = {}
    for name, spec in fields_of(doc.data):
        path = ("fields", name)
        if name == key.get("field"):
            out.append(doc.problem(path, "R032", f"fields.{name}: {name!r} is the key field (key.field); the key is "
                                                 "matched on, never written, so remove it from fields", at_key=True))
        if name.lower() in names:
            out.append(doc.problem(path, "R031", f"fields.{name}: table column {name!r} is already mapped as "
                                                 f"{names[name.lower()]!r} (PostgreSQL folds unquoted names to "
                                                 "lower case)", at_key=True))
        names.setdefault(name.lower(), name)
        column = spec.get("column")
        if isinstance(column, str):
            if column.strip() in columns:
                first = columns[column.strip()]
                out.append(doc.problem(path + ("column",), "R030", f"fields.{name}.column: sheet column {column!r} "
                                       f"is already read by {dotted(first[:-1])} (line {doc.mark(first)[0]})"))
            columns.setdefault(column.strip(), path + ("column",))
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def guard_problems(doc: Document) -> list[Problem]:
    """R040: guards and thresholds that could never do what they say."""
    out = []
    policy = doc.data.get("policy") if isinstance(doc.data.get("policy"), dict) else {}
    limit = policy.get("max_changed_rows")
    path = ("policy", "max_changed_rows")
    if isinstance(limit, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?%", limit) and not 0 < float(limit[:-1]) <= 100:
        out.append(doc.problem(path, "R040", f"policy.max_changed_rows: {limit!r} is out of range; a percentage "
                                             "must be above 0% and at most 100%"))
    if isinstance(limit, int) and not isinstance(limit, bool) and limit < 1:
        out.append(doc.problem(path, "R040", f"policy.max_changed_rows: {limit!r} is out of range; a row count "
                                             "must be at least 1 (use `compare: never` to read without writing)"))
    monitoring = doc.data.get("monitoring") if isinstance(doc.data.get("monitoring"), dict) else {}
    alert = monitoring.get("alert_when") if isinstance(monitoring.get("alert_when"), dict) else {}
    rate = alert.get("field_failure_rate")
    if _number(rate) and not 0 <= rate <= 1:
        out.append(doc.problem(("monitoring", "alert_when", "field_failure_rate"), "R040",
                               f"monitoring.alert_when.field_failure_rate: {rate!r} is out of range; it is a share "
                               "between 0 and 1 (0.05 = 5%)"))
    runs = alert.get("persistent_drift_runs")
    if _number(runs) and runs < 1:
        out.append(doc.problem(("monitoring", "alert_when", "persistent_drift_runs"), "R040",
                               f"monitoring.alert_when.persistent_drift_runs: {runs!r} is out of range; it must be "
                               "at least 1"))
    for where, value in (("window", monitoring.get("window")), ("no_success_for", alert.get("no_success_for"))):
        if isinstance(value, str) and re.fullmatch(r"[0-9]+[smhd]", value) and not duration_in_range(value):
            path = ("monitoring", where) if where == "window" else ("monitoring", "alert_when", where)
            out.append(doc.problem(path, "R040", f"{dotted(path)}: {value!r} is out of range; it must be longer "
                                                 f"than zero and at most {MAX_DURATION.days}d (a century)"))
    return out + notify_problems(doc, monitoring)


def notify_problems(doc: Document, monitoring: dict[str, Any]) -> list[Problem]:
    """R014: a webhook that could never be posted to (not http(s), no host); empty is off."""
    from ..alerts import webhook_url_problem

    sinks = monitoring.get("notify") if isinstance(monitoring.get("notify"), list) else []
    out = []
    for i, sink in enumerate(sinks):
        url = sink.get("webhook") if isinstance(sink, dict) else None
        written = isinstance(url, str) and url.strip() and "${" not in url  # a ${VAR} is checked once expanded
        problem = webhook_url_problem(url) if written else None
        if problem:
            path = ("monitoring", "notify", i, "webhook")
            out.append(doc.problem(path, "R014", f"{dotted(path)}: {problem} (write https://host/path)"))
    return out


def source_problems(doc: Document) -> list[Problem]:
    """R080 unsupported file suffix, R081 file not found (a warning), R082 worksheet and gid both given,
    R083 an encoding that is unknown or does not decode text, R084 a delimiter CSV cannot use,
    R085 a worksheet named for a CSV or TSV file (a warning: it has one sheet)."""
    source = doc.data.get("source")
    if not isinstance(source, dict):
        return []
    out = []
    if source.get("type") == "google_sheets" and "worksheet" in source and "gid" in source:
        out.append(doc.problem(("source", "gid"), "R082", "source: give worksheet or gid, not both", at_key=True))
    encoding = source.get("encoding")
    problem = encoding_problem(encoding) if isinstance(encoding, str) and "${" not in encoding else None
    if problem:
        out.append(doc.problem(("source", "encoding"), "R083", f"source.encoding: {problem}; {ENCODING_HINT}"))
    delimiter = source.get("delimiter")
    if isinstance(delimiter, str) and delimiter in ('"', "\n", "\r"):
        out.append(doc.problem(("source", "delimiter"), "R084", f"source.delimiter: {delimiter!r} cannot separate "
                               "cells: it quotes them or ends the line; use , ; tab or |"))
    given = source.get("path")
    if source.get("type") != "file" or not isinstance(given, str) or "${" in given:
        return out
    path = doc.abspath.parent / Path(given).expanduser()
    text_file = source.get("format") in ("csv", "tsv") or ("format" not in source
                                                            and path.suffix.lower() in (".csv", ".tsv"))
    if "worksheet" in source and text_file:
        out.append(doc.problem(("source", "worksheet"), "R085", "source.worksheet: a CSV or TSV file has one sheet; "
                               "the worksheet is not used (it is for XLSX files)", severity="warning", at_key=True))
    if "format" not in source and path.suffix.lower() not in FILE_SUFFIXES:
        out.append(doc.problem(("source", "path"), "R080", f"source.path: cannot tell the format of {given!r} from "
                               f"its suffix; name it .csv, .tsv or .xlsx, or add format: csv|tsv|xlsx"))
    if not path.exists():
        out.append(doc.problem(("source", "path"), "R081", f"source.path: {given!r} does not exist (looked at "
                               f"{path.resolve()})", severity="warning"))
    return out


# ---------------------------------------------------------------- DuckDB, Python checks

@cache
def _duck() -> Any:
    import duckdb  # lazily: `reconcile validate` of a file without regex or sql never loads DuckDB

    return duckdb.connect()


def _duck_error(query: str, params: list[Any]) -> str | None:
    import duckdb

    try:
        _duck().execute(query, params).fetchall()
    except duckdb.Error as err:
        return str(err).split("\n")[0].removeprefix("Invalid Input Error: ")
    return None


@cache
def regex_error(pattern: str) -> str | None:
    """Why DuckDB (RE2) rejects ``pattern``, or None."""
    return _duck_error("SELECT regexp_matches('', ?)", [pattern])


@cache
def strptime_error(fmt: str) -> str | None:
    """Why DuckDB's strptime rejects ``fmt``, or None; a format with no % directive is rejected too."""
    if "%" not in fmt:
        return "it has no % directive, so it could only match itself"
    return _duck_error("SELECT try_strptime('', ?)", [fmt])


@cache
def sql_expression_error(expression: str) -> str | None:
    """Why DuckDB cannot parse ``expression`` as one expression, or None. Parsed only, never executed."""
    import json

    rows = _duck().execute("SELECT json_serialize_sql(?)", [f"SELECT ({expression}) AS value"]).fetchall()
    parsed = json.loads(rows[0][0])
    if parsed.get("error"):
        return parsed.get("error_message", "syntax error")
    if len(parsed.get("statements", [])) != 1:
        return "it must be a single expression"
    return _unknown_name(expression)


def _unknown_name(expression: str) -> str | None:
    """A column or table the expression names that is not there (the only name it has is
    ``value``), or a function DuckDB does not have. Bound by PREPARE, never executed; type
    errors depend on the chain's earlier steps (``sql_binding_problems``)."""
    import duckdb

    con = _duck()
    try:
        con.execute(f"PREPARE reconcile_check AS SELECT ({expression}) AS out FROM (SELECT NULL::VARCHAR AS value) AS cell")
    except duckdb.BinderException as err:
        message = str(err).splitlines()[0].removeprefix("Binder Error: ")
        if message.startswith("Referenced "):
            return f"{message.rstrip('!')}; the cell's value is named `value`"
        return None
    except duckdb.CatalogException as err:  # a function DuckDB does not have, whatever the value's type
        from ..transforms import duckdb_reason

        return duckdb_reason(err)
    con.execute("DEALLOCATE reconcile_check")
    return None


def timezone_ok(zone: Any) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(zone, str) or not zone:
        return False
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
