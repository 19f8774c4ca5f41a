"""The snapshot: one COPY into DuckDB, every value exactly PostgreSQL's text, NULL apart from ''."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from decimal import Decimal

import duckdb
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import sql

from engine import copy_relay, diff, target
from engine.columns import SNAPSHOT_KEY, ColumnType
from engine.transforms import ident
from engine.errors import DataError
from support import tables

TRICKY_TEXT = ['say "hi", ok', "line\nbreak", "cr\r\nlf", "", " ", "\\N", "NULL", "日本語 ｶﾀｶﾅ 🙂", "a,b,,c",
               '""', "'quoted'", "tab\there", None]


def _rows() -> list[tuple]:
    rows = []
    for i, text in enumerate(TRICKY_TEXT):
        rows.append((i, text, "ab" if i % 2 else "", Decimal("1234.50") if i % 3 else None,
                     [0.1, 1e-300, -2.5, float("inf"), 3.141592653589793][i % 5], [True, False, None][i % 3],
                     dt.date(2024, 2, 29), dt.datetime(2024, 1, 2, 3, 4, 5, 678900, tzinfo=dt.timezone(dt.timedelta(hours=9))),
                     uuid.UUID(int=i), json.dumps({"k": text, "n": [1, 2.5]}) if text is not None else None))
    return rows


def _expected(dsn: str, fields, where: str = "") -> set[tuple]:
    cols = ", ".join(f"{f}::text" for f in ("id", *fields))
    return set(tables.fetch(dsn, f"SELECT {cols} FROM items {where}"))


def test_every_type_round_trips_as_postgres_text(pg_dsn):
    tables.create(pg_dsn, rows=_rows())
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        n = target.snapshot_to_duckdb(conn, duck, info, tables.TYPED_FIELDS)
    assert n == len(TRICKY_TEXT)
    got = set(duck.execute("SELECT * FROM target").fetchall())
    assert got == _expected(pg_dsn, tables.TYPED_FIELDS)
    types = duck.execute("SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_name = 'target' ORDER BY ordinal_position").fetchall()
    assert types == [(SNAPSHOT_KEY, "VARCHAR")] + [(f, "VARCHAR") for f in tables.TYPED_FIELDS]


def test_null_and_empty_string_stay_apart(pg_dsn):
    tables.create(pg_dsn, rows=[(1, "", None, None, None, None, None, None, None, None),
                                (2, None, "", None, None, None, None, None, None, None)])
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        target.snapshot_to_duckdb(conn, duck, info, ["note", "code", "amount"])
    assert duck.execute('SELECT "key#", note, code, amount FROM target ORDER BY 1').fetchall() == [
        ("1", "", None, None), ("2", None, "", None)]


def _snapshot_note(dsn: str, note: str) -> duckdb.DuckDBPyConnection:
    tables.create(dsn, rows=[(1, note, "x", None, None, None, None, None, None, None),
                             (2, "short", None, None, None, None, None, None, None, None)])
    duck = duckdb.connect()
    with target.connect(dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        target.snapshot_to_duckdb(conn, duck, info, ["note", "code"])
    return duck


def test_a_value_of_megabytes_round_trips(pg_dsn):
    """A 3 MiB note passes the pipe whole (DuckDB's default reader refused rows over 2 MiB)."""
    big = "長いメモ, " * (3 << 16)
    big += "x" * ((3 << 20) - len(big.encode()) + 10)  # just over 3 MiB of UTF-8
    duck = _snapshot_note(pg_dsn, big)
    assert duck.execute('SELECT "key#", note = ?, length(note), code FROM target ORDER BY 1', [big]).fetchall() == [
        ("1", True, len(big), "x"), ("2", False, 5, None)]


def test_a_row_too_long_to_read_is_an_error_not_a_shorter_table(pg_dsn):
    """DuckDB's reader drops a row longer than its buffer, and the rows after it in the same
    segment of the COPY, without an error; the snapshot counts rows against PostgreSQL's and
    refuses (RC206). The long row fills a segment of its own, so the row after it is read."""
    with pytest.raises(DataError) as caught:
        _snapshot_note(pg_dsn, "長いメモ," * (10 << 18))  # 13 bytes x 2.6M: 32 MiB
    assert caught.value.code == "RC206"
    assert caught.value.details == {"sent": 2, "loaded": 1}
    assert "PostgreSQL sent 2 rows, 1 were read; a row longer than 4 MiB cannot be read" in caught.value.message


def test_timestamps_print_in_utc_and_floats_exactly(pg_dsn):
    tables.create(pg_dsn, rows=_rows()[:1])
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        target.snapshot_to_duckdb(conn, duck, info, ["seen", "ratio", "due"])
    assert duck.execute("SELECT seen, ratio, due FROM target").fetchone() == (
        "2024-01-01 18:04:05.6789+00", "0.1", "2024-02-29")


def test_keys_restrict_the_snapshot(pg_dsn):
    tables.create(pg_dsn, rows=_rows())
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        n = target.snapshot_to_duckdb(conn, duck, info, ["note"], table="subset", keys=["3", "5", "999"])
    assert n == 2
    assert set(duck.execute("SELECT * FROM subset").fetchall()) == _expected(pg_dsn, ["note"], "WHERE id IN (3, 5)")


def test_integer_keys_match_as_postgres_prints_them_and_through_the_index(pg_dsn):
    """Keys of an integer key column are sent as integers, so PostgreSQL finds them by the
    key's index (matching ``id::text`` read all 5,000 rows); only the texts PostgreSQL prints
    match, as with the text comparison: ' 5', '007', '-0', '', 'x' and a number beyond bigint
    match nothing."""
    tables.create(pg_dsn, rows=[(i, f"n{i}", *([None] * 8)) for i in range(1, 5001)])
    texts = ["3", " 5", "007", "-0", "", "x", "99999999999999999999", "4999"]
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        conn.execute("ANALYZE items")
        info = target.read_table_info(conn, tables.rules())
        n = target.snapshot_to_duckdb(conn, duck, info, ["note"], table="subset", keys=texts)
        query = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(target.snapshot_query(info, ["note"], restricted=True))
        plan = json.dumps(conn.execute(query, [target.key_parameter(info.key, texts)]).fetchone()[0])
    assert n == 2
    assert duck.execute('SELECT "key#", note FROM subset ORDER BY 1').fetchall() == [("3", "n3"), ("4999", "n4999")]
    assert '"Index Name": "items_pkey"' in plan, plan


def test_uuid_keys_match_only_their_printed_form():
    key = ColumnType("ref", "uuid")
    printed = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"  # as PostgreSQL prints a uuid
    assert target.key_parameter(key, [printed, printed.upper(), "{" + printed + "}", "nope"]) == [uuid.UUID(printed)]
    assert target.key_parameter(ColumnType("code", "character varying(5)"), [" a", "b"]) == [" a", "b"]


def test_no_keys_give_an_empty_snapshot_of_the_same_shape(pg_dsn):
    """The diff asks for the rows of no key when every hash agrees: an empty table of the
    columns the full read would have made (or of what ``keep`` makes of them)."""
    tables.create(pg_dsn, rows=_rows())
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        assert target.snapshot_to_duckdb(conn, duck, info, ["note", "code"], table="none", keys=[]) == 0
        target.snapshot_to_duckdb(conn, duck, info, ["note"], table="hashes", keys=[], keep='"key#", hash(note) AS h')
    for table, columns in (("none", [(SNAPSHOT_KEY, "VARCHAR"), ("note", "VARCHAR"), ("code", "VARCHAR")]),
                           ("hashes", [(SNAPSHOT_KEY, "VARCHAR"), ("h", "UBIGINT")])):
        assert duck.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        assert duck.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                            "ORDER BY ordinal_position", [table]).fetchall() == columns


