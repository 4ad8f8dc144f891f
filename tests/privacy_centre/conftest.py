"""Fixtures of the privacy centre's tests (helpers in centresupport.py).

The centre reuses the consent tests' Lumen copy and the request workflow's outbox and job
helpers, so their folders are put on the import path here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

for _folder in ("consent", "requests_flow", "api"):
    _path = str(Path(__file__).parents[1] / _folder)
    if _path not in sys.path:
        sys.path.append(_path)

import pytest  # noqa: E402
from apisupport import RELAXED  # noqa: E402
from centresupport import Centre, build_centre  # noqa: E402


@pytest.fixture
def centre(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Centre]:
    yield from build_centre(tmp_path, monkeypatch, api_settings=RELAXED)
