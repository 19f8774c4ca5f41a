"""Rule files from YAML: parse with line marks, expand ``${VAR}``, validate, build the RuleSet.

The path a file takes: bytes -> YAML nodes (composed by PyYAML's safe loader; we build
the values ourselves so every value keeps its line and column, and a repeated mapping key
is an error instead of silently winning) -> version check and upgrades
(``engine.rules.versions``) -> ``${VAR}`` expansion in string values -> JSON Schema and
semantic checks (``engine.rules.validate``) -> frozen model objects (``engine.rules.model``).
Every problem is collected; nothing stops at the first.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, Sequence

import yaml

from ..errors import RuleFileError
from . import versions
from .model import (Comparison, FieldRule, FileSource, GoogleSheetsSource, KeyRule, Mark, Monitoring,
                    Notify, Policy, Problem, RowLimit, RuleSet, Source, Target, Transform)

NodePath = tuple[str | int, ...]
EnvMode = Literal["load", "validate", "strict"]

DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")
DEFAULT_TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# A span longer than a century is a typo, and past what dates hold (`now - window` overflows).
MAX_DURATION = timedelta(days=36_500)
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_VAR_REF = re.compile(r"\$\{([^}]*)\}")
_VAR_BODY = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?$", re.S)
# An unset ${VAR} here leaves the value unset instead of failing: --dsn or $DATABASE_URL may still give it.
_OPTIONAL_WHEN_UNSET: frozenset[NodePath] = frozenset({("target", "dsn")})


@dataclass
class Document:
    """A parsed rule file: plain values plus where each came from."""

    path: str  # as given, for messages
    abspath: Path
    digest: str  # sha256 of the bytes
    data: Any = None
    marks: dict[NodePath, tuple[int, int]] = field(default_factory=dict)  # value -> line, column
    key_marks: dict[NodePath, tuple[int, int]] = field(default_factory=dict)  # mapping entry -> its key
    raw: dict[NodePath, str] = field(default_factory=dict)  # plain scalars as written

    def mark(self, path: NodePath) -> tuple[int | None, int | None]:
        """Line and column of the value at ``path``, else of its nearest parent."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.marks:
                return self.marks[path[:end]]
        return None, None

    def key_mark(self, path: NodePath) -> tuple[int | None, int | None]:
        """Line and column of the key of the entry at ``path`` (its value's when not a mapping entry)."""
        return self.key_marks.get(path) or self.mark(path)

    def problem(self, path: NodePath, code: str, message: str, *, at_key: bool = False,
                severity: Literal["error", "warning"] = "error") -> Problem:
        line, column = self.key_mark(path) if at_key else self.mark(path)
        return Problem(self.path, line, column, code, message, severity)

    def model_mark(self, path: NodePath) -> Mark | None:
        line, column = self.key_mark(path)
        return Mark(str(self.abspath), line, column) if line is not None and column is not None else None


def dotted(path: NodePath) -> str:
    """A node path as users write it: ``fields.status.transform[1]``.

    >>> dotted(("fields", "status", "transform", 1))
    'fields.status.transform[1]'
    """
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


# ---------------------------------------------------------------- YAML with marks

class _Builder:
    """Builds plain values from composed YAML nodes, recording marks and duplicate keys."""

    def __init__(self, doc: Document, loader: yaml.SafeLoader) -> None:
        self.doc, self.loader, self.problems = doc, loader, []  # type: list[Problem]

    def build(self, node: yaml.Node, path: NodePath) -> Any:
        self.doc.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if node.style is None:
            self.doc.raw[path] = node.value
        if node.tag == _TIMESTAMP_TAG:  # dates stay text: the schema and transforms expect strings
            return node.value
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: NodePath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:
                first = self.doc.key_marks[path + (key,)]
                self.problems.append(Problem(
                    self.doc.path, mark[0], mark[1], "R002",
                    f"duplicate key {key!r} in {dotted(path)} (first at line {first[0]}, again at line {mark[0]}); "
                    "YAML would silently keep only the last one"))
                continue
            self.doc.key_marks[path + (key,)] = mark
            out[key] = self.build(value_node, path + (key,))
        return out

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            return str(node.start_mark)  # a complex key: never a valid name, reported by the schema
        if node.tag == "tag:yaml.org,2002:bool":  # `true:` in to_boolean means the text, not a boolean
            return node.value.lower() if node.value.lower() in ("true", "false") else node.value
        return node.value if node.tag != "tag:yaml.org,2002:null" else "null"


