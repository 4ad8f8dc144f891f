"""Fixtures of the request workflow's tests: a SQLite store serving the fixture manifest, and
the product databases it executes requests against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from flowsupport import FIXTURE, create_product

from pledge import apikeys
from pledge.api.app import create_app
from pledge.api.settings import ApiSettings
from pledge.config import Settings
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.manifest_holder import ManifestHolder
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


@pytest.fixture
def client(flow_store: Store) -> Iterator[tuple[TestClient, str]]:
    """The API over `flow_store` (no embedded worker), and a privacy officer's key."""
    app = create_app(
        flow_store.settings,
        flow_store,
        ManifestHolder(str(FIXTURE)),
        api_settings=ApiSettings(public_rate=10_000, public_burst=10_000),
    )
    with flow_store.transaction() as session:
        _, secret = apikeys.create(session, "officer", "privacy_officer")
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c, secret


@pytest.fixture
def second_officer(client: tuple[TestClient, str], flow_store: Store) -> dict[str, str]:
    """The auth header of another privacy officer: four eyes need a second pair."""
    with flow_store.transaction() as session:
        _, secret = apikeys.create(session, "second officer", "privacy_officer")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def support_agent(client: tuple[TestClient, str], flow_store: Store) -> dict[str, str]:
    """The auth header of a support agent (may enter requests, may not approve)."""
    with flow_store.transaction() as session:
        _, secret = apikeys.create(session, "agent", "support_agent")
    return {"Authorization": f"Bearer {secret}"}
