"""A database that is locked or gone: 503 with Retry-After, nothing half-written or lost."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from apisupport import Api, build_api

from pledge import apikeys
from pledge.config import Settings
from pledge.store.db import Store, create_engine_for
from pledge.store.migrations import upgrade


@pytest.fixture
def impatient_api(tmp_path: Path) -> Iterator[Api]:
    """An API whose store gives up on a lock after 0.2 s instead of 10 s."""
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings)
    upgrade(store)
    store.dispose()
    store = Store(settings, engine=create_engine_for(settings.database_url, busy_timeout_ms=200))
    try:
        yield from build_api(store, tmp_path)
    finally:
        store.dispose()


def _key_names(api: Api) -> list[str]:
    with api.store.reader() as session:
        return [k.name for k in apikeys.list_keys(session)]


def test_locked_database_gives_503_and_writes_nothing(impatient_api: Api) -> None:
    api = impatient_api
    before = _key_names(api)
    db = api.store.url.database
    assert db is not None
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        response = api.client.post(
            "/v1/keys", json={"name": "during lock", "role": "service"}, headers=api.auth("admin")
        )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]
    assert db not in response.text  # no paths or URLs in public answers
    assert _key_names(api) == before
    again = api.client.post(
        "/v1/keys", json={"name": "after lock", "role": "service"}, headers=api.auth("admin")
    )
    assert again.status_code == 201


def test_database_gone_gives_503_and_comes_back(api: Api) -> None:
    db = Path(str(api.store.url.database))
    api.store.dispose()
    moved = {}
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            moved[path] = path.with_name(path.name + ".away")
            path.rename(moved[path])
    try:
        api.app.state.pledge.health.forget()
        health = api.client.get("/health")
        listing = api.client.get("/v1/audit", headers=api.auth("auditor"))
    finally:
        api.store.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        for original, away in moved.items():
            away.rename(original)
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert listing.status_code == 503  # the key cannot be checked: not a 401
    assert listing.headers["content-type"] == "application/problem+json"
    api.app.state.pledge.health.forget()
    assert api.client.get("/health").status_code == 200
    assert api.client.get("/v1/audit", headers=api.auth("auditor")).status_code == 200