def parse(path: str | Path) -> tuple[Document, list[Problem]]:
    """Read and parse one rule file; ``Document.data`` is None when it cannot be parsed."""
    given = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        return Document(given, Path(path).absolute(), ""), [
            Problem(given, None, None, "R003", f"cannot read the rule file: {err.strerror or err}")]
    doc = Document(given, Path(path).resolve(), hashlib.sha256(raw).hexdigest())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return doc, [Problem(given, None, None, "R003", f"the rule file is not UTF-8 text ({err.reason} at byte {err.start})")]
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return doc, [Problem(given, 1, 1, "R003", "the rule file is empty")]
        builder = _Builder(doc, loader)
        doc.data = builder.build(node, ())
        if doc.data is None:  # `---` or `null` alone: a document that holds nothing
            return doc, [Problem(given, 1, 1, "R003", "the rule file is empty")]
        return doc, builder.problems
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        context = err.context_mark
        where = f" ({err.context} at line {context.line + 1}, column {context.column + 1})" \
            if err.context and context else ""
        return doc, [Problem(given, line, column, "R001", f"YAML syntax error: {err.problem}{where}")]
    except yaml.YAMLError as err:
        return doc, [Problem(given, None, None, "R001", f"YAML syntax error: {err}")]
    finally:
        loader.dispose()


# ---------------------------------------------------------------- ${VAR} expansion

def expand_string(text: str, env: Mapping[str, str]) -> tuple[str, list[str], list[str]]:
    """Expand ``${VAR}`` and ``${VAR:-default}``; return (text, unset names, malformed references).

    Unset variables are left as written. A text without ``${`` comes back unchanged.

    >>> expand_string("postgresql://${HOST:-db}/x", {})
    ('postgresql://db/x', [], [])
    >>> expand_string("${A}-${B}", {"A": "1"})
    ('1-${B}', ['B'], [])
    """
    if "${" not in text:
        return text, [], []
    unset: list[str] = []
    malformed: list[str] = []

    def sub(match: re.Match[str]) -> str:
        body = _VAR_BODY.match(match[1])
        if not body:
            malformed.append(match[0])
            return match[0]
        if body["name"] in env:
            return env[body["name"]]
        if body["default"] is not None:
            return body["default"]
        unset.append(body["name"])
        return match[0]

    out = _VAR_REF.sub(sub, text)
    if "${" in _VAR_REF.sub("", text):
        malformed.append(text[text.index("${", 0):][:40])
    return out, unset, malformed


def _strings(value: Any, path: NodePath) -> Iterator[tuple[NodePath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, path + (i,))


def _set(data: Any, path: NodePath, value: Any) -> None:
    """Set the value at ``path``; None removes the entry (as if it had not been written)."""
    for part in path[:-1]:
        data = data[part]
    if value is None:
        del data[path[-1]]
    else:
        data[path[-1]] = value


def expand_env(doc: Document, env: Mapping[str, str], mode: EnvMode) -> list[Problem]:
    """Expand variables in every string value of ``doc.data`` in place; report unset and malformed ones.

    ``mode``: load (unset = error), validate (unset = warning, the text stays as written),
    strict (unset = error, for ``validate --strict-env``).
    """
    problems = []
    for path, text in list(_strings(doc.data, ())):
        value, unset, malformed = expand_string(text, env)
        for bad in malformed:
            problems.append(doc.problem(path, "R061", f"{dotted(path)}: malformed variable reference {bad!r}; "
                                                      "write ${NAME} or ${NAME:-default}"))
        optional = path in _OPTIONAL_WHEN_UNSET and mode == "load"
        for name in unset:
            severity = "error" if mode == "strict" or (mode == "load" and not optional) else "warning"
            tail = (f"; {dotted(path)} is left unset, so the database must come from --dsn or $DATABASE_URL"
                    if path in _OPTIONAL_WHEN_UNSET else f"; set it, or write ${{{name}:-default}}")
            problems.append(doc.problem(path, "R060", f"environment variable {name} is not set "
                                                      f"({dotted(path)}){tail}", severity=severity))
        if path:  # a top-level string is not a rule file; the schema says so
            _set(doc.data, path, None if optional and unset else value)
    return problems


# ---------------------------------------------------------------- the pipeline

def analyse(path: str | Path, *, env: Mapping[str, str] | None = None,
            mode: EnvMode = "load") -> tuple[Document, list[Problem]]:
    """Every problem of one rule file, and the checked document."""
    from .validate import check_document  # validate imports this module's helpers

    doc, problems = parse(path)
    if doc.data is None or any(p.code == "R001" for p in problems):
        return doc, problems
    upgraded, version_problems = versions.upgrade(doc)
    problems += version_problems
    if not upgraded:
        return doc, problems
    problems += expand_env(doc, os.environ if env is None else env, mode)
    problems += check_document(doc)
    return doc, _ordered(problems)


def _ordered(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.path, p.line or 0, p.column or 0, p.code))


