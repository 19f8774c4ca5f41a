"""Benchmark: `reconcile run` against the ways hand-written sync services do it, and the floors.

    python bench/bench_engine.py --rows 100000 [--rows 1000000] [--repeat 3] [--dsn DSN]

For each N it generates N rows x 30 typed fields (text, numeric, integer, date) with 1% of
rows drifted in 1-3 fields, then times, each the median of --repeat runs in the same process
(in rounds: each round times (b), (c) and (d) once, so every ratio compares runs made under
the same load on this shared machine; (a), minutes long at 1M, runs after them):
  (a) naive:       one UPDATE of all columns per sheet row, in a loop (one transaction);
  (b) executemany: the same statement through psycopg's executemany (pipelined);
  (c) reconcile:   engine.api.run with a file source, phase by phase, plus the whole
                   `reconcile run` command's wall time and peak RSS in a child process;
  (d) floors:      COPY the table out + load the sheet file into DuckDB + COPY the changed rows in.
It prints ratios (a/c, b/c, c/d), rows per second, peak memory and the CPU the machine spent
during (b) and (c) (how many cores each kept busy), checks that a zero-drift run issues no
UPDATE or INSERT on the table, and writes bench/results/engine-<N>.json.
Ratios, not absolute times, are the result: the machine is shared and noisy.

The table is rebuilt before every timed run; the ``reconcile`` log schema is not. It is
dropped and created once per N before the timed runs, so each run starts where a cron
user's runs do: schema in place (runs and logs of earlier runs accumulate, as they would).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import duckdb
import psycopg
from psycopg import sql

from engine import api, runlog
from engine.progress import Progress
from engine.rules.model import FieldRule, FileSource, KeyRule, Policy, RuleSet, Target, Transform

TABLE = "bench_buyers"
KINDS = ["text"] * 10 + ["numeric"] * 8 + ["integer"] * 6 + ["date"] * 6
PG_TYPES = {"text": "text", "numeric": "numeric(14,2)", "integer": "bigint", "date": "date"}
TRANSFORMS = {
    "text": (Transform("trim"), Transform("empty_to_null")),
    "numeric": (Transform("to_decimal"),),
    "integer": (Transform("to_integer"),),
    "date": (Transform("to_date", {"formats": ["%Y-%m-%d"]}),),
}
COLUMNS = [f"f{i:02d}" for i in range(len(KINDS))]
RESULTS = Path(__file__).resolve().parent / "results"


def value(kind: str, rng: random.Random) -> str:
    if kind == "text":
        return rng.choice(["田中", "佐藤", "follow up Friday", "2回目内覧希望", "", "call back"]) + str(rng.randint(0, 999))
    if kind == "numeric":
        return f"{rng.randint(0, 10_000_000) / 100:.2f}"
    if kind == "integer":
        return str(rng.randint(0, 1_000_000))
    return (date(2020, 1, 1) + timedelta(days=rng.randint(0, 2000))).isoformat()


def generate(folder: Path, rows: int, seed: int = 7) -> tuple[Path, Path, int]:
    """The sheet CSV (truth) and the table's CSV (1% of rows drifted in 1-3 fields)."""
    rng = random.Random(seed)
    sheet, table = folder / "sheet.csv", folder / "table.csv"
    drifted = 0
    with sheet.open("w", newline="") as fs, table.open("w", newline="") as ft:
        ws, wt = csv.writer(fs), csv.writer(ft)
        ws.writerow(["id"] + [f"Header {c}" for c in COLUMNS])
        for i in range(rows):
            cells = [value(k, rng) for k in KINDS]
            ws.writerow([f"B{i:07d}"] + cells)
            stale = list(cells)
            if rng.random() < 0.01:
                drifted += 1
                for j in rng.sample(range(len(KINDS)), rng.randint(1, 3)):
                    stale[j] = value(KINDS[j], rng)
            wt.writerow([f"B{i:07d}"] + [c if c != "" else None for c in stale])
    return sheet, table, drifted


