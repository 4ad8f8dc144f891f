"""How long the `pledge` command takes to start, beside a bare Python interpreter.

    .venv/bin/python benchmarks/cli_bench.py [--runs 15]

Each command runs `--runs` times in a fresh process (one warm-up run first, so the files are
in the page cache); the table prints the median and the fastest wall-clock time of each, and
the median minus that of `python -c pass`: what Pledge itself adds to start-up. The target of
issue 12 (item 7) is printed beside `pledge --help` and `pledge check` on the example: under
0.3 s of start-up. `pledge check` also does its work (load, validate and lint the manifest),
so the same check run as a library call is timed too: the difference is what the command
line adds. The script always exits 0; on a loaded machine every row grows alike, so
compare the rows of one run rather than runs of different days.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LUMEN = ROOT / "examples" / "lumen" / "pledge.yaml"
PLEDGE = [sys.executable, "-c", "from pledge.cli import main; main()"]
TARGET = 0.3

COMMANDS: list[tuple[str, list[str], bool]] = [
    ("python -c pass", [sys.executable, "-c", "pass"], False),
    ("python -c 'import pledge.cli'", [sys.executable, "-c", "import pledge.cli"], False),
    ("pledge --help", [*PLEDGE, "--help"], True),
    ("pledge check examples/lumen/pledge.yaml", [*PLEDGE, "check", str(LUMEN)], True),
    (
        "the same check as a library call",
        [sys.executable, "-c", f"from pledge.manifest.load import check; check({str(LUMEN)!r})"],
        False,
    ),
    ("pledge schema", [*PLEDGE, "schema"], False),
    ("pledge requests --help", [*PLEDGE, "requests", "--help"], False),
]


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def measure(argv: list[str], runs: int) -> list[float]:
    timed(argv)  # warm-up: the page cache, .pyc files
    return [timed(argv) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    rows = []
    baseline = 0.0
    for label, argv, targeted in COMMANDS:
        times = measure(argv, args.runs)
        median = statistics.median(times)
        if not rows:
            baseline = median
        startup = median - baseline
        verdict = ""
        if targeted:
            verdict = f"{'PASS' if startup < TARGET else 'FAIL'} (< {TARGET:.1f} s start-up)"
        rows.append((label, median, min(times), startup, verdict))
    print(f"{args.runs} runs each, medians; start-up = median - median of `python -c pass`\n")
    print(f"{'command':<44}{'median':>9}{'fastest':>9}{'start-up':>10}  target")
    for label, median, fastest, startup, verdict in rows:
        print(f"{label:<44}{median:>8.3f}s{fastest:>8.3f}s{startup:>9.3f}s  {verdict}")
    extra = rows[3][1] - rows[4][1]
    print(f"\n`pledge check` beyond loading and linting the manifest itself: {extra:.3f} s")


if __name__ == "__main__":
    main()
