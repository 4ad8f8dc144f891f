"""`pledge check --connect` over the 50-table database of `dsr_bench.py` (issue 13, item 4).

    .venv/bin/python benchmarks/preflight_bench.py [--runs 5]

One PostgreSQL database on 127.0.0.1:5432 (user postgres) holds dsr_bench's `flat` schema (50
tables of 2,000 rows) and is dropped at the end. The command runs `--runs` times in a fresh
process, as a user runs it (start-up, load, lint, connect, reflect, compare, plan); the
preflight alone is timed in this process beside it. The target (< 2 s for the command) is
printed with PASS or FAIL; the script always exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from dsr_bench import PG_ADMIN, build_flat, database, flat_dataset, write_manifest

from pledge.manifest.load import check
from pledge.requests.preflight import preflight

PLEDGE = [sys.executable, "-c", "from pledge.cli import main; main()"]
TARGET = 2.0


def command(manifest: Path, url: str) -> float:
    env = {**os.environ, "BENCH_DATABASE_URL": url}
    start = time.perf_counter()
    done = subprocess.run(
        [*PLEDGE, "check", str(manifest), "--connect"], env=env, capture_output=True, text=True
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout, done.stderr)
        raise SystemExit("the benchmark schema must pass the preflight")
    return took


def library(manifest: Path, url: str) -> float:
    start = time.perf_counter()
    findings = preflight(check(manifest), {"BENCH_DATABASE_URL": url})
    took = time.perf_counter() - start
    assert not [f for f in findings if f.severity == "error"], findings
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError:
        print("PostgreSQL on 127.0.0.1:5432 is unreachable: nothing measured")
        return 0
    with tempfile.TemporaryDirectory() as tmp, database("preflight") as url:
        manifest = write_manifest(Path(tmp) / "flat", flat_dataset())
        build_flat(url)
        command(manifest, url)  # warm-up: files in the page cache
        cli = [command(manifest, url) for _ in range(args.runs)]
        lib = [library(manifest, url) for _ in range(args.runs)]
    median = statistics.median(cli)
    verdict = "PASS" if median < TARGET else "FAIL"
    print(f"pledge check --connect, 50 tables: median {median:.2f} s, best {min(cli):.2f} s")
    print(f"  target < {TARGET:.0f} s: {verdict}")
    print(
        f"preflight alone (load + lint + connect + compare + plan): {statistics.median(lib):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
