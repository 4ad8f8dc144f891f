"""SLA reminders: the privacy team hears once when a request is due soon and once when it is
overdue — from the workers' hourly job or `pledge requests remind` — and never about the person."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest
from flowsupport import ALICE, FIXTURE, body, flow_worker, mails_to, run_jobs
from sqlalchemy import select, update
from typer.testing import CliRunner

from pledge.cli import build
from pledge.manifest.model import Manifest
from pledge.requests import reminders, service
from pledge.requests.tables import DataRequest
from pledge.runtime.workers import load_handler_modules
from pledge.store.db import Store
from pledge.store.tables import AuditEvent, Job, utcnow

TEAM = "privacy@flow.example"


def open_request(store: Store, manifest: Manifest, kind: str = "objection") -> DataRequest:
    """A verified request left open (objections wait for approval in the fixture manifest)."""
    intake = service.Intake(kind=kind, email=ALICE, country="NO", channel="staff")
    with store.transaction() as session:
        done = service.submit(
            session,
            manifest,
            intake,
            actor="cli:clerk",
            public_url=store.settings.public_url,
            verified=True,
            reason="Checked her passport at the desk",
        )
        return service.get(session, done.id)


def remind(store: Store, manifest: Manifest, now: datetime) -> list[reminders.Reminder]:
    with store.transaction() as session:
        return reminders.remind(session, manifest, now=now)


def reminded_events(store: Store) -> list[AuditEvent]:
    with store.reader() as session:
        query = select(AuditEvent).where(AuditEvent.action == "request.reminded")
        return list(session.execute(query.order_by(AuditEvent.seq)).scalars())


def test_one_reminder_per_sla_state_never_one_per_poll(
    flow_store: Store, manifest: Manifest
) -> None:
    req = open_request(flow_store, manifest)
    assert req.state == "awaiting_approval"
    assert remind(flow_store, manifest, req.due_at - timedelta(days=10)) == []  # on track
    soon = remind(flow_store, manifest, req.due_at - timedelta(days=3))
    assert [(r.reference, r.sla) for r in soon] == [(req.reference, "due_soon")]
    for days in (3, 2, 0):  # every later poll while due soon: nothing new
        assert remind(flow_store, manifest, req.due_at - timedelta(days=days)) == []
    late = remind(flow_store, manifest, req.due_at + timedelta(hours=1))
    assert [r.sla for r in late] == ["overdue"]
    assert remind(flow_store, manifest, req.due_at + timedelta(days=9)) == []

    run_jobs(flow_store)
    team = mails_to(flow_store, TEAM)
    assert len(team) == 2
    assert "Reminder" in str(team[0]["Subject"]) and req.reference in str(team[0]["Subject"])
    assert str(team[1]["Subject"]).startswith("Overdue")
    for message in team:
        assert ALICE not in message.as_string()
        assert "Awaiting approval" in body(message)
    events = reminded_events(flow_store)
    assert [json.loads(e.details)["sla"] for e in events] == ["due_soon", "overdue"]
    assert all(e.object_id == req.id and ALICE not in e.details for e in events)


def test_finished_and_unverified_requests_get_no_reminder(
    flow_store: Store, manifest: Manifest
) -> None:
    intake = service.Intake(kind="access", email=ALICE, country="NO")
    with flow_store.transaction() as session:
        unverified = service.submit(
            session, manifest, intake, actor="subject", public_url=flow_store.settings.public_url
        )
    denied = open_request(flow_store, manifest)
    with flow_store.transaction() as session:
        service.deny(session, manifest, denied.id, ["Unfounded"], actor="cli:officer")
    assert remind(flow_store, manifest, unverified.due_at + timedelta(days=1)) == []


def test_an_extended_request_is_reminded_again_for_its_new_date(
    flow_store: Store, manifest: Manifest
) -> None:
    req = open_request(flow_store, manifest)
    assert remind(flow_store, manifest, req.due_at - timedelta(days=2))
    with flow_store.transaction() as session:
        service.extend(session, manifest, req.id, ["Many systems"], actor="cli:officer")
    assert req.extended_due_at is not None
    assert remind(flow_store, manifest, req.due_at - timedelta(days=1)) == []  # on track again
    again = remind(flow_store, manifest, req.extended_due_at - timedelta(days=2))
    assert [(r.sla, r.due) for r in again] == [("due_soon", req.extended_due_at)]


def test_workers_run_the_reminders_once_per_hour(flow_store: Store, manifest: Manifest) -> None:
    req = open_request(flow_store, manifest)
    with flow_store.transaction() as session:  # make it due in three days, as time would
        session.execute(
            update(DataRequest)
            .where(DataRequest.id == req.id)
            .values(due_at=utcnow() + timedelta(days=3))
        )
    load_handler_modules()
    for _ in range(2):  # two workers in the same hour: one reminder job, one reminder
        flow_worker(flow_store, periodic=True, poll_interval=0.01).run(threading.Event(), once=True)
    with flow_store.reader() as session:
        kinds = session.execute(select(Job.kind)).scalars().all()
    assert kinds.count(reminders.REMIND_JOB) == 1
    assert len(mails_to(flow_store, TEAM)) == 1
    assert len(reminded_events(flow_store)) == 1


def test_cli_reminds_now(
    flow_store: Store, manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = open_request(flow_store, manifest)
    with flow_store.transaction() as session:
        session.execute(
            update(DataRequest)
            .where(DataRequest.id == req.id)
            .values(due_at=utcnow() - timedelta(days=1))
        )
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(flow_store.settings.data_dir))
    monkeypatch.setenv("PLEDGE_MANIFEST", str(FIXTURE))
    runner, app = CliRunner(), build()
    first = runner.invoke(app, ["requests", "remind"])
    assert first.exit_code == 0, first.output
    assert req.reference in first.output and "overdue" in first.output
    assert "1 reminder(s) queued" in first.output
    second = runner.invoke(app, ["requests", "remind"])
    assert second.exit_code == 0 and "0 reminder(s) queued" in second.output
    (event,) = reminded_events(flow_store)
    assert event.actor.startswith("cli:")
