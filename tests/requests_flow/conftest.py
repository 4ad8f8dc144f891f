"""Fixtures of the request workflow's tests: a SQLite store serving the fixture manifest, and
the product databases it executes requests against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flowsupport import FIXTURE, create_product

from pledge.config import Settings
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.store.db import Store
from pledge.store.migrations import upgrade


@pytest.fixture
def product(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    folder = tmp_path / "product"
    folder.mkdir()
    env = create_product(folder)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def manifest() -> Manifest:
    return load_manifest(FIXTURE)


@pytest.fixture
def flow_store(tmp_path: Path, product: dict[str, str]) -> Iterator[Store]:
    settings = Settings(
        data_dir=tmp_path / "data",
        manifest=FIXTURE,
        public_url="https://privacy.flow.example",
    )
    store = Store(settings)
    upgrade(store)
    store.vault  # noqa: B018  (opened at start, as the API and the worker do)
    try:
        yield store
    finally:
        store.dispose()
