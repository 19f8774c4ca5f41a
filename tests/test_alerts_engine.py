"""Alerts at the end of every engine run: one webhook POST for a persistent drift, not two,
and one for its resolution. The drift is a sheet cell the transform cannot read."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from engine import api
from engine.rules.model import Monitoring, Notify
from support.engine_world import fetch, load_table, rules_for, write_sheet
from support.webhook import webhook_receiver

pytestmark = [pytest.mark.integration]


def sheet(amount: str) -> list[dict[str, str]]:
    return [{"k": "K1", "note": "n", "owner": "", "amount": amount, "due": "2024-01-31"}]


def test_persistent_drift_alert_from_runs(pg_dsn, tmp_path):
    load_table(pg_dsn, [{"k": "K1", "note": "n", "owner": None, "amount": None, "due": "2024-01-31"}])
    path = tmp_path / "sheet.csv"
    with webhook_receiver() as hook:
        rules = replace(rules_for(write_sheet(path, sheet("not-a-number"))),
                        monitoring=Monitoring(window=timedelta(hours=1), persistent_drift_runs=2,
                                              zero_compared=False, notify=(Notify(webhook=hook.url),)))
        first = api.run(rules, dsn=pg_dsn)
        assert hook.bodies == []
        second = api.run(rules, dsn=pg_dsn)
        assert [(b["kind"], b["field"], b["state"], b["run_id"]) for b in hook.bodies] == \
            [("persistent_drift", "amount", "firing", second.run_id)]
        api.run(rules, dsn=pg_dsn)
        assert len(hook.bodies) == 1, "the same alert was sent twice within the window"
        write_sheet(path, sheet("12"))
        api.run(rules, dsn=pg_dsn)
        assert [b["state"] for b in hook.bodies] == ["firing", "resolved"]
        api.run(rules, dsn=pg_dsn)
        assert len(hook.bodies) == 2
    assert first.run_id < second.run_id
    assert fetch(pg_dsn, "SELECT kind, field_name, resolved_at IS NOT NULL FROM reconcile.alerts") == \
        [("persistent_drift", "amount", True)]


def test_a_first_load_into_an_empty_table_is_no_zero_compared_alert(pg_dsn, tmp_path):
    """Every row new, nothing to compare: zero_compared (meant for a renamed header) fired on
    every field of a first load. Once the table has rows, a field comparing none still alerts."""
    load_table(pg_dsn, [])
    with webhook_receiver() as hook:
        rules = replace(rules_for(write_sheet(tmp_path / "sheet.csv", sheet("12"))),
                        policy=replace(rules_for(tmp_path / "sheet.csv").policy, new_rows="insert"),
                        monitoring=Monitoring(window=timedelta(hours=1), zero_compared=True,
                                              notify=(Notify(webhook=hook.url),)))
        first = api.run(rules, dsn=pg_dsn)
        assert first.inserted_rows == 1 and hook.bodies == []
        write_sheet(tmp_path / "sheet.csv", [{**sheet("12")[0], "k": "K2"}])  # the table's K1 is no longer in it
        api.run(rules, dsn=pg_dsn)
        assert {(b["kind"], b["state"]) for b in hook.bodies} == {("zero_compared", "firing")}
