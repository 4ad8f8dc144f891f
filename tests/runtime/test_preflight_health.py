"""`pledge serve`'s preflight: the datasets checked against the databases in the background,
its errors on /health (degraded, never refusing to start) and in the log."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from pledge.api.app import create_app
from pledge.manifest_holder import ManifestHolder
from pledge.store.db import Store


def test_a_clean_preflight_keeps_the_service_ok(bare_store: Store, holder: ManifestHolder) -> None:
    app = create_app(bare_store.settings, bare_store, holder, preflight=True)
    with TestClient(app) as client:
        monitor = app.state.pledge.preflight
        assert monitor.wait(30)
        body = client.get("/health").json()
    assert (body["status"], body["problems"]) == ("ok", [])


def test_an_unreachable_database_degrades_but_does_not_stop_the_service(
    bare_store: Store,
    holder: ManifestHolder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key, connection = next(iter(holder.manifest.connections.items()))
    assert connection.url_env is not None
    monkeypatch.setenv(connection.url_env, "postgresql://pledge:s3cret-pw@127.0.0.1:1/nowhere")
    app = create_app(bare_store.settings, bare_store, holder, preflight=True)
    with caplog.at_level(logging.WARNING, "pledge.preflight"), TestClient(app) as client:
        assert client.get("/health").status_code == 200  # started while the check runs
        assert app.state.pledge.preflight.wait(30)
        response = client.get("/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    unreachable = [p for p in body["problems"] if "connection-unreachable" in p]
    assert len(unreachable) == 1
    assert f"'{key}'" in unreachable[0] and connection.url_env in unreachable[0]
    assert "s3cret-pw" not in response.text
    assert any("connection-unreachable" in r.getMessage() for r in caplog.records)
    assert "s3cret-pw" not in caplog.text