def rules_for(sheet: Path) -> RuleSet:
    fields = tuple(FieldRule(c, f"Header {c}", TRANSFORMS[k]) for c, k in zip(COLUMNS, KINDS))
    return RuleSet(version=1, name="bench", source=FileSource(path=sheet),
                   target=Target(dsn=None, schema="public", table=TABLE),
                   key=KeyRule("id", "id"), fields=fields, policy=Policy(new_rows="report"), hash="bench")


def reset_table(dsn: str, table_csv: Path) -> None:
    ident = sql.Identifier(TABLE)
    cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(PG_TYPES[k]))
                              for c, k in zip(COLUMNS, KINDS))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
        conn.execute(sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, {})").format(ident, cols))
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(ident)) as copy:
            with table_csv.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(ident))


def fresh_log_schema(dsn: str) -> None:
    """Drop the ``reconcile`` schema and create it anew (once per N, before the timed runs)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS reconcile CASCADE")
        runlog.ensure_schema(conn)


def sheet_rows(sheet: Path):
    with sheet.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            yield [c if c != "" else None for c in row[1:]] + [row[0]]


def update_statement() -> sql.Composed:
    sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in COLUMNS)
    return sql.SQL("UPDATE {} SET {} WHERE id = %s").format(sql.Identifier(TABLE), sets)


def naive_loop(dsn: str, sheet: Path) -> None:
    stmt = update_statement()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for row in sheet_rows(sheet):
            cur.execute(stmt, row)


def executemany(dsn: str, sheet: Path) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(update_statement(), sheet_rows(sheet))


def reconcile_in_process(dsn: str, sheet: Path) -> dict[str, float]:
    progress = Progress(enabled=False)
    result = api.run(rules_for(sheet), dsn=dsn, progress=progress)
    if result.status != "succeeded":
        raise SystemExit(f"reconcile run failed: {result.errors}")
    return dict(progress.timings, written=result.written)


def reconcile_command(dsn: str, sheet: Path) -> dict[str, float]:
    """The whole command (interpreter start, imports, run) in a child: wall time and peak RSS."""
    code = ("import json,sys; sys.path.insert(0, sys.argv[3]); import bench_engine as b; "
            "from pathlib import Path; from engine import api; "
            "r = api.run(b.rules_for(Path(sys.argv[2])), dsn=sys.argv[1]); "
            "print(json.dumps({'status': r.status, 'rss_mb': b.peak_rss_mb()}))")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, dsn, str(sheet), str(Path(__file__).parent)],
                         check=True, capture_output=True, text=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return {"wall": time.perf_counter() - start, "rss_mb": report["rss_mb"]}


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM where Linux has it: ``ru_maxrss`` survives
    fork and exec, so a child of a bench that had just held 1M rows reported the parent's
    880 MB as its own (100k after 1M in one run)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # not on Windows; /proc is Linux's

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floors(dsn: str, sheet: Path, drifted_rows: int) -> dict[str, float]:
    out: dict[str, float] = {}
    start = time.perf_counter()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(TABLE))) as copy:
            for _ in copy:
                pass
    out["copy_out"] = time.perf_counter() - start
    start = time.perf_counter()
    with duckdb.connect() as duck:
        duck.execute("CREATE TABLE s AS SELECT * FROM read_csv(?, all_varchar = true, header = true)", [str(sheet)])
    out["load_sheet"] = time.perf_counter() - start
    start = time.perf_counter()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE TEMP TABLE changed AS SELECT * FROM {} WITH NO DATA").format(sql.Identifier(TABLE)))
        with cur.copy("COPY changed FROM STDIN (FORMAT csv)") as copy:
            with sheet.open() as fh:
                next(fh)
                for i, line in enumerate(fh):
                    if i >= drifted_rows:
                        break
                    copy.write(line)
    out["copy_in"] = time.perf_counter() - start
    out["total"] = out["copy_out"] + out["load_sheet"] + out["copy_in"]
    return out


def zero_drift_writes(dsn: str, sheet: Path) -> int:
    """Statements that touched the table during a run with nothing to change (must be 0).

    A first run converges the table; the trigger then counts every INSERT or UPDATE statement
    (even one matching no row) during a second run.
    """
    api.run(rules_for(sheet), dsn=dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_write_count (n int)")
        conn.execute("TRUNCATE bench_write_count")
        conn.execute("CREATE OR REPLACE FUNCTION bench_count_write() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$BEGIN INSERT INTO bench_write_count VALUES (1); RETURN NULL; END$$")
        conn.execute(sql.SQL("CREATE OR REPLACE TRIGGER bench_count AFTER INSERT OR UPDATE ON {} "
                             "FOR EACH STATEMENT EXECUTE FUNCTION bench_count_write()").format(sql.Identifier(TABLE)))
    api.run(rules_for(sheet), dsn=dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        n = conn.execute("SELECT count(*) FROM bench_write_count").fetchone()[0]
        conn.execute(sql.SQL("DROP TRIGGER bench_count ON {}").format(sql.Identifier(TABLE)))
    return n


@dataclass(frozen=True)
class Timed:
    """One timed call: its wall seconds, what it returned, and the CPU seconds the whole
    machine spent meanwhile (this process and PostgreSQL's backends alike; None without
    Linux's /proc/stat). CPU over wall says how many cores a method kept busy."""

    seconds: float
    out: Any
    machine_cpu: float | None = None


def timed(fn: Callable[[], object]) -> Timed:
    cpu_before = machine_cpu_seconds()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    cpu_after = machine_cpu_seconds()
    return Timed(seconds, out, None if cpu_before is None or cpu_after is None else cpu_after - cpu_before)


def machine_cpu_seconds() -> float | None:
    """CPU seconds all cores of this machine have been busy since boot (user, system and
    interrupts; not idle, I/O wait or time the hypervisor stole), or None off Linux."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:8]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq = ticks
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def bench(dsn: str, rows: int, repeat: int, skip_naive: bool, naive_repeat: int | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as tmp:
        sheet, table_csv, drifted = generate(Path(tmp), rows)
        prepare = lambda: reset_table(dsn, table_csv)  # noqa: E731
        fresh_log_schema(dsn)
        report: dict = {"rows": rows, "fields": len(COLUMNS), "drifted_rows": drifted, "repeat": repeat}
        runs = interleaved(repeat, prepare, {
            "reconcile": lambda: reconcile_in_process(dsn, sheet),
            "reconcile_command": lambda: reconcile_command(dsn, sheet),
            "floors": lambda: floors(dsn, sheet, drifted),
            "executemany": lambda: executemany(dsn, sheet),
        })
        report["reconcile"] = {"seconds": median_seconds(runs["reconcile"]),
                               "machine_cpu": median_cpu(runs["reconcile"]),
                               "phases": {k: statistics.median(r.out[k] for r in runs["reconcile"])
                                          for k in runs["reconcile"][0].out}}
        commands = [r.out for r in runs["reconcile_command"]]
        report["reconcile_command"] = {"wall": statistics.median(c["wall"] for c in commands),
                                       "peak_rss_mb": max(c["rss_mb"] for c in commands)}
        report["floors"] = {k: statistics.median(r.out[k] for r in runs["floors"])
                            for k in ("copy_out", "load_sheet", "copy_in", "total")}
        report["executemany"] = {"seconds": median_seconds(runs["executemany"]),
                                 "machine_cpu": median_cpu(runs["executemany"])}
        prepare()
        report["zero_drift_statements"] = zero_drift_writes(dsn, sheet)
        if not skip_naive:
            n = naive_repeat or repeat
            naive = interleaved(n, prepare, {"naive": lambda: naive_loop(dsn, sheet)})["naive"]
            report["naive"] = {"seconds": median_seconds(naive), "runs": n}
    return with_ratios(report)


def interleaved(repeat: int, prepare: Callable[[], None],
                methods: dict[str, Callable[[], object]]) -> dict[str, list[Timed]]:
    """``repeat`` rounds, each timing every method once on a freshly prepared table.

    The machine's other load comes and goes over minutes; timing the methods in turn, round
    after round, lets each ratio compare runs made under the same load (timing all runs of
    one method before the next let a quiet or busy spell favour one side).
    """
    runs: dict[str, list[Timed]] = {name: [] for name in methods}
    for _ in range(repeat):
        for name, fn in methods.items():
            prepare()
            runs[name].append(timed(fn))
    return runs


def median_seconds(runs: list[Timed]) -> float:
    return statistics.median(r.seconds for r in runs)


def median_cpu(runs: list[Timed]) -> float | None:
    measured = [r.machine_cpu for r in runs if r.machine_cpu is not None]
    return statistics.median(measured) if measured else None


def with_ratios(report: dict) -> dict:
    run_s = report["reconcile"]["seconds"]
    ratios = {"executemany_over_reconcile": report["executemany"]["seconds"] / run_s,
              "reconcile_over_floors": run_s / report["floors"]["total"]}
    if "naive" in report:
        ratios["naive_over_reconcile"] = report["naive"]["seconds"] / run_s
    report["ratios"] = ratios
    report["rows_per_second"] = {k: report["rows"] / report[k]["seconds"]
                                 for k in ("reconcile", "executemany", "naive") if k in report}
    return report


def print_report(r: dict) -> None:
    print(f"\n== {r['rows']:,} rows x {r['fields']} fields, {r['drifted_rows']:,} drifted rows, median of {r['repeat']}")
    for name in ("naive", "executemany", "reconcile"):
        if name in r:
            runs = f"  (median of {r[name]['runs']})" if "runs" in r[name] else ""
            print(f"  {name:<12} {r[name]['seconds']:8.2f} s  {r['rows_per_second'][name]:>12,.0f} rows/s{runs}")
    print("  reconcile phases: " + ", ".join(f"{k} {v:.2f}s" for k, v in r["reconcile"]["phases"].items()
                                            if k != "written"))
    print(f"  whole command: {r['reconcile_command']['wall']:.2f} s, peak RSS {r['reconcile_command']['peak_rss_mb']:.0f} MB")
    f = r["floors"]
    print(f"  floors: copy out {f['copy_out']:.2f}s + load sheet {f['load_sheet']:.2f}s + copy in {f['copy_in']:.2f}s = {f['total']:.2f}s")
    print("  ratios: " + ", ".join(f"{k} {v:.1f}x" for k, v in r["ratios"].items()))
    print(f"  zero-drift run: {r['zero_drift_statements']} UPDATE/INSERT statements on the table")
    busy = [f"{name} {r[name]['machine_cpu']:.1f} s in {r[name]['seconds']:.1f} s "
            f"({r[name]['machine_cpu'] / r[name]['seconds']:.1f} of {os.cpu_count()} cores)"
            for name in ("executemany", "reconcile") if r[name].get("machine_cpu") is not None]
    if busy:
        print("  machine CPU while timed (every process: this one, PostgreSQL, any other load): " + ", ".join(busy))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="N (repeatable); default 100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dsn", default=os.environ.get("RECONCILE_BENCH_DSN", "embedded"))
    parser.add_argument("--skip-naive", action="store_true", help="skip (a), the slowest baseline")
    parser.add_argument("--naive-repeat", type=int, help="runs of (a) (default: --repeat); it is reported")
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    dsn = args.dsn
    if dsn == "embedded":
        from engine.embedded import embedded_dsn
        dsn = embedded_dsn()
    for rows in args.rows or [100_000]:
        report = bench(dsn, rows, args.repeat, args.skip_naive, args.naive_repeat)
        print_report(report)
        (RESULTS / f"engine-{rows}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
