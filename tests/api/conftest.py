"""Fixtures of the API tests: an API over a migrated store (see apisupport.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apisupport import Api, build_api

from pledge.config import Settings
from pledge.store.db import Store
from pledge.store.migrations import upgrade


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store (for tests that need no second backend)."""
    store = Store(Settings(data_dir=tmp_path / "data"))
    upgrade(store)
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def api(sqlite_store: Store, tmp_path: Path) -> Iterator[Api]:
    yield from build_api(sqlite_store, tmp_path)


@pytest.fixture
def api_any_db(store: Store, tmp_path: Path) -> Iterator[Api]:
    """The API on each backend of the shared `store` fixture (SQLite and PostgreSQL)."""
    yield from build_api(store, tmp_path)
