"""Talking to Google: credentials (read-only scope) and gspread's HTTP client with our retries.

``sheets_client_class()`` is gspread's ``HTTPClient`` with three changes: every request is
retried on 429/5xx/connection errors within ``engine.sources.google_retry``'s bounds; the
Sheets API base URL can be routed elsewhere with ``RECONCILE_SHEETS_API_URL`` (a testing knob
for the emulator in ``tests/support/sheets_emulator.py``; patching ``gspread.urls`` has no
effect); and ``download`` streams a values body to a file instead of holding it.
"""
from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any, Mapping

import requests

from ..errors import ConfigurationError
from ..redact import redact
from ..rules.model import GoogleSheetsSource
from .google_retry import RETRY_STATUSES, Retryable, RetryPolicy, with_retry
from .google_values import BodyCutOff, write_values

SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
SHEETS_API = "https://sheets.googleapis.com"
API_URL_ENV = "RECONCILE_SHEETS_API_URL"
TIMEOUT = (10.0, 300.0)  # connect, read (seconds)
DOWNLOAD_BLOCK = 1 << 20


# -- credentials -------------------------------------------------------------------------

def credentials(rule: GoogleSheetsSource) -> tuple[Any, str]:
    """(credentials, account email for messages): the rule's path, ``$GOOGLE_APPLICATION_CREDENTIALS``,
    then application default credentials; always the read-only Sheets scope."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError
    from google.oauth2 import service_account

    tried = []
    for label, path in (("source.credentials", rule.credentials),
                        ("$GOOGLE_APPLICATION_CREDENTIALS", os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"))):
        if not path:
            tried.append(f"{label} (not set)")
            continue
        file = Path(path).expanduser()
        if not file.is_file():
            raise ConfigurationError(f"credentials file {file} (from {label}) not found",
                                     hint="point it at the service account's JSON key file")
        try:
            creds = service_account.Credentials.from_service_account_file(str(file), scopes=list(SCOPES))
        except (ValueError, KeyError) as err:
            raise ConfigurationError(f"credentials file {file} (from {label}) is not a service-account "
                                     f"key: {redact(str(err))}",
                                     hint="download a JSON key for the service account in the Cloud "
                                          "console (IAM > Service accounts > Keys)") from err
        return creds, creds.service_account_email
    try:
        creds, _ = google.auth.default(scopes=list(SCOPES))
    except DefaultCredentialsError as err:
        tried.append("application default credentials (none found)")
        raise ConfigurationError("no Google credentials found; tried " + ", ".join(tried),
                                 hint="set source.credentials to a service-account key file, or "
                                      "GOOGLE_APPLICATION_CREDENTIALS") from err
    email = getattr(creds, "service_account_email", None)
    return creds, email if email and email != "default" else "the application default account"


# -- HTTP --------------------------------------------------------------------------------

def api_base() -> str:
    """Where Sheets API calls go: Google, or ``$RECONCILE_SHEETS_API_URL`` (tests, the emulator)."""
    return (os.environ.get(API_URL_ENV) or SHEETS_API).rstrip("/")


@cache
def sheets_client_class() -> type:
    """gspread's HTTPClient with our retries, the API base URL knob and streamed downloads.

    Built on first use so that ``reconcile validate`` never imports gspread.
    """
    import gspread

    class _SheetsHTTPClient(gspread.HTTPClient):
        """gspread's client with our retries, the API base URL knob, and streamed downloads."""

        def __init__(self, auth: Any, session: Any = None, *, retry: RetryPolicy | None = None) -> None:
            super().__init__(auth, session)  # gspread.Client passes only these two
            self.retry = retry or RetryPolicy()
            self.set_timeout(TIMEOUT)

        def request(self, method: str, endpoint: str, params: Any = None, data: Any = None,
                    json: Any = None, files: Any = None, headers: Any = None) -> Any:
            url = _routed(endpoint)

            def once() -> Any:
                return _checked(lambda: self.session.request(
                    method, url, params=params, data=data, json=json, files=files, headers=headers,
                    timeout=self.timeout))
            return with_retry(once, self.retry, f"{method.upper()} {_short(url)}")

        def get_json(self, endpoint: str, params: Mapping[str, Any]) -> Any:
            return self.request("get", endpoint, params=params).json()

        def download(self, endpoint: str, params: Mapping[str, Any], dest: Path) -> None:
            """Stream the ``values`` array of a one-range batchGet to ``dest``; a cut-off body is
            retried like a 5xx."""
            url = _routed(endpoint)

            def once() -> None:
                response = _checked(lambda: self.session.request("get", url, params=params, stream=True,
                                                                 timeout=self.timeout))
                try:
                    with open(dest, "wb") as fh:
                        write_values(response.iter_content(DOWNLOAD_BLOCK), fh)
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, BodyCutOff) as err:
                    raise Retryable(f"Sheets API response cut off ({err})") from err
                finally:
                    response.close()
            with_retry(once, self.retry, f"GET {_short(url)}")

    return _SheetsHTTPClient


def _checked(send: Any) -> Any:
    """Send once; a retryable status or connection failure becomes ``Retryable``, other errors APIError."""
    from gspread.exceptions import APIError

    try:
        response = send()
    except (requests.ConnectionError, requests.Timeout) as err:
        raise Retryable(f"Sheets API unreachable ({type(err).__name__})") from err
    if response.ok:
        return response
    if response.status_code in RETRY_STATUSES:
        response.close()
        kind = "quota exceeded" if response.status_code == 429 else "server error"
        raise Retryable(f"Sheets API {kind} ({response.status_code})", response.status_code)
    raise APIError(response)


def _routed(endpoint: str) -> str:
    base = api_base()
    return base + endpoint[len(SHEETS_API):] if endpoint.startswith(SHEETS_API) else endpoint


def _short(url: str) -> str:
    return url.split("?", 1)[0]
