"""`reconcile demo`: the README's second command."""
from __future__ import annotations

import click

from .app import EXIT_FAILURE, dsn_option, exit_with, handles_errors, main
from .render import plan_text, run_text


@main.command("demo")
@click.option("--seed-only", is_flag=True,
              help="Only (re)create the stale sample table, to try verify, recover and rollback by hand.")
@dsn_option
@handles_errors
def demo_command(seed_only: bool, dsn: str | None) -> None:
    """Run a complete reconcile on the bundled sample sheet against an embedded PostgreSQL.

    Seeds public.buyers with stale data (buyer 6666's follow-up fields out of date), shows the
    plan, applies it, runs again to show nothing is left, and points at the log tables.
    Data lives under .reconcile/ (or $RECONCILE_HOME). Pass --dsn to use a server of yours:
    the demo drops and recreates public.buyers and the reconcile schema there.
    """
    from ..demo import WATCHED, run_demo, seed, watched_row

    database = dsn or "embedded"  # never $DATABASE_URL: the demo drops tables
    if seed_only:
        seed(database)
        click.echo(f"Seeded public.buyers with a stale copy of the sample sheet; buyer {WATCHED}: "
                   f"{watched_row(database)}")
        return
    result = run_demo(database, say=click.echo, show_plan=plan_text, show_run=run_text)
    click.echo("")
    if result.converged:
        where = "--dsn embedded" if database == "embedded" else "--dsn <your DSN>"
        click.echo("Converged: the second run found nothing to write. Explore the logs, e.g.:\n"
                   f"  reconcile db query \"SELECT run_id, record_key, field_name, old_value, new_value "
                   f"FROM reconcile.field_sync_logs\" {where}\n"
                   f"  reconcile db query \"SELECT * FROM reconcile.field_stats ORDER BY run_id, field_name\" {where}\n"
                   f"  reconcile verify rules/buyers_file.yaml {where}   # what a run cannot fix: unreadable cells, rows only in the table")
    else:
        click.echo("The demo did not converge: see the errors above.", err=True)
        exit_with(EXIT_FAILURE)
