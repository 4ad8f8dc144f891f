"""Peak memory and time of loading a large, legitimate manifest (hostile-file limits, issue 11).

Run `python benchmarks/manifest_size_bench.py [--mb 50]`. It writes the small test manifest
with one system whose Fides dataset file is about `--mb` megabytes (many collections of
fields), then loads it in a fresh process (`pledge.manifest.load.load`) and prints the wall
time, the peak resident set size of that process and the ratio of peak memory to file size.
It reports and always exits 0.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "small"
FIELD = (
    "          - name: column_{n}\n"
    "            description: Column {n} of the generated store, a field of personal data.\n"
    "            data_categories: [user.contact.address.street]\n"
    "            fides_meta: {{data_type: string, length: 120}}\n"
)
FIELDS_PER_COLLECTION = 200


def generate(folder: Path, megabytes: int) -> Path:
    """The small fixture, with the accounts dataset grown to about `megabytes` MB."""
    shutil.copytree(FIXTURE, folder, dirs_exist_ok=True)
    target = megabytes * 1_000_000
    path = folder / "datasets" / "accounts.yml"
    with path.open("a", encoding="utf-8") as out:
        out.write("  - fides_key: generated\n    name: Generated store\n    collections:\n")
        written, table = 0, 0
        while written < target:
            head = f"      - name: table_{table}\n        fields:\n"
            body = "".join(FIELD.format(n=n) for n in range(FIELDS_PER_COLLECTION))
            out.write(head + body)
            written += len(head) + len(body)
            table += 1
    return folder / "pledge.yaml"


CHILD = """
import sys, time
from pledge.manifest.load import load
started = time.perf_counter()
result = load(sys.argv[1])
print(time.perf_counter() - started, int(result.manifest is not None), len(result.findings))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="size of the dataset file in MB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pledge-size-") as tmp:
        path = generate(Path(tmp), args.mb)
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.y*ml"))
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True
        )
        wall = time.perf_counter() - started
    took, loaded, findings = run.stdout.split()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(f"files: {size / 1e6:.1f} MB; loaded: {loaded == '1'}; findings: {findings}")
    print(f"load: {float(took):.1f} s (process {wall:.1f} s); peak RSS: {peak / 2**20:.0f} MiB")
    print(f"peak RSS / file size: {peak / size:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
