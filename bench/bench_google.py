"""Benchmark: the Google Sheets read path against the naive gspread path, over the local emulator.

    python bench/bench_google.py --rows 100000 [--rows 1000000] [--chunk-rows 50000] [--skip-naive]

For each N, the emulator (tests/support/sheets_emulator.py, in its own process) serves a
generated sheet of a header plus N rows x 30 text cells. Each path then runs in a child
process of its own, so that its peak RSS (``resource.getrusage``; tracemalloc cannot see
DuckDB) is its own:
  (a) reconcile: engine.sources.google_sheets: batchGet chunks streamed to files
                 (download), then parsed by DuckDB into the sheet table (parse);
  (b) naive:     gspread ``get_all_values()`` into Python lists (download), then those
                 lists written with the csv module and loaded by DuckDB's read_csv (parse).
Both read through the same HTTP client and the same emulator; the emulator's own time to
serialise is in both downloads. Prints a table and the ratios (b/a), and writes
bench/results/google.json. Ratios, not absolute times, are the result: the machine is shared.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
EMULATOR = ROOT / "tests" / "support" / "sheets_emulator.py"
COLUMNS = 30
KEY = "bench-sheet"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure_reconcile(rows: int, chunk_rows: int) -> dict:
    import duckdb

    from engine.rules.model import GoogleSheetsSource
    from engine.sources.google_sheets import GoogleSheet

    baseline = peak_rss_mb()
    sheet = GoogleSheet(GoogleSheetsSource(spreadsheet=KEY, chunk_rows=chunk_rows))
    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        worksheet = sheet._worksheet()
        files = sheet._download(worksheet, Path(tmp))
        downloaded = time.perf_counter()
        data = sheet._load(con, "sheet", worksheet, files)
        parsed = time.perf_counter()
        size = sum(path.stat().st_size for _, path in files)
    assert data.row_count == rows, (data.row_count, rows)
    return {"download_s": downloaded - start, "parse_s": parsed - downloaded, "total_s": parsed - start,
            "rows": data.row_count, "bytes": size, "requests": len(files) + 1,
            "peak_rss_mb": peak_rss_mb(), "import_rss_mb": baseline}


def measure_naive(rows: int) -> dict:
    import duckdb
    import gspread

    from engine.rules.model import GoogleSheetsSource
    from engine.sources.google_sheets import credentials, sheets_client_class

    baseline = peak_rss_mb()
    creds, _ = credentials(GoogleSheetsSource(spreadsheet=KEY))
    client = gspread.Client(creds, http_client=sheets_client_class())
    start = time.perf_counter()
    values = client.open_by_key(KEY).sheet1.get_all_values()
    downloaded = time.perf_counter()
    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sheet.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(values[1:])
        con.execute("CREATE TABLE sheet AS SELECT * FROM read_csv(?, header = false, all_varchar = true)",
                    [str(path)])
    parsed = time.perf_counter()
    count = con.execute("SELECT count(*) FROM sheet").fetchone()[0]
    assert count == rows, (count, rows)
    return {"download_s": downloaded - start, "parse_s": parsed - downloaded, "total_s": parsed - start,
            "rows": count, "requests": 2, "peak_rss_mb": peak_rss_mb(), "import_rss_mb": baseline}


def start_emulator(rows: int, key_file: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(EMULATOR), "--synthetic", f"{rows}x{COLUMNS}", "--key", KEY,
         "--credentials", str(key_file)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("export RECONCILE_SHEETS_API_URL="):
            return proc, line.strip().split("=", 1)[1]
    raise RuntimeError("the emulator did not start")


def run_child(path: str, rows: int, chunk_rows: int, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", path, "--rows", str(rows),
                          "--chunk-rows", str(chunk_rows)], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{path} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(rows: int, chunk_rows: int, skip_naive: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "key.json"
        proc, url = start_emulator(rows, key_file)
        env = {**os.environ, "RECONCILE_SHEETS_API_URL": url, "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
               "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
        try:
            result = {"rows": rows, "columns": COLUMNS, "chunk_rows": chunk_rows,
                      "reconcile": run_child("reconcile", rows, chunk_rows, env)}
            if not skip_naive:
                result["naive"] = run_child("naive", rows, chunk_rows, env)
                for measure in ("download_s", "parse_s", "total_s", "peak_rss_mb"):
                    result[f"naive_over_reconcile_{measure}"] = (
                        result["naive"][measure] / max(result["reconcile"][measure], 1e-9))
        finally:
            proc.terminate()
            proc.wait()
    return result


def table(results: list[dict]) -> str:
    lines = [f"{'rows':>9} {'path':<10} {'download s':>10} {'parse s':>8} {'total s':>8} "
             f"{'rows/s':>10} {'peak RSS MB':>11} {'requests':>8}"]
    for r in results:
        for path in ("reconcile", "naive"):
            if path in r:
                m = r[path]
                lines.append(f"{r['rows']:>9} {path:<10} {m['download_s']:>10.2f} {m['parse_s']:>8.2f} "
                             f"{m['total_s']:>8.2f} {m['rows'] / m['total_s']:>10,.0f} "
                             f"{m['peak_rss_mb']:>11.0f} {m['requests']:>8}")
        if "naive" in r:
            lines.append(f"{'':>9} naive/reconcile: download x{r['naive_over_reconcile_download_s']:.2f}, "
                         f"parse x{r['naive_over_reconcile_parse_s']:.1f}, "
                         f"total x{r['naive_over_reconcile_total_s']:.2f}, "
                         f"peak RSS x{r['naive_over_reconcile_peak_rss_mb']:.1f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="data rows (repeatable; default 100000)")
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--child", choices=["reconcile", "naive"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows_list = args.rows or [100_000]
    if args.child:
        measured = (measure_reconcile(rows_list[0], args.chunk_rows) if args.child == "reconcile"
                    else measure_naive(rows_list[0]))
        print(json.dumps(measured))
        return 0
    results = [bench(rows, args.chunk_rows, args.skip_naive) for rows in rows_list]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "google.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results))
    print(f"written: {RESULTS / 'google.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
