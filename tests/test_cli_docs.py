"""Docs checked by tests: every command and option says what it does, and the README lists
every command, so a new command cannot ship undocumented."""
from __future__ import annotations

from pathlib import Path

import click
import pytest

import engine
from engine.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from commands(command, prefix + (name,))


ALL = list(commands())


def test_the_cli_has_its_commands():
    names = {" ".join(path) for path, _ in ALL}
    assert {"validate", "check", "plan", "run", "verify", "stats", "alerts", "recover", "rollback",
            "db init", "db status", "db query", "demo"} <= names


@pytest.mark.parametrize("path,command", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_command_and_options_have_help(path, command):
    assert (command.help or "").strip(), f"reconcile {' '.join(path)} has no help"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip(), f"reconcile {' '.join(path)} {param.opts[0]} has no help"


@pytest.mark.parametrize("path", [p for p, c in ALL if not isinstance(c, click.Group)],
                         ids=[" ".join(p) for p, c in ALL if not isinstance(c, click.Group)])
def test_readme_lists_the_command(path):
    assert f"`reconcile {' '.join(path)}" in README or f"`{path[-1]}`" in README, \
        f"README's commands table does not mention reconcile {' '.join(path)}"


def test_public_api_names_resolve():
    for name in engine.__all__:
        assert callable(getattr(engine, name)) or name == "__version__", name