def _scans(dsn: str) -> tuple[int, int]:
    return tables.fetch(dsn, "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                             "WHERE relname = 'items'")[0]


def test_snapshot_is_one_copy_not_per_row_queries(pg_dsn):
    tables.create(pg_dsn, rows=_rows())
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.commit()
        before = _scans(pg_dsn)
        target.snapshot_to_duckdb(conn, duck, info, tables.TYPED_FIELDS)
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.commit()
    after = _scans(pg_dsn)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 0)  # one sequential read, no index lookups


@given(values=st.lists(st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",),
                                                                    blacklist_characters="\x00"))),
                       min_size=1, max_size=6))
def test_property_any_text_round_trips(pg_dsn_items, values):
    """Property: for any texts (NUL aside, PostgreSQL cannot store it), the snapshot equals SELECT col::text,
    with NULL and '' distinct."""
    conn, duck, info = pg_dsn_items
    conn.execute("TRUNCATE items")
    with conn.cursor().copy("COPY items (id, note) FROM STDIN") as cp:
        for i, v in enumerate(values):
            cp.write_row((i, v))
    target.snapshot_to_duckdb(conn, duck, info, ["note"])
    got = dict(duck.execute('SELECT "key#", note FROM target').fetchall())
    assert got == {str(i): v for i, v in enumerate(values)}


