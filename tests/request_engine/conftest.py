"""Fixtures of the request engine's tests: the shop database on each backend, and engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dsr_shop import BACKENDS, MASKING_KEY, create_shop, database, env_for, manifest_copy

from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.requests.engine import Engine


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shop_manifest(backend: str, tmp_path: Path) -> Manifest:
    """The fixture manifest with its connections typed for the backend under test."""
    return load_manifest(manifest_copy(backend, tmp_path))


@pytest.fixture
def shop_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database of the backend holding the shop's tables and people."""
    with database(backend, tmp_path) as url:
        create_shop(url)
        yield url


@pytest.fixture
def engine(shop_manifest: Manifest, shop_url: str) -> Iterator[Engine]:
    opened = Engine.open(shop_manifest, env_for(shop_url), masking_key=MASKING_KEY)
    try:
        yield opened
    finally:
        opened.close()
