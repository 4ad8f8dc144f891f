"""/health is not `ok` while requests are not being carried out, and says why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pledge.api.app import create_app
from pledge.manifest_holder import ManifestHolder
from pledge.store import jobs
from pledge.store.db import Store
from pledge.store.tables import Job


@pytest.fixture
def client(bare_store: Store, holder: ManifestHolder) -> Iterator[TestClient]:
    app = create_app(bare_store.settings, bare_store, holder)
    with TestClient(app) as client:
        yield client


def test_healthy(client: TestClient) -> None:
    body = client.get("/health").json()
    assert (body["status"], body["problems"]) == ("ok", [])


def test_jobs_failing_for_good_degrade_the_service(client: TestClient, bare_store: Store) -> None:
    with bare_store.transaction() as session:
        job_id = jobs.enqueue(session, "test.broken", {}, max_attempts=1)
    jobs.handler("test.broken")(lambda _ctx: 1 / 0)
    assert jobs.Worker(bare_store, kinds=["test.broken"]).run_one()
    with bare_store.reader() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == "failed"
    response = client.get("/health")
    assert response.status_code == 200  # the API and the pages still work
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok"
    assert len(body["problems"]) == 1
    assert "1 job(s) failed for good in the last 1 hour(s)" in body["problems"][0]


def test_a_stopped_worker_degrades_the_service(bare_store: Store, holder: ManifestHolder) -> None:
    app = create_app(bare_store.settings, bare_store, holder, start_worker=True)
    with TestClient(app) as client:
        state = app.state.pledge
        assert client.get("/health").json()["status"] == "ok"
        assert state.worker is not None
        state.worker.stop()
        state.health.forget()
        body = client.get("/health").json()
    assert body["status"] == "degraded"
    assert body["worker"] == "stopped"
    assert body["problems"] == ["the embedded job worker has stopped: restart the service"]