@pytest.fixture
def pg_dsn_items(pg_dsn):
    tables.create(pg_dsn)
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        yield conn, duck, info


def test_types_whose_text_cast_differs_from_their_output(pg_dsn):
    """bool, char(n), inet and a domain over bool print differently under ::text; the snapshot must match ::text."""
    tables.create(pg_dsn, "CREATE DOMAIN flag AS boolean; CREATE TABLE {t} (id char(4) PRIMARY KEY, b boolean, "
                          "c char(5), ip inet, f flag, arr boolean[], v varchar(9), n name)", table="odd",
                  rows=[("k1", True, "ab", "10.0.0.1", False, "{t,f}", "v ", "nm"),
                        ("k2", None, None, None, None, None, None, None)],
                  columns=("id", "b", "c", "ip", "f", "arr", "v", "n"))
    fields = ("b", "c", "ip", "f", "arr", "v", "n")
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules("odd", fields))
        target.snapshot_to_duckdb(conn, duck, info, fields)
    expected = set(tables.fetch(pg_dsn, "SELECT id::text, " + ", ".join(f"{f}::text" for f in fields) + " FROM odd"))
    assert set(duck.execute("SELECT * FROM target").fetchall()) == expected
    assert ("k1", "true", "ab", "10.0.0.1/32", "false", "{t,f}", "v ", "nm") in expected


def test_copy_failing_midway_raises_the_database_error(pg_dsn):
    """The pipe to DuckDB is cut mid-stream; the error raised is PostgreSQL's, classified, and the
    connection is usable after a rollback."""
    tables.create(pg_dsn, "CREATE VIEW {t} AS SELECT g AS id, (100 / (50000 - g))::text AS note "
                          "FROM generate_series(1, 60000) AS g", table="fragile")
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules("fragile", ("note",)))
        with pytest.raises(target.DatabaseError) as err:
            target.snapshot_to_duckdb(conn, duck, info, ["note"])
        assert err.value.details["sqlstate"] == "22012"
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_connection_lost_midway_raises_a_classified_error_not_a_hang(pg_dsn):
    """The backend is terminated while the COPY is half sent: the relay (which drives libpq
    itself) raises the engine's database error, as psycopg's own iteration did."""
    tables.create(pg_dsn, "CREATE VIEW {t} AS SELECT g AS id, CASE WHEN g = 30000 AND "
                          "current_setting('reconcile_test.stall', true) = 'on' THEN pg_sleep(30)::text "
                          "ELSE g::text END AS note FROM generate_series(1, 60000) AS g", table="stalling")
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules("stalling", ("note",)))  # counts rows: no stall
        conn.execute("SET reconcile_test.stall = 'on'")
        killer = threading.Thread(target=_terminate_when_sleeping, args=(pg_dsn, conn.info.backend_pid))
        killer.start()
        started = time.monotonic()
        with pytest.raises(target.DatabaseError):
            target.snapshot_to_duckdb(conn, duck, info, ["note"])
        killer.join()
        assert time.monotonic() - started < 25  # it did not wait out the 30 s sleep


