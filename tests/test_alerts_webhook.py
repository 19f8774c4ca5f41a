"""Alerts: thresholds from the rule file, stored in reconcile.alerts, sent once per window,
resolutions announced once, delivered to a real local webhook receiver."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from engine import monitor
from engine.rules.model import FieldRule, FileSource, KeyRule, Monitoring, Notify, RuleSet, Target
from support.monitor import NOW, add_run, schema
from support.webhook import webhook_receiver

H = timedelta(hours=1)
pytestmark = pytest.mark.integration


def rules(monitoring: Monitoring) -> RuleSet:
    return RuleSet(version=1, name="b", source=FileSource(path=Path("/nonexistent.csv")),
                   target=Target(dsn=None, schema="public", table="t"), key=KeyRule("k", "K"),
                   fields=(FieldRule("note", "Note"), FieldRule("owner", "Owner")), monitoring=monitoring)


def evaluate(dsn: str, ruleset: RuleSet, now=NOW) -> list[monitor.Alert]:
    with psycopg.connect(dsn) as conn:
        found = monitor.evaluate_and_notify(conn, ruleset, now=now)
        conn.commit()
    return found


def drift_run(dsn: str, ago: timedelta, left: int = 1) -> int:
    return add_run(dsn, "b", ago=ago, fields={"note": {"compared": 5, "differing": left, "conflicts": left},
                                              "owner": {"compared": 5}})


def test_persistent_drift_webhook_sent_once_then_resolved_once(pg_dsn, capsys):
    """Three runs leaving 'note' different -> one POST; evaluating again within the window sends
    nothing; a clean run resolves it -> exactly one 'resolved' POST, then silence."""
    schema(pg_dsn)
    with webhook_receiver() as hook:
        ruleset = rules(Monitoring(window=24 * H, persistent_drift_runs=3, zero_compared=False,
                                   notify=(Notify(webhook=hook.url, stderr=True),)))
        for ago in (3, 2, 1):
            drift_run(pg_dsn, ago * H)
        found = evaluate(pg_dsn, ruleset)
        assert [(a.kind, a.field, a.state) for a in found] == [("persistent_drift", "note", "firing")]
        assert len(hook.bodies) == 1
        body = hook.bodies[0]
        assert body["kind"] == "persistent_drift" and body["field"] == "note" and body["rule"] == "b"
        assert body["threshold"] == 3 and body["state"] == "firing" and "note" in body["text"]
        assert body["run_id"] is not None
        assert "reconcile ALERT [b] persistent_drift field note" in capsys.readouterr().err

        again = evaluate(pg_dsn, ruleset, now=NOW + 2 * H)
        assert [a.due for a in again] == [False]
        assert len(hook.bodies) == 1, "sent twice within the window"

        evaluate(pg_dsn, ruleset, now=NOW + 25 * H)  # the window has passed: a reminder
        assert len(hook.bodies) == 2

        add_run(pg_dsn, "b", ago=-26 * H, fields={"note": {"compared": 5}, "owner": {"compared": 5}})
        resolved = evaluate(pg_dsn, ruleset, now=NOW + 27 * H)
        assert [(a.kind, a.state) for a in resolved] == [("persistent_drift", "resolved")]
        assert len(hook.bodies) == 3 and hook.bodies[2]["state"] == "resolved"
        assert evaluate(pg_dsn, ruleset, now=NOW + 28 * H) == []
        assert len(hook.bodies) == 3
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT kind, field_name, last_sent, resolved_at IS NOT NULL, resolved_sent IS NOT NULL "
                            "FROM reconcile.alerts").fetchall()
    assert rows == [("persistent_drift", "note", NOW + 25 * H, True, True)]


def test_drift_needs_n_consecutive_runs(pg_dsn):
    """Two drifting runs after a clean one are not yet persistent for N = 3."""
    schema(pg_dsn)
    ruleset = rules(Monitoring(persistent_drift_runs=3, zero_compared=False))
    drift_run(pg_dsn, 3 * H, left=0)
    drift_run(pg_dsn, 2 * H)
    drift_run(pg_dsn, 1 * H)
    with psycopg.connect(pg_dsn) as conn:
        assert monitor.check_thresholds(conn, ruleset, now=NOW) == []


def test_failure_rate_zero_compared_and_no_success(pg_dsn):
    """Each threshold kind with its value: owner failed 2 of 3 write attempts (> 0.5), note 1 of 3
    (not above); owner compared zero rows in the last full run; no successful run for more than 6h."""
    schema(pg_dsn)
    ok = {"kind": "write", "success": True}
    add_run(pg_dsn, "b", ago=30 * H, fields={"note": {"compared": 5}, "owner": {"compared": 5}})
    add_run(pg_dsn, "b", ago=9 * H, status="partial", fields={"note": {"compared": 5}, "owner": {"errors": 1}},
            logs=[{"key": "*", "field": "owner", "message": "column missing"},
                  {"key": "K1", "field": "note", **ok}, {"key": "K2", "field": "note", "kind": "conflict"}])
    add_run(pg_dsn, "b", ago=8 * H, status="partial", fields={"note": {"compared": 5},
                                                              "owner": {"compared": 5, "errors": 1}},
            logs=[{"key": "K1", "field": "owner", "message": "check violated"},
                  {"key": "K3", "field": "note", **ok}, {"key": "K3", "field": "owner", "kind": "invalid"}])
    add_run(pg_dsn, "b", ago=7 * H, status="partial", fields={"note": {"compared": 5}, "owner": {"compared": 0}},
            logs=[{"key": "K2", "field": "owner", **ok}])
    add_run(pg_dsn, "b", ago=1 * H, status="failed", keys=["K1"], fields={"note": {"compared": 1}})
    ruleset = rules(Monitoring(window=24 * H, field_failure_rate=0.5, zero_compared=True,
                               no_success_for=6 * H))
    with psycopg.connect(pg_dsn) as conn:
        found = {(a.kind, a.field): a for a in monitor.check_thresholds(conn, ruleset, now=NOW)}
    assert set(found) == {("failure_rate", "owner"), ("zero_compared", "owner"), ("no_success", None)}
    assert found[("failure_rate", "owner")].value == pytest.approx(2 / 3)
    assert found[("failure_rate", "owner")].threshold == 0.5
    assert found[("no_success", None)].value == pytest.approx((30 * H - timedelta(seconds=5)).total_seconds())


def test_failing_webhook_is_reported_not_raised_and_retried(pg_dsn, capsys):
    """A 500 from the webhook: a line on stderr without the URL's token, no exception, and the
    alert stays unsent so the next evaluation tries again."""
    schema(pg_dsn)
    with webhook_receiver() as hook:
        hook.status = 500
        ruleset = rules(Monitoring(persistent_drift_runs=1, zero_compared=False,
                                   notify=(Notify(webhook=hook.url),)))
        drift_run(pg_dsn, 1 * H)
        assert [a.kind for a in evaluate(pg_dsn, ruleset)] == ["persistent_drift"]
        err = capsys.readouterr().err
        assert "HTTP 500" in err and "secret-token" not in err
        hook.status = 200
        evaluate(pg_dsn, ruleset, now=NOW + 1 * H)
        assert len(hook.bodies) == 2


def test_unreachable_webhook_times_out_quietly(pg_dsn, capsys):
    """Nothing listening: the evaluation still returns its alerts."""
    schema(pg_dsn)
    ruleset = rules(Monitoring(persistent_drift_runs=1, zero_compared=False,
                               notify=(Notify(webhook="http://127.0.0.1:9/hook"),)))
    drift_run(pg_dsn, 1 * H)
    assert [a.kind for a in evaluate(pg_dsn, ruleset)] == ["persistent_drift"]
    err = capsys.readouterr().err
    assert err.startswith("reconcile: alert not delivered (b:persistent_drift:note): "
                          "webhook http://127.0.0.1:9/... failed: "), err
    assert err.rstrip().endswith("it is retried at the next evaluation"), err
    assert "/hook" not in err, "the URL's path (often a secret token) is not printed"


@pytest.mark.parametrize("url, why", [
    ("hooks.example.com/services/T000/B000/SECRETTOKEN", "not an http:// or https:// URL"),
    ("http://[::1/SECRETTOKEN", "not a valid URL"),
    ("https://user:SECRETTOKEN@[::1/x", "not a valid URL"),
    ("file:///etc/SECRETTOKEN", "not an http:// or https:// URL"),
])
def test_a_webhook_url_that_cannot_be_posted_to_is_an_undelivered_alert(pg_dsn, capsys, url, why):
    """Before, urllib's ValueError or TypeError escaped (after the run had committed) and its
    text quoted the URL: now a failed delivery like any other, the token never printed."""
    schema(pg_dsn)
    ruleset = rules(Monitoring(persistent_drift_runs=1, zero_compared=False, notify=(Notify(webhook=url),)))
    drift_run(pg_dsn, 1 * H)
    assert [a.kind for a in evaluate(pg_dsn, ruleset)] == ["persistent_drift"]
    err = capsys.readouterr().err
    assert "alert not delivered" in err and why in err and "SECRETTOKEN" not in err, err
