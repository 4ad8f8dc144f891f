"""Fixtures for the notice history, RoPA, DPV and GPC tests: a copy of a small manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from metautil import FIXTURE, Edit


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    """A private copy of the acme manifest and its datasets, safe to edit and publish."""
    target = tmp_path / "acme"
    shutil.copytree(FIXTURE, target)
    return target / "pledge.yaml"


@pytest.fixture
def edit(manifest_path: Path) -> Edit:
    """Replace one exact piece of the manifest text (fails loudly if it is not there)."""

    def replace(old: str, new: str) -> None:
        text = manifest_path.read_text(encoding="utf-8")
        assert old in text, f"fixture text not found: {old!r}"
        manifest_path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return replace
