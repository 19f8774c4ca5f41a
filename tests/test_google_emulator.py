"""The emulator itself, driven by plain gspread: it must answer as the real API does (the note's section 5)."""
from __future__ import annotations

import datetime as dt
import json

import gspread
import pytest
import requests

from support.google_fixtures import *  # noqa: F401,F403 (fixtures)
from support.sheets_emulator import (Date, Err, Formula, Num, Sheet, Spreadsheet, book_from_file, main,
                                     split_range)

SHEETS = "https://sheets.googleapis.com"
pytestmark = pytest.mark.usefixtures("google_env")


def redirecting_client(base_url: str) -> type:
    class _Redirect(gspread.HTTPClient):
        def request(self, method, endpoint, *args, **kwargs):
            if endpoint.startswith(SHEETS):
                endpoint = base_url + endpoint[len(SHEETS):]
            return super().request(method, endpoint, *args, **kwargs)
    return _Redirect


@pytest.fixture
def gc(emulator, google_env):
    info = json.loads(google_env.read_text())
    return gspread.service_account_from_dict(info, http_client=redirecting_client(emulator.url))


@pytest.fixture
def book(emulator):
    return emulator.add(Spreadsheet("k", [
        Sheet("Sheet1", [["a", "b", ""], [], ["", "x"], [1, 2.5, True], ["", "", ""]], sheet_id=0),
        Sheet("🌵 test 1", [[Formula("=4/2", 2), Date.of(dt.date(2020, 1, 1)), "string", 53,
                            Num(1.23, "${:,.2f}"), Err("#REF!"), False]], sheet_id=11, row_count=10),
        Sheet("Bob's", [["q"]], sheet_id=12),
    ]))


def test_metadata_shape_is_what_gspread_needs(gc, book):
    sh = gc.open_by_key("k")
    assert [ws.title for ws in sh.worksheets()] == ["Sheet1", "🌵 test 1", "Bob's"]
    ws = sh.worksheet("🌵 test 1")
    assert (ws.id, ws.row_count, ws.col_count) == (11, 10, 26)


def test_range_echo_is_clipped_to_the_grid(gc, book):
    sh = gc.open_by_key("k")
    assert sh.values_get("Sheet1")["range"] == "Sheet1!A1:Z1000"
    assert sh.values_get("A1:C")["range"] == "Sheet1!A1:C1000"
    assert sh.values_get("Sheet1!D4")["range"] == "Sheet1!D4"
    assert sh.values_get("'🌵 test 1'!A1:A100")["range"] == "'🌵 test 1'!A1:A10"


def test_trimming_and_the_missing_values_key(gc, book):
    sh = gc.open_by_key("k")
    assert sh.values_get("Sheet1")["values"] == [["a", "b"], [], ["", "x"], ["1", "2.5", "TRUE"]]
    assert "values" not in sh.values_get("Sheet1!D1:E3")
    assert sh.sheet1.get_all_values() == [["a", "b", ""], ["", "", ""], ["", "x", ""], ["1", "2.5", "TRUE"]]


def test_render_options(gc, book):
    ws = gc.open_by_key("k").worksheet("🌵 test 1")
    assert ws.get("A1:G1")[0] == ["2", "2020-01-01", "string", "53", "$1.23", "#REF!", "FALSE"]
    assert ws.get("A1:G1", value_render_option="UNFORMATTED_VALUE")[0] == [2, 43831, "string", 53, 1.23, "#REF!", False]
    assert ws.get("A1:G1", value_render_option="FORMULA")[0][0] == "=4/2"
    assert ws.get("A1:B1", value_render_option="UNFORMATTED_VALUE",
                  date_time_render_option="FORMATTED_STRING")[0] == [2, "2020-01-01"]


def test_batch_get_keeps_request_order_and_quotes(gc, book):
    sh = gc.open_by_key("k")
    got = sh.values_batch_get(["'Bob''s'!A1", "Sheet1!A1:B1", "'🌵 test 1'!C1"])["valueRanges"]
    assert [(v["range"], v["values"]) for v in got] == [
        ("'Bob''s'!A1", [["q"]]), ("Sheet1!A1:B1", [["a", "b"]]), ("'🌵 test 1'!C1", [["string"]])]


