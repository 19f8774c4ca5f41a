"""The click group and what every command shares: output format, error to exit code."""
from __future__ import annotations

import functools
import json
import os
import signal
import sys
import traceback
import unicodedata
from typing import Any, Callable, Iterable, Sequence

import click

from .. import __version__
from ..errors import EXIT_FAILURE, InternalError, ReconcileError, Terminated, unexpected_message
from ..redact import redact

FORMATS = click.Choice(["table", "json"])
DEBUG_VARIABLE = "RECONCILE_DEBUG"  # set: an unexpected error also prints its traceback
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # the shell's 128 + SIGINT, 128 + SIGTERM


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="reconcile")
def main() -> None:
    """reconcile: make a PostgreSQL table agree with a spreadsheet, field by field, and prove it.

    Exit codes: 0 ok; 1 runtime failure or partial run; 2 invalid usage or rule file;
    3 differences found (plan --detailed-exitcode, verify); 4 refused by a safety guard;
    5 an alert is firing (alerts).
    """


def entry() -> None:
    """The ``reconcile`` console script: the command group, with SIGTERM raising ``Terminated``
    so that a timeout stops a run as Ctrl-C does (rolled back, recorded) instead of killing it
    mid-way with its run left ``running``. Only here: tests and library callers keep theirs."""
    signal.signal(signal.SIGTERM, _terminate)
    main()


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def format_option(fn: Callable) -> Callable:
    return click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
                        help="Output: a table for people, or one JSON document on stdout for scripts.")(fn)


def dsn_option(fn: Callable) -> Callable:
    return click.option("--dsn", envvar=None, default=None, metavar="DSN",
                        help="PostgreSQL connection string; overrides the rule file and $DATABASE_URL. "
                             "'embedded' starts the bundled server under .reconcile/.")(fn)


def emit_json(document: Any) -> None:
    """Exactly one JSON document on stdout (progress and messages go to stderr)."""
    click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def echo_err(message: str) -> None:
    click.echo(redact(message), err=True)


def handles_errors(fn: Callable) -> Callable:
    """Map ReconcileError to its exit code; print it (as JSON when --format json). Any other
    exception is a bug: reported as ``InternalError`` (RC900, exit 1), never as a bare traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ReconcileError as err:
            report_error(err, kwargs.get("fmt"))
            sys.exit(err.exit_code)
        except KeyboardInterrupt as exc:
            echo_err(unexpected_message(exc))
            sys.exit(EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED)
        except (click.ClickException, click.Abort, click.exceptions.Exit):
            raise  # click's own usage errors and exits keep their messages and codes
        except Exception as exc:  # a bug: said as an error like any other, the traceback on request
            if os.environ.get(DEBUG_VARIABLE):
                echo_err("".join(traceback.format_exception(exc)).rstrip())
            hint = f"this is a bug in reconcile; set {DEBUG_VARIABLE}=1 to see where it happened, and report it"
            internal = InternalError(unexpected_message(exc), hint=hint)
            report_error(internal, kwargs.get("fmt"))
            sys.exit(internal.exit_code)

    return wrapper


def report_error(err: ReconcileError, fmt: str | None) -> None:
    """An error as the command's output: one JSON document with --format json, else a line on stderr."""
    if fmt == "json":
        emit_json({"ok": False, "error": json.loads(redact(json.dumps(err.to_dict(), default=str)))})
    else:
        echo_err(f"error: {err}")


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain aligned text table (numbers right-aligned), for the ``table`` output format.

    Columns are aligned by display width: 買主 takes four terminal cells, not two.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([display_width(h)] + [display_width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    for row in cells:
        lines.append("  ".join(_pad(v, w, right=_is_number(v)) for v, w in zip(row, widths)))
    return "\n".join(line.rstrip() for line in lines)


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes: wide and full-width characters count two, combining marks none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    text = str(value).replace("\n", "\\n")
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(text: str) -> bool:
    return text.replace(".", "", 1).replace("%", "", 1).lstrip("-").isdigit()


def exit_with(code: int) -> None:
    if code:
        sys.exit(code)


__all__ = ["EXIT_FAILURE", "dsn_option", "echo_err", "emit_json", "exit_with", "format_option",
           "display_width", "handles_errors", "main", "text_table"]