def _terminate_when_sleeping(dsn: str, pid: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        for _ in range(200):
            if admin.execute("SELECT wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = %s",
                             [pid]).fetchone() == (True,):
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
                return
            time.sleep(0.05)


def test_reader_failing_does_not_hang_the_copy(pg_dsn):
    tables.create(pg_dsn, rows=_rows())
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        duck.close()
        with pytest.raises(duckdb.Error):
            target.snapshot_to_duckdb(conn, duck, info, ["note"])
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (len(TRICKY_TEXT),)


def test_rows_fetched_later_in_the_snapshot_transaction_are_as_they_were_hashed(pg_dsn):
    """The engine hashes every row first and fetches the text of differing rows afterwards;
    an application's write committed in between must not show in the fetch (one state, as
    one COPY would see), and shows once the snapshot's transaction has ended."""
    tables.create(pg_dsn, rows=_rows())
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        target.begin_snapshot(conn)
        info = target.read_table_info(conn, tables.rules())
        target.snapshot_to_duckdb(conn, duck, info, ["note"], keep='"key#", hash(note) AS h')
        with psycopg.connect(pg_dsn, autocommit=True) as app:
            app.execute("UPDATE items SET note = 'written by the app' WHERE id = 3")
        target.snapshot_to_duckdb(conn, duck, info, ["note"], table="later", keys=["3"])
        conn.rollback()
        target.snapshot_to_duckdb(conn, duck, info, ["note"], table="after", keys=["3"])
    hashes = dict(duck.execute('SELECT "key#", h FROM target').fetchall())
    assert duck.execute('SELECT "key#", note FROM later').fetchall() == [("3", TRICKY_TEXT[3])]
    assert duck.execute("SELECT hash(note) FROM later").fetchone()[0] == hashes["3"]
    assert duck.execute("SELECT note FROM after").fetchall() == [("written by the app",)]


def test_a_snapshot_relayed_in_many_segments_reads_every_row(pg_dsn, monkeypatch):
    """Segments of a few rows each (one DuckDB statement per FIFO): every row arrives once,
    the tricky texts (quoted commas, line breaks) intact across the cuts."""
    monkeypatch.setattr(copy_relay, "SEGMENT_BYTES", 200)
    rows = _rows() + [(100 + i, TRICKY_TEXT[i % len(TRICKY_TEXT)], "x" * (i % 5), None, None, None, None, None,
                       None, None) for i in range(300)]
    tables.create(pg_dsn, rows=rows)
    segments = []
    monkeypatch.setattr(copy_relay._FifoChain, "next_segment", _counting(copy_relay._FifoChain.next_segment, segments))
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        n = target.snapshot_to_duckdb(conn, duck, info, tables.TYPED_FIELDS)
    assert n == len(rows)
    assert len(segments) > 20
    assert set(duck.execute("SELECT * FROM target").fetchall()) == _expected(pg_dsn, tables.TYPED_FIELDS)


def _counting(method, calls: list):
    def counted(self):
        calls.append(1)
        return method(self)
    return counted


def test_a_reader_failing_on_a_later_segment_raises_its_own_error_and_stops_the_copy(pg_dsn, monkeypatch):
    """The reader fails on the third FIFO: its error is raised (not the cancelled COPY's), the
    relay neither hangs on a FIFO nobody reads nor sends the rest, and the connection recovers."""
    monkeypatch.setattr(copy_relay, "SEGMENT_BYTES", 1 << 10)
    read: list[int] = []

    def consume(path: str, seekable: bool, first: bool) -> None:
        if len(read) == 2:
            raise RuntimeError("the reader gave up")
        with open(path, "rb") as fh:
            read.append(len(fh.read()))

    with psycopg.connect(pg_dsn) as conn:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="the reader gave up"):
            copy_relay.stream_copy_out(conn, sql.SQL("COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 2000000) g) "
                                                     "TO STDOUT"), None, consume)
        assert time.monotonic() - started < 5  # 2M rows were not all relayed through the drain (tiny FIFOs took 40 s)
        assert len(read) == 2 and all(size >= 1 << 10 for size in read)
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_an_empty_table_is_one_empty_segment(pg_dsn):
    tables.create(pg_dsn, rows=[])
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        assert target.snapshot_to_duckdb(conn, duck, info, ["note", "code"]) == 0
    assert duck.execute("SELECT count(*) FROM target").fetchone() == (0,)


HASHED_DDL = "CREATE TABLE {t} (id integer PRIMARY KEY, i integer, s smallint, b bigint, d date, n numeric(12,2), " \
             "u numeric, x text)"
HASHED_FIELDS = ("i", "s", "b", "d", "n", "u", "x")
_BC_OR_INFINITE = ["0044-03-15 BC", "4713-01-01 BC", "0001-12-31 BC", "infinity", "-infinity"]
_hashed_row = st.tuples(
    st.one_of(st.none(), st.integers(-2**31, 2**31 - 1)), st.one_of(st.none(), st.integers(-2**15, 2**15 - 1)),
    st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)),
    st.one_of(st.none(), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)), st.sampled_from(_BC_OR_INFINITE)),
    st.one_of(st.none(), st.decimals(-10**9, 10**9, places=2, allow_nan=False)),
    st.one_of(st.none(), st.decimals(-10**20, 10**20, places=12, allow_nan=False)),
    st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=5)))


