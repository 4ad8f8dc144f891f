"""`pledge check --connect` over the 50-table database of `dsr_bench.py` (issue 13, item 4).

    .venv/bin/python benchmarks/preflight_bench.py [--runs 5]

One PostgreSQL database on 127.0.0.1:5432 (user postgres) holds dsr_bench's `flat` schema (50
tables of 2,000 rows) and is dropped at the end. The command runs `--runs` times in a fresh
process, as a user runs it (start-up, load, lint, connect, reflect, compare, plan); the
preflight alone is timed in this process beside it. The target (< 2 s for the command) is
printed with PASS or FAIL, beside the process's CPU time and the load average: on a loaded
machine the wall clock grows with the load, the CPU time hardly. The script always exits 0.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from dsr_bench import PG_ADMIN, build_flat, database, flat_dataset

from pledge.manifest.load import check
from pledge.requests.preflight import preflight

PLEDGE = [sys.executable, "-c", "from pledge.cli import main; main()"]
TARGET = 2.0
MANIFEST = """\
pledge: 1
organization: {name: Bench, contact: {email: privacy@bench.example}}
languages: [en]
purposes:
  essential.service.operations: {legal_basis: contract}
systems:
  bench:
    name: Bench
    role: controller
    collects:
      - categories: [user.contact.email, user.name, user.contact.phone_number,
                     user.content.private]
        purposes: [essential.service.operations]
    retention: customer
    connection: bench_db
    datasets: [dataset.yml]
connections:
  bench_db: {type: postgres, url_env: BENCH_DATABASE_URL}
retention:
  customer: {keep: P3Y, after: account_closed}
"""
"""dsr_bench's manifest made lint-clean: the command must exit 0 on a clean schema."""


def write_manifest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.yml").write_text(flat_dataset())
    (folder / "pledge.yaml").write_text(MANIFEST)
    return folder / "pledge.yaml"


def command(manifest: Path, url: str) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds) of one run of the command in a fresh process."""
    env = {**os.environ, "BENCH_DATABASE_URL": url}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [*PLEDGE, "check", str(manifest), "--connect"], env=env, capture_output=True, text=True
    )
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        print(done.stdout, done.stderr)
        raise SystemExit("the benchmark schema must pass the preflight")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return took, cpu


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
        manifest = write_manifest(Path(tmp) / "flat")
        build_flat(url)
        command(manifest, url)  # warm-up: files in the page cache
        cli = [command(manifest, url) for _ in range(args.runs)]
        lib = [library(manifest, url) for _ in range(args.runs)]
    median = statistics.median(w for w, _ in cli)
    cpu = statistics.median(c for _, c in cli)
    verdict = "PASS" if median < TARGET else "FAIL"
    best = min(w for w, _ in cli)
    print(f"pledge check --connect, 50 tables: median {median:.2f} s, best {best:.2f} s")
    print(f"  target < {TARGET:.0f} s: {verdict}")
    print(f"  CPU time of the process (what a quiet machine's wall clock nears): {cpu:.2f} s")
    print(f"  load average now: {os.getloadavg()[0]:.1f} (compare runs on a quiet machine)")
    print(
        f"preflight alone (load + lint + connect + compare + plan): {statistics.median(lib):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
