"""`pledge requests`: staff enter a verified request, another approves it, list and show it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flowsupport import ALICE, FIXTURE, run_jobs
from sqlalchemy import select
from typer.testing import CliRunner

from pledge.cli import build
from pledge.store.db import Store
from pledge.store.tables import AuditEvent


def events(store: Store, action: str) -> list[AuditEvent]:
    with store.reader() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return list(session.execute(query).scalars())


def details(event: AuditEvent) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(event.details)
    return found


def test_submit_approve_list_show(flow_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(flow_store.settings.data_dir))
    monkeypatch.setenv("PLEDGE_MANIFEST", str(FIXTURE))
    monkeypatch.setenv("LOGNAME", "clerk")
    runner = CliRunner()
    app = build()
    submit = ["requests", "submit", "--kind", "access", "--email", ALICE, "--country", "NO"]
    # Attesting without saying how is refused; nothing is stored.
    bare = runner.invoke(app, [*submit, "--verified"])
    assert bare.exit_code == 2 and "reason" in bare.output
    result = runner.invoke(app, [*submit, "--verified", "--reason", "Passport seen at the desk"])
    assert result.exit_code == 0, result.output
    reference, rid, state = result.output.split()[:3]
    assert state == "awaiting_approval"
    (attested,) = events(flow_store, "request.attested")
    assert attested.actor == "cli:clerk" and attested.object_id == rid
    assert details(attested)["identities"] == ["email"] and "Passport" not in attested.details
    # Four eyes: the clerk who attested cannot approve; an officer can.
    own = runner.invoke(app, ["requests", "approve", reference])
    assert own.exit_code == 2 and "someone else" in own.output
    monkeypatch.setenv("LOGNAME", "officer")
    approved = runner.invoke(app, ["requests", "approve", reference])
    assert approved.exit_code == 0 and "in_progress" in approved.output
    (approval,) = events(flow_store, "request.approved")
    assert approval.actor == "cli:officer" and details(approval) == {"attested_by": "cli:clerk"}
    run_jobs(flow_store)
    listed = runner.invoke(app, ["requests", "list", "--state", "completed"])
    assert reference in listed.output
    shown = runner.invoke(app, ["requests", "show", reference, "--purpose", "complaint 42"])
    assert '"state": "completed"' in shown.output and ALICE not in shown.output
    (read,) = events(flow_store, "request.read")
    assert read.actor == "cli:officer" and read.object_id == rid
    assert details(read)["purpose"] == "complaint 42" and "steps" in details(read)["read"]


def test_submit_wait_runs_a_trusted_attestation(
    flow_store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    """`--wait` on a right the manifest marks `staff_attested: trusted` runs it at once."""
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(flow_store.settings.data_dir))
    text = FIXTURE.read_text().replace(
        "restriction: {verification: email}",
        "restriction: {verification: email, staff_attested: trusted}",
    )
    manifest = FIXTURE.parent / "trusted.yaml"
    manifest.write_text(text)
    try:
        monkeypatch.setenv("PLEDGE_MANIFEST", str(manifest))
        result = CliRunner().invoke(
            build(),
            [
                "requests",
                "submit",
                "--kind",
                "restriction",
                "--email",
                ALICE,
                "--country",
                "NO",
                "--verified",
                "--reason",
                "Known caller",
                "--wait",
            ],
        )
    finally:
        manifest.unlink()
    assert result.exit_code == 0, result.output
    assert "completed" in result.output
