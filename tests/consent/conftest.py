"""Fixtures of the consent tests (helpers in consentsupport.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from consentsupport import RELAXED, ConsentApi, lumen_copy
from fastapi.testclient import TestClient

from pledge import apikeys
from pledge.api.app import create_app
from pledge.api.permissions import ROLES
from pledge.config import Settings
from pledge.manifest_holder import ManifestHolder
from pledge.store.db import Store
from pledge.store.migrations import upgrade


@pytest.fixture
def consent_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(Settings(data_dir=tmp_path / "data"))
    upgrade(store)
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def capi(consent_store: Store, tmp_path: Path) -> Iterator[ConsentApi]:
    path = lumen_copy(tmp_path / "lumen")
    holder = ManifestHolder(str(path))
    app = create_app(consent_store.settings, consent_store, holder, api_settings=RELAXED)
    keys = {}
    with consent_store.transaction() as session:
        for role in ROLES:
            _, keys[role] = apikeys.create(session, f"test {role}", role)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield ConsentApi(app, client, consent_store, holder, path, keys)
