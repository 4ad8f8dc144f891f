"""Broken manifests never crash `pledge check`: every problem is a finding with a location.

Hypothesis takes the example manifest (or the small fixture while the example is missing),
breaks its YAML data or its bytes at random, and checks that loading and linting never raise,
that every finding points into a file that exists, within its lines, that any manifest which
still loads can be diffed against the original, and that the command exits 0, 1 or 2.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pledge.cli import build
from pledge.manifest.diff import diff, summary
from pledge.manifest.load import check, load
from pledge.manifest.model import Manifest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lumen"
SMALL = ROOT / "tests" / "fixtures" / "small"
SOURCE = EXAMPLE if (EXAMPLE / "pledge.yaml").exists() else SMALL

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Node = tuple[str | int, ...]


class Copy:
    """A copy of the source folder; `reset()` puts every file back before each example."""

    def __init__(self, folder: Path) -> None:
        shutil.copytree(SOURCE, folder, dirs_exist_ok=True)
        self.manifest = folder / "pledge.yaml"
        self.files = [self.manifest, *sorted((folder / "datasets").glob("*.y*ml"))]
        self.original = {f: f.read_bytes() for f in self.files}
        self.parsed = {
            f: yaml.load(text, Loader=yaml.CSafeLoader) for f, text in self.original.items()
        }
        self.base = load(self.manifest).manifest

    def reset(self) -> None:
        for file, content in self.original.items():
            file.write_bytes(content)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Copy:
    return Copy(tmp_path_factory.mktemp("fuzz"))


# --- mutations ---------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", " ", "P3Y", "PXY", "US", "us", "eu", "consent", "1.5", "~", "null"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=6,
)


def nodes(data: Any, path: Node = ()) -> Iterator[Node]:
    """Every key path in the data, so a mutation can aim anywhere."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*path, key)
            yield from nodes(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield (*path, i)
            yield from nodes(value, (*path, i))


def parent(data: Any, node: Node) -> Any:
    for part in node[:-1]:
        data = data[part]
    return data


def delete(data: Any, node: Node, draw: Any) -> None:
    del parent(data, node)[node[-1]]


def replace(data: Any, node: Node, draw: Any) -> None:
    parent(data, node)[node[-1]] = draw(values)


def duplicate(data: Any, node: Node, draw: Any) -> None:
    container, key = parent(data, node), node[-1]
    if isinstance(container, list) and isinstance(key, int):
        container.insert(key, container[key])
    else:
        container[f"{key}_copy"] = container[key]


def rename(data: Any, node: Node, draw: Any) -> None:
    container = parent(data, node)
    if isinstance(container, dict):
        new = draw(st.sampled_from([f"{node[-1]}s", str(node[-1]).upper(), ""]) | st.text())
        container[new] = container.pop(node[-1])


DATA_MUTATIONS = {"delete": delete, "replace": replace, "duplicate": duplicate, "rename": rename}


def mutate_data(parsed: Any, draw: Any) -> bytes:
    data = copy.deepcopy(parsed)
    for _ in range(draw(st.integers(1, 3))):
        targets = list(nodes(data))
        if not targets:
            break
        mutation = DATA_MUTATIONS[draw(st.sampled_from(sorted(DATA_MUTATIONS)))]
        mutation(data, draw(st.sampled_from(targets)), draw)
    dumped = yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False)
    return dumped.encode()


def mutate_bytes(text: bytes, draw: Any) -> bytes:
    """Truncate (maybe inside a UTF-8 sequence), insert random bytes, or repeat a line."""
    at = draw(st.integers(0, len(text)))
    how = draw(st.sampled_from(["truncate", "insert", "repeat"]))
    if how == "truncate":
        return text[:at]
    if how == "insert":
        noise: bytes = draw(st.binary(min_size=1, max_size=8))
        return text[:at] + noise + text[at:]
    lines = text.splitlines(keepends=True)
    i = draw(st.integers(0, max(len(lines) - 1, 0)))
    return b"".join([*lines[: i + 1], *lines[i : i + 1], *lines[i + 1 :]])  # duplicate keys


def mutate(work: Copy, draw: Any) -> Path:
    """Break one file of the copy: the manifest mostly, sometimes a dataset file."""
    work.reset()
    file = draw(st.sampled_from([work.manifest] * 3 + work.files[1:]))
    if draw(st.integers(0, 2)):
        file.write_bytes(mutate_data(work.parsed[file], draw))
    else:
        file.write_bytes(mutate_bytes(work.original[file], draw))
    return work.manifest


# --- properties ---------------------------------------------------------------------------------


def test_source_is_clean(work: Copy) -> None:
    """The fuzzing starts from a manifest without errors, so every error is the mutation's."""
    work.reset()
    result = check(work.manifest)
    assert result.ok, [f.format() for f in result.findings]


@FUZZ
@given(st.data())
def test_check_never_raises_and_locates_every_finding(work: Copy, data: st.DataObject) -> None:
    path = mutate(work, data.draw)
    result = check(path)
    lines: dict[str, int] = {}
    for finding in result.findings:
        where = Path(finding.location.file)
        assert where.is_file(), finding.format()
        if finding.location.file not in lines:
            lines[finding.location.file] = where.read_bytes().count(b"\n") + 1
        assert 0 <= finding.location.line <= lines[finding.location.file], finding.format()
        assert finding.location.col >= 0 and (finding.location.line or not finding.location.col)
        assert finding.message and finding.rule
    if result.manifest is None:
        assert result.findings, "an unusable manifest must say why"
    elif work.base is not None:
        assert_diff_works(work.base, result.manifest)


def assert_diff_works(base: Manifest, mutated: Manifest) -> None:
    """Any two manifests that load can be compared, both ways, into plain JSON."""
    for old, new in ((base, mutated), (mutated, base)):
        changes = diff(old, new)
        json.dumps({"summary": summary(changes), "changes": [c.as_dict() for c in changes]})


@settings(FUZZ, max_examples=20)
@given(st.data())
def test_check_command_exits_0_1_or_2(work: Copy, data: st.DataObject) -> None:
    path = mutate(work, data.draw)
    result = CliRunner().invoke(build(), ["check", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 2), result.output
