"""Quotas, server errors, sharing, wrong keys, unknown worksheets and auth failures, with the emulator."""
from __future__ import annotations

import json

import duckdb
import pytest

from engine.errors import ConfigurationError, SourceError, TransientSourceError
from engine.rules.model import GoogleSheetsSource, Mark
from engine.sources.google_retry import RetryPolicy, Retryable, with_retry
from engine.sources.google_sheets import GoogleSheet
from support.google_fixtures import *  # noqa: F401,F403 (fixtures)
from support.google_fixtures import FakeClock, add_sheet, read_sheet
from support.sheets_emulator import Spreadsheet, synthetic_sheet

ACCOUNT = "reconcile-test@emulator.iam.gserviceaccount.com"
pytestmark = pytest.mark.usefixtures("google_env")


def src(**kw) -> GoogleSheetsSource:
    return GoogleSheetsSource(**{"spreadsheet": "sheet-key", **kw})


@pytest.fixture
def sheet(emulator):
    return add_sheet(emulator, [["ID", "Name"], ["1", "Ann"]], others=["Archive", "Notes"])


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_statuses_are_retried_then_succeed(emulator, sheet, status):
    emulator.fail(status, times=2, path="values:batchGet")
    clock = FakeClock()
    _, rows = read_sheet(src(), clock)
    assert rows == [(2, "1", "Ann")]
    assert len(emulator.requests("values:batchGet")) == 3
    assert len(clock.sleeps) == 2 and all(0 <= s <= 2 for s in clock.sleeps)


def test_429_forever_gives_up_bounded_with_a_clear_error(emulator, sheet):
    emulator.fail(429, times=None)
    clock = FakeClock()
    with pytest.raises(TransientSourceError) as caught:
        read_sheet(src(), clock)
    err = caught.value
    assert err.transient and "Sheets API quota exceeded (429) after 5 attempts" in err.message
    assert len(emulator.requests("/v4/")) == 5  # the metadata GET, tried 5 times
    assert clock.now <= RetryPolicy().deadline
    assert err.details["attempts"] == 5


def test_total_time_bound_stops_before_the_attempt_bound(emulator, sheet):
    """With a 3 s deadline and waits of up to 1, 2, 4 s, the third wait would cross it."""
    emulator.fail(503, times=None)
    clock = FakeClock()
    policy = clock.policy(attempts=50, deadline=3.0, rand=lambda a, b: b)
    with pytest.raises(TransientSourceError, match=r"server error \(503\) after 3 attempts over 3 s"):
        GoogleSheet(src(), retry=policy).read(duckdb.connect(), "s")
    assert clock.sleeps == [1.0, 2.0]


def test_backoff_grows_exponentially_with_full_jitter():
    clock = FakeClock()
    bounds: list[float] = []

    def rand(low: float, high: float) -> float:
        bounds.append(high)
        return high / 2

    def always() -> None:
        raise Retryable("Sheets API quota exceeded (429)", 429)

    with pytest.raises(TransientSourceError):
        with_retry(always, clock.policy(attempts=8, deadline=1e9, cap=16, rand=rand), "test")
    assert bounds == [1, 2, 4, 8, 16, 16, 16, 16]
    assert clock.sleeps == [0.5, 1, 2, 4, 8, 8, 8]


def test_a_body_cut_off_mid_array_is_retried(emulator, sheet):
    emulator.cuts = 1
    clock = FakeClock()
    assert read_sheet(src(), clock)[1] == [(2, "1", "Ann")]
    assert len(emulator.requests("values:batchGet")) == 2 and len(clock.sleeps) == 1


def test_bodies_cut_off_every_time_fail_as_transient(emulator, sheet):
    emulator.cuts = 99
    with pytest.raises(TransientSourceError, match="response cut off .*after 5 attempts"):
        read_sheet(src(), FakeClock())


def test_a_failing_chunk_leaves_no_table(emulator):
    """Chunk 3 of 4 fails for good: the read raises and no table (partial or not) exists."""
    emulator.add(Spreadsheet("sheet-key", [synthetic_sheet(4_000, 3)]))
    con = duckdb.connect()
    real_take = emulator.take_fault
    seen = []

    def fail_third(path: str):
        if "values:batchGet" in path:
            seen.append(path)
            if len(seen) >= 3:
                return 500
        return real_take(path)

    emulator.take_fault = fail_third
    try:
        with pytest.raises(TransientSourceError, match=r"server error \(500\)"):
            GoogleSheet(src(chunk_rows=1_000), retry=FakeClock().policy()).read(con, "s")
    finally:
        del emulator.take_fault
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 's'").fetchone() == (0,)


