"""The installation is the one answer to "which manifest is in force": its workers execute
requests with its manifest (never one looked up in the environment), and a request whose job
cannot start fails with the reason instead of staying `in_progress` for ever."""

from __future__ import annotations

import threading
from pathlib import Path

from flowsupport import ALICE, latest_code

from pledge.config import Settings
from pledge.manifest_holder import ManifestHolder
from pledge.requests import service
from pledge.requests.tables import DataRequest
from pledge.runtime.installation import Installation, open_installation
from pledge.runtime.workers import load_handler_modules
from pledge.store.db import Store
from pledge.store.tables import Job


def _run(installation: Installation) -> int:
    load_handler_modules()
    worker = installation.worker(poll_interval=0.01)
    return worker.run(threading.Event(), once=True)


def _confirmed(installation: Installation) -> str:
    """Alice's access request, confirmed with the mailed code; its execution job queued."""
    store, manifest = installation.store, installation.manifest
    intake = service.Intake(kind="access", email=ALICE, country="NO")
    with store.transaction() as session:
        done = service.submit(
            session, manifest, intake, actor="subject", public_url=store.settings.public_url
        )
    _run(Installation(store.settings, store, None))  # the code mail needs no manifest
    with store.transaction() as session:
        service.verify(session, manifest, done.id, latest_code(store, ALICE))
    return done.id


def _request(store: Store, request_id: str) -> DataRequest:
    with store.reader() as session:
        req = session.get(DataRequest, request_id)
        assert req is not None
        return req


def test_the_worker_uses_the_installations_manifest(
    bare_store: Store, holder: ManifestHolder
) -> None:
    """PLEDGE_MANIFEST unset (the demo's case): the request still completes."""
    installation = Installation(bare_store.settings, bare_store, holder)
    request_id = _confirmed(installation)
    _run(installation)
    req = _request(bare_store, request_id)
    assert req.state == "completed", req.result
    assert req.result is not None and req.result["rows"] > 0


def test_a_job_that_cannot_start_fails_the_request_with_its_reason(
    bare_store: Store, holder: ManifestHolder
) -> None:
    request_id = _confirmed(Installation(bare_store.settings, bare_store, holder))
    _run(Installation(bare_store.settings, bare_store, None))  # a worker with no manifest
    req = _request(bare_store, request_id)
    assert req.state == "failed"
    assert req.result is not None
    assert "no manifest is in force" in req.result["failure"]["reason"]
    with bare_store.reader() as session:
        job = session.get(Job, req.job_id)
        assert job is not None
        assert job.state == "failed"
        assert job.attempts == 1  # at once, not after a day of retries
        assert "no manifest is in force" in str(job.last_error)


def test_open_installation_loads_keys_manifest_and_connections(
    tmp_path: Path, holder: ManifestHolder
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    installation = open_installation(
        settings,
        manifest=holder.path,
        connections={"DEMO_URL": "sqlite:///demo.db"},
        migrate=True,
    )
    try:
        assert installation.manifest.digest == holder.manifest.digest
        assert installation.connections["DEMO_URL"] == "sqlite:///demo.db"
        assert settings.master_key_path.is_file() and settings.audit_key_path.is_file()
        resources = installation.resources()
        assert resources.manifest is not None
        assert resources.manifest().digest == holder.manifest.digest
        assert resources.environ["DEMO_URL"] == "sqlite:///demo.db"
    finally:
        installation.close()
