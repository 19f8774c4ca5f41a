"""The two-command demo: a complete reconcile on bundled sample data, embedded PostgreSQL.

It seeds a stale copy of the buyers table (buyer 6666's follow-up fields out of date, as in
the incident that started this project), shows the plan, applies it, shows that a second
run finds nothing, and points at the log tables. No server, credentials or network.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import api, target
from .resources import read_text, resource_path
from .results import PlanResult, RunResult

DEMO_RULES = ("rules", "buyers_file.yaml")
WATCHED = "6666"


@dataclass(frozen=True)
class DemoResult:
    before: dict[str, str | None]
    plan: PlanResult
    first: RunResult
    second: RunResult
    after: dict[str, str | None]

    @property
    def converged(self) -> bool:
        return self.first.exit_code == 0 and self.second.written == 0 and self.second.inserted_rows == 0


def seed(dsn: str) -> None:
    """(Re)create public.buyers as a stale copy of the sample sheet; clear earlier demo logs."""
    with target.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS public.buyers")
        conn.execute("DROP SCHEMA IF EXISTS reconcile CASCADE")
        conn.execute(read_text("sql", "buyers.sql"))
        conn.execute(read_text("examples", "seed_buyers.sql"))
        conn.commit()


def watched_row(dsn: str, key: str = WATCHED) -> dict[str, str | None]:
    with target.connect(dsn) as conn:
        row = conn.execute(
            "SELECT viewing_result_follow_up, follow_up_assignee FROM public.buyers WHERE buyer_number = %s",
            [key]).fetchone()
    return dict(zip(("viewing_result_follow_up", "follow_up_assignee"), row or (None, None)))


def run_demo(dsn: str = "embedded", *, say: Callable[[str], None] = print,
             show_plan: Callable[[PlanResult], str] | None = None,
             show_run: Callable[[RunResult], str] | None = None) -> DemoResult:
    rules = resource_path(*DEMO_RULES)
    say(f"Rule file: {rules}")
    say("Seeding public.buyers with a stale copy of examples/buyers.csv …")
    seed(dsn)
    before = watched_row(dsn)
    say(f"Buyer {WATCHED} in the table before: {before}")
    planned = api.plan(rules, dsn=dsn)
    say("\n$ reconcile plan rules/buyers_file.yaml")
    say(show_plan(planned) if show_plan else str(planned))
    say("\n$ reconcile run rules/buyers_file.yaml")
    first = api.run(rules, dsn=dsn)
    say(show_run(first) if show_run else str(first))
    say("\n$ reconcile run rules/buyers_file.yaml   # again: nothing left to do")
    second = api.run(rules, dsn=dsn)
    say(show_run(second) if show_run else str(second))
    after = watched_row(dsn)
    say(f"\nBuyer {WATCHED} in the table after: {after}")
    return DemoResult(before, planned, first, second, after)