def test_403_names_the_service_account(emulator, sheet):
    emulator.forbidden.add("sheet-key")
    mark = Mark("rules/buyers.yaml", 8, 3)
    with pytest.raises(SourceError) as caught:
        read_sheet(GoogleSheetsSource(spreadsheet="sheet-key", mark=mark))
    err = caught.value
    assert not err.transient
    assert f"not shared with the service account {ACCOUNT}" in err.message
    assert ACCOUNT in err.hint and str(err.location) == "rules/buyers.yaml:8:3"
    assert len(emulator.requests("/v4/")) == 1  # not retried


def test_404_shows_the_key(emulator):
    with pytest.raises(SourceError, match=r"spreadsheet 'no-such-key' not found \(404\): the key is wrong"):
        read_sheet(src(spreadsheet="no-such-key"))
    assert len(emulator.requests("/v4/")) == 1


def test_unknown_worksheet_lists_the_existing_ones(emulator, sheet):
    with pytest.raises(SourceError) as caught:
        read_sheet(src(worksheet="Sheet 1"))
    assert "worksheet 'Sheet 1' not found" in caught.value.message
    assert "'Sheet1' (gid 0), 'Archive' (gid 100), 'Notes' (gid 101)" in caught.value.message
    assert caught.value.details["worksheets"] == ["Sheet1", "Archive", "Notes"]


def test_unknown_gid_lists_the_existing_ones(emulator, sheet):
    with pytest.raises(SourceError, match=r"worksheet gid 9 not found .*'Archive' \(gid 100\)"):
        GoogleSheet(src(gid=9)).read_headers()


def test_token_endpoint_refusal_is_a_clear_auth_error(emulator, sheet):
    emulator.token_error = 400
    with pytest.raises(SourceError) as caught:
        read_sheet(src())
    assert f"could not get an access token for {ACCOUNT}" in caught.value.message
    assert "invalid_grant" in caught.value.message
    assert "PRIVATE KEY" not in str(caught.value)


def test_a_key_not_known_to_the_server_is_refused_by_the_token_endpoint(emulator, sheet, google_env, tmp_path):
    """The emulator verifies signatures: a key it did not issue is rejected, no API call is made."""
    from support.sheets_emulator import Emulator

    other = Emulator()  # never started: only used to mint a key whose public half the server lacks
    other.server = emulator.server
    info = other.service_account()
    key_file = tmp_path / "stranger.json"
    key_file.write_text(json.dumps(info))
    with pytest.raises(SourceError, match="could not get an access token.*Invalid JWT Signature"):
        read_sheet(src(credentials=str(key_file)))
    assert emulator.requests("/v4/") == []


def test_credentials_lookup_order(emulator, sheet, google_env, tmp_path, monkeypatch):
    # The rule's path wins over the environment.
    info = emulator.service_account(email="rule-file@emulator.iam.gserviceaccount.com")
    rule_key = tmp_path / "rule.json"
    rule_key.write_text(json.dumps(info))
    read_sheet(src(credentials=str(rule_key)))
    assert emulator.token_claims[-1]["iss"] == "rule-file@emulator.iam.gserviceaccount.com"
    assert emulator.token_claims[-1]["scope"] == "https://www.googleapis.com/auth/spreadsheets.readonly"
    # Then $GOOGLE_APPLICATION_CREDENTIALS.
    read_sheet(src())
    assert emulator.token_claims[-1]["iss"] == ACCOUNT
    # A path that does not exist is named.
    with pytest.raises(ConfigurationError, match=r"nope\.json \(from source.credentials\) not found"):
        read_sheet(src(credentials=str(tmp_path / "nope.json")))


def test_no_credentials_anywhere_says_where_it_looked(emulator, sheet, monkeypatch, tmp_path):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud ADC file
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    # Not on Google Cloud: google-auth's real metadata-server probe runs, against a closed local
    # port (it reads GCE_METADATA_IP at call time), so it fails at once instead of timing out.
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    with pytest.raises(ConfigurationError) as caught:
        read_sheet(src())
    message = caught.value.message
    assert "source.credentials (not set)" in message
    assert "$GOOGLE_APPLICATION_CREDENTIALS (not set)" in message
    assert "application default credentials" in message


def test_unreachable_api_is_transient(emulator, sheet, monkeypatch):
    monkeypatch.setenv("RECONCILE_SHEETS_API_URL", "http://127.0.0.1:9")  # discard port: refused
    clock = FakeClock()
    with pytest.raises(TransientSourceError, match=r"unreachable \(ConnectionError\) after 5 attempts"):
        read_sheet(src(), clock)