def load_rules(path: str | Path, *, env: Mapping[str, str] | None = None) -> RuleSet:
    """Load, validate and build one rule file.

    ``env`` (default ``os.environ``) expands ``${VAR}``. Raises ``RuleFileError`` listing every
    problem when there is any error; warnings alone do not stop loading.
    """
    doc, problems = analyse(path, env=env, mode="load")
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        listing = "\n".join(f"  {p}" + ("" if p.severity == "error" else " (warning)") for p in problems)
        plural = "s" if len(errors) > 1 else ""
        raise RuleFileError(f"{path}: {len(errors)} error{plural} in the rule file\n{listing}", problems,
                            hint=f"`reconcile validate {path}` checks a rule file without running it")
    return build_ruleset(doc)


def validate_paths(paths: Sequence[str | Path], *, env: Mapping[str, str] | None = None,
                   strict_env: bool = False) -> list[Problem]:
    """Every problem in every rule file; directories are searched recursively for *.yaml and *.yml.

    Unset variables are warnings unless ``strict_env``. Needs no database, credentials or network.
    """
    problems: list[Problem] = []
    for path in rule_files(paths, problems):
        problems += analyse(path, env=env, mode="strict" if strict_env else "validate")[1]
    return problems


def rule_files(paths: Sequence[str | Path], problems: list[Problem]) -> list[Path]:
    """The files named, and *.yaml/*.yml under the directories named (sorted); missing paths reported."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not inside:  # a CI step pointed at the wrong folder must not pass by checking nothing
                problems.append(Problem(str(given), None, None, "R003", "no *.yaml or *.yml rule files in this folder"))
            found += inside
        elif path.exists():
            found.append(path)
        else:
            problems.append(Problem(str(given), None, None, "R003", "no such file or directory"))
    return found


# ---------------------------------------------------------------- building the model

def build_ruleset(doc: Document) -> RuleSet:
    """The RuleSet of a document that passed validation."""
    data = doc.data
    key = data["key"]
    return RuleSet(
        version=data["version"],
        name=data["name"],
        description=data.get("description"),
        source=_source(doc, data["source"]),
        target=_target(doc, data["target"]),
        key=KeyRule(field=key["field"], column=key["column"],
                    transforms=transforms(doc, key.get("transform", []), ("key", "transform")),
                    mark=doc.model_mark(("key",))),
        fields=tuple(_field(doc, name, spec) for name, spec in data["fields"].items()),
        policy=_policy(data.get("policy", {})),
        monitoring=_monitoring(data.get("monitoring", {})),
        path=doc.abspath,
        hash=doc.digest,
    )


def _source(doc: Document, spec: dict[str, Any]) -> Source:
    mark = doc.model_mark(("source",))
    options = {k: v for k, v in spec.items() if k != "type"}
    if spec["type"] == "file":
        options["path"] = (doc.abspath.parent / Path(spec["path"]).expanduser()).resolve()
        return FileSource(mark=mark, **options)
    options["credentials"] = options.get("credentials") or None
    return GoogleSheetsSource(mark=mark, **options)


def split_table(name: str) -> tuple[str, str]:
    """``schema.table`` or ``table`` (schema public).

    >>> split_table("buyers"), split_table("crm.buyers")
    (('public', 'buyers'), ('crm', 'buyers'))
    """
    schema, _, table = name.rpartition(".")
    return schema or "public", table


def _target(doc: Document, spec: dict[str, Any]) -> Target:
    schema, table = split_table(spec["table"])
    return Target(dsn=spec.get("dsn") or None, schema=schema, table=table, mark=doc.model_mark(("target",)))


def _field(doc: Document, name: str, spec: dict[str, Any]) -> FieldRule:
    path = ("fields", name)
    return FieldRule(
        name=name, column=spec["column"],
        transforms=transforms(doc, spec.get("transform", []), path + ("transform",)),
        compare=comparison(spec.get("compare", "exact")),
        on_invalid=spec.get("on_invalid", "keep"),
        default=spec.get("default"),
        description=spec.get("description"),
        mark=doc.model_mark(path),
    )


def transforms(doc: Document, items: list[Any], path: NodePath) -> tuple[Transform, ...]:
    """The transform chain with arguments normalised as ``Transform``'s docstring says."""
    out = []
    for i, item in enumerate(items):
        name, args = (item, None) if isinstance(item, str) else next(iter(item.items()))
        out.append(Transform(name, transform_args(name, args), doc.model_mark(path + (i,))))
    return tuple(out)


