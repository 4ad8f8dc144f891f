"""Hostile manifests and datasets are refused with their location, in bounded time and memory.

Each case was seen to hang, exhaust memory or end in a traceback: a billion-laughs file, a
merge-key chain, /dev/zero or a FIFO as a dataset, a 100,000-digit integer, deep nesting, a
file over the size limit. The loader refuses each as `file-refused` at `file:line:col`, within a
second; `pledge check` exits 2 under a memory cap.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lintutil import FIXTURE, Small

from pledge.manifest.load import check, load
from pledge.manifest.source import Limits

MEMORY_CAP = 1024 * 1024 * 1024  # the old loader needed 2 GiB for the billion laughs


def _billion_laughs(root: Path) -> tuple[Path, str]:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghij"
    for prev, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    path = root / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, f"{path}:6:"  # the alias that passes 100,000 nodes, on line 6


def _merge_chain(root: Path) -> tuple[Path, str]:
    lines = ["k0: &k0 {" + ", ".join(f"f{i}: {i}" for i in range(20)) + "}"]
    for i in range(1, 30):
        merged = ", ".join([f"*k{i - 1}"] * 8)
        lines.append(f"k{i}: &k{i} {{<<: [{merged}], g{i}: {i}}}")
    path = root / "merge.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, f"{path}:5:"  # k4: 8 × 8 × 8 × 8 copies of k0


def _huge_integer(root: Path) -> tuple[Path, str]:
    path = root / "digits.yaml"
    path.write_text("pledge: " + "7" * 100_000 + "\n")
    return path, f"{path}:1:9"


def _deep_nesting(root: Path) -> tuple[Path, str]:
    path = root / "deep.yaml"
    path.write_text("pledge: " + "[" * 500 + "]" * 500 + "\n")
    return path, f"{path}:1:"


def _oversized(root: Path) -> tuple[Path, str]:
    path = root / "big.yaml"
    with path.open("wb") as handle:  # sparse: the size is refused before a byte is read
        handle.truncate(Limits().max_bytes + 1)
    return path, f"{path}: error file-refused"


def _dataset(target: str) -> Callable[[Path], tuple[Path, str]]:
    def make(root: Path) -> tuple[Path, str]:
        shutil.copytree(FIXTURE, root, dirs_exist_ok=True)
        small = Small(root)
        if target == "fifo":
            os.mkfifo(root / "datasets" / "pipe.yml")
            ref = "datasets/pipe.yml"
        else:
            ref = target
        small.edit("datasets: [datasets/accounts.yml]", f"datasets: [{ref}]")
        return small.path, small.loc(ref)

    return make


CASES: dict[str, Callable[[Path], tuple[Path, str]]] = {
    "billion-laughs": _billion_laughs,
    "merge-key-chain": _merge_chain,
    "huge-integer": _huge_integer,
    "deep-nesting": _deep_nesting,
    "oversized": _oversized,
    "dev-zero-dataset": _dataset("/dev/zero"),
    "fifo-dataset": _dataset("fifo"),
}


@pytest.fixture(scope="module")
def warm() -> None:
    """Load the fixture once, so the clock below measures reading, not first imports."""
    assert load(FIXTURE / "pledge.yaml").ok


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_file_is_refused_with_its_location_within_a_second(
    case: str, tmp_path: Path, warm: None
) -> None:
    path, where = CASES[case](tmp_path)
    started = time.monotonic()
    result = load(path)
    took = time.monotonic() - started
    refused = [f for f in result.findings if f.rule == "file-refused"]
    assert len(refused) == 1, [f.format() for f in result.findings]
    assert refused[0].format().startswith(where), refused[0].format()
    assert result.unreadable  # `pledge check` exits 2
    assert took < 1.0, f"{case} took {took:.2f}s"


def test_the_size_limit_is_configurable(small: Small, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_MANIFEST_MAX_BYTES", "100")
    [finding] = small.check().findings
    assert finding.rule == "file-refused" and "limit of 100 bytes" in finding.message
    assert check(small.path, Limits(max_bytes=10_000_000)).ok


def test_a_recursive_alias_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a [1, *a]\n")
    [finding] = check(path).findings
    assert str(finding.location) == f"{path}:1:11"
    assert "contains it" in finding.message


def test_aliases_within_the_limit_still_work(tmp_path: Path) -> None:
    base = FIXTURE / "pledge.yaml"
    text = base.read_text().replace(
        "    countries: [US, IE]\n", "    countries: &where [US, IE]\n", 1
    )
    text = text.replace("    locations: [IE, US]\n", "    locations: *where\n", 1)
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    (tmp_path / "pledge.yaml").write_text(text)
    result = check(tmp_path / "pledge.yaml")
    assert result.manifest is not None, [f.format() for f in result.findings]
    assert result.manifest.systems["accounts"].locations == ("US", "IE")


DRIVER = """
import json, sys, time
from pledge.cli import main
out, target = {}, sys.argv[1]
for path in sys.argv[2:]:
    sys.argv = ["pledge", "check", path]
    started = time.monotonic()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    out[path] = [code, time.monotonic() - started]
with open(target, "w") as f:
    json.dump(out, f)
"""


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_pledge_check_exits_2_for_each_hostile_file_under_a_memory_cap(tmp_path: Path) -> None:
    """One process runs `pledge check` on every case in turn (start-up is paid once)."""
    paths, wheres = {}, {}
    for case, make in CASES.items():
        root = tmp_path / case
        root.mkdir()
        path, wheres[case] = make(root)
        paths[case] = str(path)
    warm = str(FIXTURE / "pledge.yaml")  # imports the command before the clock matters
    out = tmp_path / "out.json"
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, str(out), warm, *paths.values()],
        capture_output=True,
        text=True,
        timeout=180,
        preexec_fn=_cap_memory,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results.pop(warm)[0] == 0
    for case, path in paths.items():
        exit_code, took = results[path]
        assert exit_code == 2, f"{case}: exit {exit_code}\n{run.stdout}"
        # load and lint of the rest of the manifest included, on a shared test machine
        assert took < 2.0, f"{case} took {took:.2f}s"
        assert wheres[case] in run.stdout, run.stdout