@given(rows=st.lists(_hashed_row, max_size=8), nan=st.booleans())
def test_property_the_hash_snapshot_hashes_as_the_text_and_the_sheet_do(pg_dsn_hashed, rows, nan):
    """Property: for any integers, dates (BC and infinite too), numerics and texts, with or
    without a NaN numeric, the hash snapshot (dates copied as days; integers, numeric(p,s) and
    days parsed by DuckDB's reader) holds the same (key, hash) rows read typed or all as text,
    and every row even where the typed reader refuses a text (NaN: it is read again as text);
    a row's hash is the one a sheet row of the same DuckDB-typed values gets (BC dates and
    infinities included), unless it holds a NaN, which no sheet value equals; and for a row
    without a BC date it is row_hash_sql's over the table's plain text, a text snapshot's.
    With the integers and numeric(12,2) hashed as text, a sheet of PostgreSQL's texts hashes
    as the row does, unless it holds a NaN."""
    conn, duck, info = pg_dsn_hashed
    if nan and rows:
        rows = [rows[0][:4] + ("NaN",) + rows[0][5:], *rows[1:]]
    conn.execute("TRUNCATE hashed")
    with conn.cursor().copy("COPY hashed FROM STDIN") as cp:
        for i, row in enumerate(rows):
            cp.write_row((i, *row))
    hashing = diff.hash_snapshot(info, HASHED_FIELDS)
    assert (set(hashing.typed), hashing.days) == ({"i", "s", "b", "d", "n"}, ("d",))
    assert target.snapshot_to_duckdb(conn, duck, info, list(HASHED_FIELDS), table="typed", keep=hashing.keep,
                                     typed=hashing.typed, days=hashing.days) == len(rows)
    target.snapshot_to_duckdb(conn, duck, info, list(HASHED_FIELDS), table="untyped", keep=hashing.keep,
                              days=hashing.days)
    got = dict(duck.execute("SELECT * FROM typed").fetchall())
    assert got == dict(duck.execute("SELECT * FROM untyped").fetchall())
    target.snapshot_to_duckdb(conn, duck, info, list(HASHED_FIELDS), table="text")
    columns = diff.table_hash_columns(info, HASHED_FIELDS)
    # What a sheet holding the same values has after its chains: each value in its DuckDB type
    # (DuckDB writes a BC date '0044-03-15 (BC)').
    sheet_values = [(f"TRY_CAST({'replace(d, $$ BC$$, $$ (BC)$$)' if name == 'd' else ident(name)} AS {kind})", kind)
                    for name, kind in columns]
    as_sheet = dict(duck.execute(f"SELECT {ident(SNAPSHOT_KEY)}, {diff.sheet_hash_sql(sheet_values)} FROM text").fetchall())
    as_text = dict(duck.execute(f"SELECT {ident(SNAPSHOT_KEY)}, {diff.row_hash_sql(columns)} FROM text").fetchall())
    for i, row in enumerate(rows):
        key = str(i)
        assert (got[key] == as_sheet[key]) == (row[4] != "NaN"), row
        if not (isinstance(row[3], str) and row[3].endswith(" BC")):
            assert got[key] == as_text[key], row
    # Integers and the numeric(12,2) hashed as text: a sheet whose cells are PostgreSQL's text
    # of the values hashes alike, unless the row holds a NaN.
    text_fields = ("i", "s", "b", "n")
    hashing = diff.hash_snapshot(info, HASHED_FIELDS, text_fields)
    assert (set(hashing.typed), hashing.text_fields) == ({"d"}, text_fields)
    target.snapshot_to_duckdb(conn, duck, info, list(HASHED_FIELDS), table="as_text", keep=hashing.keep,
                              typed=hashing.typed, days=hashing.days)
    got = dict(duck.execute("SELECT * FROM as_text").fetchall())
    cells = [(ident(name), diff.TEXT_HASHED) if name in text_fields else value
             for (name, _), value in zip(columns, sheet_values)]
    as_cells = dict(duck.execute(f"SELECT {ident(SNAPSHOT_KEY)}, {diff.sheet_hash_sql(cells)} FROM text").fetchall())
    for i, row in enumerate(rows):
        assert (got[str(i)] == as_cells[str(i)]) == (row[4] != "NaN"), row


