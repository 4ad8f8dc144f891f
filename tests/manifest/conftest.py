"""Fixtures for manifest tests: a fresh copy of the small valid manifest per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lintutil import FIXTURE, Small


@pytest.fixture
def small(tmp_path: Path) -> Small:
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    return Small(tmp_path)