def test_a1_errors(gc, book):
    sh = gc.open_by_key("k")
    with pytest.raises(gspread.exceptions.APIError) as caught:
        sh.values_get("Nope!A1")
    assert caught.value.code == 400 and "Unable to parse range: Nope!A1" in str(caught.value)
    with pytest.raises(gspread.exceptions.APIError, match="exceeds grid limits"):
        sh.values_get("Sheet1!AA1")


def test_split_range_forms():
    assert split_range("$A$1") == (None, "$A$1")
    assert split_range("'My Sheet'!A:A") == ("My Sheet", "A:A")
    assert split_range("'My Sheet'") == ("My Sheet", None)
    assert split_range("🌵 test 1!A:A") == ("🌵 test 1", "A:A")


def test_missing_or_unknown_bearer_token_is_401(emulator, book):
    url = f"{emulator.url}/v4/spreadsheets/k"
    assert requests.get(url).status_code == 401
    response = requests.get(url, headers={"Authorization": "Bearer made-up"})
    assert response.status_code == 401 and response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_token_endpoint_checks_the_jwt(emulator, google_env):
    """The grant gspread sends is verified; a tampered claim set breaks the signature."""
    from google.oauth2 import service_account
    from google.auth import jwt as gjwt

    info = json.loads(google_env.read_text())
    signer = service_account.Credentials.from_service_account_info(info)._signer
    now = int(dt.datetime.now().timestamp())
    claims = {"iss": info["client_email"], "scope": "s", "aud": "https://oauth2.googleapis.com/token",
              "iat": now, "exp": now + 3600}
    good = gjwt.encode(signer, claims, key_id=info["private_key_id"]).decode()
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}
    assert requests.post(emulator.url + "/token", data={**form, "assertion": good}).status_code == 200
    wrong_aud = gjwt.encode(signer, {**claims, "aud": emulator.url + "/token"}, key_id=info["private_key_id"])
    assert requests.post(emulator.url + "/token", data={**form, "assertion": wrong_aud}).status_code == 400
    head, body, sig = good.split(".")
    forged = gjwt.encode(signer, {**claims, "iss": "evil@x"}).decode().split(".")[1]
    refused = requests.post(emulator.url + "/token", data={**form, "assertion": f"{head}.{forged}.{sig}"})
    assert refused.status_code == 400 and "Signature" in refused.json()["error_description"]


def test_injected_faults_count_down(gc, emulator, book):
    emulator.fail(503, times=1)
    with pytest.raises(gspread.exceptions.APIError) as caught:
        gc.open_by_key("k")
    assert caught.value.code == 503
    assert gc.open_by_key("k").title == "Emulated spreadsheet"


def test_book_from_csv_and_json(tmp_path):
    csv_file = tmp_path / "s.csv"
    csv_file.write_text("ID,Name\n1,Ann\n", encoding="utf-8")
    assert book_from_file(csv_file, "k", "T").sheets[0].rows == [["ID", "Name"], ["1", "Ann"]]
    json_file = tmp_path / "s.json"
    json_file.write_text(json.dumps({"sheets": [
        {"title": "A", "rows": [["x", 1, {"date": "2020-01-01", "format": "%d/%m/%Y"}, {"number": 2, "display": "{}%"},
                                 {"formula": "=1/0", "value": {"error": "#DIV/0!"}}]]},
        {"title": "B", "rows": []}]}))
    book = book_from_file(json_file, "k", "T")
    assert [s.title for s in book.sheets] == ["A", "B"]
    assert book.sheets[0].rows[0][2:] == [Date(43831.0, "%d/%m/%Y"), Num(2, "{}%"), Formula("=1/0", Err("#DIV/0!"))]


def test_latency_switch_delays_api_answers(gc, emulator, book):
    import time

    emulator.latency = 0.3
    start = time.perf_counter()
    gc.open_by_key("k")
    assert time.perf_counter() - start >= 0.3


def test_main_prints_the_env_to_set(tmp_path, capsys):
    csv_file = tmp_path / "s.csv"
    csv_file.write_text("ID\n1\n", encoding="utf-8")
    assert main(["--csv", str(csv_file), "--credentials", str(tmp_path / "k.json")], block=lambda: None) == 0
    out = capsys.readouterr().out
    assert "export RECONCILE_SHEETS_API_URL=http://127.0.0.1:" in out
    assert f"export GOOGLE_APPLICATION_CREDENTIALS={tmp_path / 'k.json'}" in out
    assert json.loads((tmp_path / "k.json").read_text())["token_uri"].endswith("/token")
