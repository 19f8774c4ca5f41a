"""The package installs, its CLI answers, and the test database is real PostgreSQL."""
from __future__ import annotations

import tomllib
from pathlib import Path

import psycopg
from click.testing import CliRunner

import engine
from engine.cli import main
from engine.redact import redact
from engine.resources import resource_path


def test_cli_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert engine.__version__ in result.output


def test_resources_found():
    assert resource_path("sql", "migrations").is_dir()


def test_pg_dsn_is_a_fresh_real_database(pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        tables = conn.execute(
            "select count(*) from information_schema.tables where table_schema not in ('pg_catalog','information_schema')"
        ).fetchone()[0]
        assert tables == 0
        assert conn.execute("select current_setting('server_version_num')::int").fetchone()[0] >= 140000


def test_redact_hides_passwords():
    assert redact("could not connect: postgresql://u:s3cret@h/db") == "could not connect: postgresql://u:***@h/db"
    assert redact("host=h password=s3cret dbname=d") == "host=h password=*** dbname=d"


def test_every_sql_folder_ships_in_the_package():
    """A new folder under sql/ must be listed in pyproject, or an install would lack its queries."""
    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = sorted(p.name for p in (root / "sql").iterdir() if p.is_dir() and any(p.glob("*.sql")))
    assert folders, "sql/ has no folders to check"
    for name in folders:
        assert f"engine.sql.{name}" in config["packages"], name
        assert config["package-data"][f"engine.sql.{name}"] == ["*.sql"], name