def transform_args(name: str, args: Any) -> Any:
    """One transform's arguments in their normal form.

    >>> transform_args("map", {"追客中": "active"})
    {'values': {'追客中': 'active'}, 'unmapped': 'keep'}
    >>> transform_args("to_date", None)
    {'formats': ['%Y-%m-%d', '%Y/%m/%d']}
    """
    if name == "map":
        long = is_long_map(args)
        return {"values": dict(args["values"] if long else args),
                "unmapped": args.get("unmapped", "keep") if long else "keep"}
    if name == "to_date":
        return {"formats": list((args or {}).get("formats", DEFAULT_DATE_FORMATS))}
    if name == "to_timestamp":
        args = args or {}
        return {"formats": list(args.get("formats", DEFAULT_TIMESTAMP_FORMATS)),
                "timezone": args.get("timezone", "UTC")}
    if name == "null_if":
        return list(args)
    if isinstance(args, dict):
        return dict(args)
    return args


def is_long_map(args: Any) -> bool:
    """``map: {values: {...}, unmapped: ...}`` rather than the short ``map: {from: to}``."""
    return isinstance(args, dict) and "values" in args and isinstance(args["values"], dict) \
        and set(args) <= {"values", "unmapped"}


def comparison(spec: Any) -> Comparison:
    """``exact`` / ``ignore_case`` / ... / ``{numeric: {tolerance: 0.5}}`` as a Comparison."""
    if isinstance(spec, str):
        return Comparison(spec, Decimal(0) if spec == "numeric" else None)
    tolerance = (spec["numeric"] or {}).get("tolerance", 0)
    return Comparison("numeric", Decimal(str(tolerance)))


def row_limit(value: int | str) -> RowLimit:
    """``500`` -> a count, ``"10%"`` -> a percentage.

    >>> row_limit("10%"), row_limit(500)
    (RowLimit(count=None, percent=10.0), RowLimit(count=500, percent=None))
    """
    if isinstance(value, str):
        return RowLimit(percent=float(value.rstrip("%")))
    return RowLimit(count=int(value))


def duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d`` as a timedelta.

    >>> duration("24h") == timedelta(days=1)
    True
    """
    return timedelta(**{DURATION_UNITS[text[-1]]: int(text[:-1])})


def duration_in_range(text: str) -> bool:
    """Whether ``90s``-style ``text`` is longer than zero and at most ``MAX_DURATION``
    (in whole seconds: a huge count overflows a timedelta, and a float too).

    >>> duration_in_range("36500d"), duration_in_range("0h"), duration_in_range("9" * 400 + "d")
    (True, False, False)
    """
    unit = int(timedelta(**{DURATION_UNITS[text[-1]]: 1}).total_seconds())
    return 0 < int(text[:-1]) * unit <= int(MAX_DURATION.total_seconds())


def _policy(spec: dict[str, Any]) -> Policy:
    limit = spec.get("max_changed_rows")
    return Policy(new_rows=spec.get("new_rows", "report"), missing_rows=spec.get("missing_rows", "report"),
                  max_changed_rows=None if limit is None else row_limit(limit))


def _monitoring(spec: dict[str, Any]) -> Monitoring:
    alert = spec.get("alert_when", {})
    no_success = alert.get("no_success_for")
    return Monitoring(
        window=duration(spec["window"]) if "window" in spec else Monitoring.window,
        field_failure_rate=alert.get("field_failure_rate"),
        persistent_drift_runs=alert.get("persistent_drift_runs"),
        zero_compared=alert.get("zero_compared", True),
        no_success_for=duration(no_success) if no_success else None,
        # A sink disabled by an empty ${VAR:-} is dropped: with no sink left, alerts go to stderr.
        notify=tuple(Notify(webhook=n.get("webhook") or None, stderr=bool(n.get("stderr", False)))
                     for n in spec.get("notify", []) if n.get("webhook") or n.get("stderr")),
    )
