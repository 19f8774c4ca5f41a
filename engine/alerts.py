"""Where alerts go: a line on stderr, and a webhook POST with a JSON body.

The webhook body is Slack-compatible (``text``) and carries the structured figures too
(rule, kind, field, value, threshold, run_id, state), so any receiver can route on them.
A failing sink is reported on stderr and never raises: monitoring must not turn a finished
run into a failed one. An alert counts as delivered only when every sink took it; an
undelivered alert is tried again at the next evaluation.
"""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import urlsplit

from .redact import redact
from .rules.model import Monitoring, Notify

if TYPE_CHECKING:
    from .monitor import Alert

WEBHOOK_TIMEOUT_SECONDS = 5.0
USER_AGENT = "reconcile-alerts/1"


def warn(message: str) -> None:
    """A line on stderr (secrets redacted)."""
    print(redact(message), file=sys.stderr, flush=True)


def alert_line(alert: Alert) -> str:
    """The one-line form used on stderr and as the webhook's ``text``."""
    where = f" field {alert.field}" if alert.field else ""
    tag = "RESOLVED" if alert.state == "resolved" else "ALERT"
    return f"reconcile {tag} [{alert.rule}] {alert.kind}{where}: {alert.message}"


def payload(alert: Alert) -> dict[str, Any]:
    """The webhook's JSON body."""
    return {
        "text": alert_line(alert),
        "rule": alert.rule,
        "kind": alert.kind,
        "field": alert.field,
        "state": alert.state,
        "value": alert.value,
        "threshold": alert.threshold,
        "run_id": alert.run_id,
        "message": alert.message,
        "fingerprint": alert.fingerprint,
        "first_seen": alert.first_seen.isoformat() if alert.first_seen else None,
    }


def post_webhook(url: str, body: dict[str, Any], *, timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> str | None:
    """POST ``body`` as JSON; None on a 2xx answer, else why it failed (URL shown without its path).

    Never raises: a URL that is not http(s), or that urllib cannot even parse, is a failed
    delivery like a refused connection (the run it reports on has already committed).
    """
    shown, problem = _safe_url(url), webhook_url_problem(url)
    if problem:
        return f"webhook {shown} failed: {problem}"
    try:
        request = urllib.request.Request(url, data=json.dumps(body, default=str).encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    except urllib.error.URLError as err:
        return f"webhook {shown} failed: {err.reason}"
    except Exception as err:  # the text of a parsing error may quote the URL, and its token with it
        return f"webhook {shown} failed: {type(err).__name__}"
    return None if isinstance(status, int) and 200 <= status < 300 else f"webhook {shown} answered HTTP {status}"


def webhook_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a webhook (not http or https, no host, unparseable), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # raises for a port that is not a number
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http:// or https:// URL"
    if not parts.hostname:
        return "the URL has no host"
    return None


def send(monitoring: Monitoring, alerts: Sequence[Alert]) -> list[Alert]:
    """Send each alert to every configured sink; return those every sink took.

    With no ``notify`` configured, alerts go to stderr.
    """
    targets = monitoring.notify or (Notify(stderr=True),)
    delivered = []
    for alert in alerts:
        ok = True
        for target in targets:
            if target.stderr:
                warn(alert_line(alert))
            if target.webhook:
                problem = post_webhook(target.webhook, payload(alert))
                if problem:
                    warn(f"reconcile: alert not delivered ({alert.fingerprint}): {problem}; "
                         "it is retried at the next evaluation")
                    ok = False
        if ok:
            delivered.append(alert)
    return delivered


def _safe_url(url: str) -> str:
    """Scheme and host only: webhook paths and queries often hold tokens (Slack, Teams)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unparseable URL)"
    return f"{parts.scheme or '?'}://{parts.hostname or '?'}{port}/..."


__all__ = ["WEBHOOK_TIMEOUT_SECONDS", "alert_line", "payload", "post_webhook", "send", "warn", "webhook_url_problem"]