@pytest.fixture
def pg_dsn_hashed(pg_dsn):
    tables.create(pg_dsn, HASHED_DDL, table="hashed")
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules("hashed", HASHED_FIELDS))
        yield conn, duck, info


def test_a_value_the_typed_reader_refuses_reads_the_snapshot_again_as_text(pg_dsn_hashed, monkeypatch):
    """One NaN among 1000 rows: the typed read keeps 999, so the snapshot is read a second time,
    as text, in the same transaction: every row is there, the NaN's hash marks it unreadable."""
    conn, duck, info = pg_dsn_hashed
    conn.execute("INSERT INTO hashed (id, n) SELECT g, g FROM generate_series(1, 1000) g")
    conn.execute("UPDATE hashed SET n = 'NaN' WHERE id = 500")
    copies = []
    monkeypatch.setattr(target, "_copy_into", _counting_copies(target._copy_into, copies))
    keep = diff.hash_snapshot(info, ["n"]).keep
    assert target.snapshot_to_duckdb(conn, duck, info, ["n"], keep=keep, typed={"n": "DECIMAL(12,2)"}) == 1000
    assert copies == ["DECIMAL(12,2)", "VARCHAR"]
    conn.execute("DELETE FROM hashed WHERE id = 500")
    copies.clear()
    assert target.snapshot_to_duckdb(conn, duck, info, ["n"], keep=keep, typed={"n": "DECIMAL(12,2)"}) == 999
    assert copies == ["DECIMAL(12,2)"]


def _counting_copies(copy_into, copies: list):
    def counted(*args):
        copies.append(args[-1].get("n", "VARCHAR"))
        return copy_into(*args)
    return counted


def test_a_reader_failing_inside_a_fifo_raises_its_own_error_not_a_broken_pipe(pg_dsn):
    """The reader reads part of a small COPY's only FIFO and fails; the producer's last flush
    meets a broken pipe and it ends before the reader's error is handled. That error is
    raised, not BrokenPipeError (found in review: DuckDB's message was lost)."""
    def consume(path: str, seekable: bool, first: bool) -> None:
        with open(path, "rb") as fh:
            fh.read(10)
        time.sleep(0.3)  # the producer meets the closed pipe and ends meanwhile
        raise RuntimeError("the reader gave up")

    with psycopg.connect(pg_dsn) as conn:
        with pytest.raises(RuntimeError, match="the reader gave up"):
            copy_relay.stream_copy_out(conn, sql.SQL("COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g) "
                                                     "TO STDOUT"), None, consume)
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_reader_failing_before_it_opens_the_first_fifo_keeps_the_copy_from_starting(pg_dsn):
    """A cancel sent before the COPY starts reaches an idle backend and is lost; the whole COPY
    was then relayed into a drain for nothing (found in review). Now the producer, let go by the
    drain, sees the reader has failed and never starts it: the sequence the COPY would advance
    is untouched, and the reader's error is raised."""
    def consume(path: str, seekable: bool, first: bool) -> None:
        raise RuntimeError("the reader gave up")

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE relay_probe")
        with pytest.raises(RuntimeError, match="the reader gave up"):
            copy_relay.stream_copy_out(conn, sql.SQL("COPY (SELECT nextval('relay_probe') FROM generate_series(1, 200000)) "
                                                     "TO STDOUT"), None, consume)
        assert conn.execute("SELECT is_called FROM relay_probe").fetchone() == (False,)


def test_without_named_pipes_the_copy_goes_through_one_file(pg_dsn, monkeypatch):
    """Where the OS has no mkfifo (Windows), the COPY is written to a temporary file first and
    read from it whole (in parallel, as it is seekable)."""
    monkeypatch.delattr(copy_relay.os, "mkfifo")
    tables.create(pg_dsn, rows=_rows())
    duck = duckdb.connect()
    with target.connect(pg_dsn) as conn:
        info = target.read_table_info(conn, tables.rules())
        assert target.snapshot_to_duckdb(conn, duck, info, tables.TYPED_FIELDS) == len(TRICKY_TEXT)
    assert set(duck.execute("SELECT * FROM target").fetchall()) == _expected(pg_dsn, tables.TYPED_FIELDS)
