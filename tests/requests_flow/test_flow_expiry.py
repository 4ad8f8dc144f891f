"""Unverified requests expire: the purge job runs after seven days, not before, and only
deletes requests still unverified. California's receipt confirmation goes out at once."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

from flowsupport import ALICE, body, flow_worker, latest_code, mails_to, run_jobs
from sqlalchemy import select

from pledge.manifest.model import Manifest
from pledge.requests import service
from pledge.requests.tables import DataRequest
from pledge.store.db import Store
from pledge.store.tables import AuditEvent, Job, Subject, utcnow

STRANGER = "stranger@example.org"


def submit(store: Store, manifest: Manifest, email: str, **fields: str) -> service.Submitted:
    intake = service.Intake(kind="access", email=email, **fields)  # type: ignore[arg-type]
    with store.transaction() as session:
        return service.submit(
            session, manifest, intake, actor="subject", public_url=store.settings.public_url
        )


def run_jobs_at(store: Store, later: timedelta) -> int:
    """Run every job due by `later` from now, as a worker would then."""
    worker = flow_worker(store, clock=lambda: utcnow() + later, poll_interval=0.01)
    return worker.run(threading.Event(), once=True)


def request(store: Store, request_id: str) -> DataRequest | None:
    with store.reader() as session:
        return session.get(DataRequest, request_id)


def test_an_unverified_request_is_purged_after_seven_days(
    flow_store: Store, manifest: Manifest
) -> None:
    done = submit(flow_store, manifest, STRANGER, country="NO")
    found = request(flow_store, done.id)
    assert found is not None
    subject_id = found.subject_id
    run_jobs_at(flow_store, timedelta(days=service.UNVERIFIED_TTL_DAYS) - timedelta(hours=1))
    assert request(flow_store, done.id) is not None, "purged before its time"

    run_jobs_at(flow_store, timedelta(days=service.UNVERIFIED_TTL_DAYS, minutes=1))
    assert request(flow_store, done.id) is None
    with flow_store.reader() as session:
        subject = session.get(Subject, subject_id)
        assert subject is not None and subject.shredded_at is not None
        (event,) = session.execute(
            select(AuditEvent).where(AuditEvent.action == "request.purged")
        ).scalars()
    assert event.object_id == done.id and STRANGER not in event.details


def test_verified_requests_and_shared_subjects_survive_the_purge(
    flow_store: Store, manifest: Manifest
) -> None:
    verified = submit(flow_store, manifest, ALICE, country="NO")
    run_jobs(flow_store)
    with flow_store.transaction() as session:
        service.verify(session, manifest, verified.id, latest_code(flow_store, ALICE))
    left = submit(flow_store, manifest, ALICE, country="NO")  # never verified
    run_jobs_at(flow_store, timedelta(days=service.UNVERIFIED_TTL_DAYS, minutes=1))
    kept = request(flow_store, verified.id)
    assert kept is not None and kept.state == "completed"
    assert request(flow_store, left.id) is None
    with flow_store.reader() as session:
        subject = session.get(Subject, kept.subject_id)
        assert subject is not None and subject.shredded_at is None  # another request holds it


def test_california_receipt_is_confirmed_within_ten_business_days(
    flow_store: Store, manifest: Manifest
) -> None:
    done = submit(flow_store, manifest, ALICE, country="US", region="CA")
    req = request(flow_store, done.id)
    assert req is not None and req.jurisdiction == "us-ca" and req.confirm_by is not None
    run_jobs(flow_store)  # the receipt was queued with the request; the next worker sends it
    receipt = next(m for m in mails_to(flow_store, ALICE) if "received" in str(m["Subject"]))
    text = body(receipt)
    assert done.reference in text and f"{req.due_at:%B} {req.due_at.day}" in text
    assert "code" in text  # how it proceeds: the person must confirm it is theirs
    with flow_store.reader() as session:
        job_id = session.execute(
            select(Job.id).where(Job.idempotency_key == f"request:{done.id}:received")
        ).scalar_one()
        sent = session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "mail.sent", AuditEvent.object_id == str(job_id)
            )
        ).scalar_one()
    assert datetime.fromisoformat(sent.occurred_at) <= req.confirm_by
    assert json.loads(sent.details)["kind"] == "request_received"
