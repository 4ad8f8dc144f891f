"""Access end to end: submit, code from the outbox, verify, worker, package, single-use link."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from flowsupport import (
    ALICE,
    DOWNLOAD_LINK,
    TENANT_CONTACT,
    latest_code,
    link_in,
    mails_to,
    run_jobs,
)

from pledge.manifest.model import Manifest
from pledge.requests import package, service
from pledge.requests.tables import DataRequest
from pledge.store.db import Store
from pledge.store.tables import utcnow


def submit(store: Store, manifest: Manifest, kind: str = "access", **extra: object) -> str:
    intake = service.Intake(kind=kind, email=ALICE, country="NO", language="nb", **extra)  # type: ignore[arg-type]
    with store.transaction() as session:
        done = service.submit(
            session, manifest, intake, actor="subject", public_url=store.settings.public_url
        )
    return done.id


def verify_from_outbox(store: Store, manifest: Manifest, request_id: str) -> None:
    run_jobs(store)
    code = latest_code(store, ALICE)
    with store.transaction() as session:
        assert service.verify(session, manifest, request_id, code).outcome == "ok"


def test_access_end_to_end(flow_store: Store, manifest: Manifest) -> None:
    request_id = submit(flow_store, manifest)
    verify_from_outbox(flow_store, manifest, request_id)
    run_jobs(flow_store)
    with flow_store.reader() as session:
        req = session.get(DataRequest, request_id)
        assert req is not None and req.state == "completed"
        assert req.jurisdiction == "eu" and req.language == "nb"
        steps = [s.name for s in service.steps_of(session, request_id)]
    assert steps == ["read", "package", "notify"]
    done = [m for m in mails_to(flow_store, ALICE) if "/privacy/requests/download/" in str(m)]
    assert len(done) == 1
    url = link_in(done[0], r"https://privacy\.flow\.example" + DOWNLOAD_LINK)
    token = url.rsplit("/", 1)[1]
    with flow_store.transaction() as session:
        _, content = package.redeem(session, token)
    archive = zipfile.ZipFile(io.BytesIO(content))
    names = set(archive.namelist())
    assert {"index.html", "data.json"} <= names
    assert {"csv/app__app.users.csv", "csv/app__app.orders.csv"} <= names
    data = json.loads(archive.read("data.json"))
    system = data["systems"][0]
    assert system["system"] == "app"
    users = next(c for c in system["collections"] if c["collection"] == "users")
    assert [r["email"] for r in users["rows"]] == [ALICE]
    orders = next(c for c in system["collections"] if c["collection"] == "orders")
    assert sorted(r["id"] for r in orders["rows"]) == [10, 11]
    # Art. 15 facts
    assert {p["legal_basis"] for p in system["purposes"]} == {"contract", "consent"}
    assert system["recipients"][0]["recipient"] == "cloud_host"
    assert system["transfers"] == [{"country": "US", "safeguard": "scc"}]
    assert system["retention"]["keep"] == "P3Y"
    assert system["sources"] == [{"source": "direct", "detail": None}]
    assert "erasure" in system["rights"]
    index = archive.read("index.html").decode()
    assert 'lang="nb"' in index and "Alice Example" in index
    # the processor system was not read for data, but the person was referred
    assert data["forwarded"][0]["system"] == "hosted"
    assert "hosted" not in {s["system"] for s in data["systems"]}
    assert mails_to(flow_store, TENANT_CONTACT), "the controlling customer was told"
    # single use
    with pytest.raises(package.DownloadRefused), flow_store.transaction() as session:
        package.redeem(session, token)


def test_download_link_expires(flow_store: Store, manifest: Manifest) -> None:
    request_id = submit(flow_store, manifest, kind="portability")
    verify_from_outbox(flow_store, manifest, request_id)
    run_jobs(flow_store)
    with flow_store.transaction() as session:
        req = session.get(DataRequest, request_id)
        assert req is not None
        token = package.store(session, req, b"zip")
    later = utcnow() + package.LINK_TTL + timedelta(seconds=1)
    with pytest.raises(package.DownloadRefused), flow_store.transaction() as session:
        package.redeem(session, token, now=later)
    with flow_store.transaction() as session:
        _, content = package.redeem(session, token)
    assert content == b"zip"
