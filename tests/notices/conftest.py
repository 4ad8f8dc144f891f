"""Fixtures for the notice tests: the tiny fixture manifest and the example, loaded once."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from noticeutil import EXAMPLE, TINY

from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest


@pytest.fixture(scope="session")
def tiny() -> Manifest:
    return load_manifest(TINY)


@pytest.fixture(scope="session")
def example() -> Manifest:
    return load_manifest(EXAMPLE)


@pytest.fixture
def tiny_copy(tmp_path: Path) -> Path:
    """A writable copy of the tiny manifest (for edits and for version history)."""
    folder = tmp_path / "tiny"
    shutil.copytree(TINY.parent, folder)
    return folder / "pledge.yaml"


Edit = Callable[[str, str], Path]


@pytest.fixture
def edit(tiny_copy: Path) -> Edit:
    """Replace one piece of text in the copied manifest (must occur exactly once)."""

    def apply(old: str, new: str) -> Path:
        text = tiny_copy.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        tiny_copy.write_text(text.replace(old, new), encoding="utf-8")
        return tiny_copy

    return apply
