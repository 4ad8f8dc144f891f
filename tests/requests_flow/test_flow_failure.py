"""A request that fails for good tells the privacy team, the DPO and the person, and says why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flowsupport import ALICE, FIXTURE, body, latest_code, mails_to, run_jobs
from typer.testing import CliRunner

from pledge.cli import build
from pledge.config import Settings
from pledge.manifest.load import load_manifest
from pledge.requests import handlers, service
from pledge.store.db import Store
from pledge.store.migrations import upgrade

TEAM, DPO = "privacy@flow.example", "dpo@flow.example"


TOO_LONG = "writes 250 characters but column name holds 200"


@pytest.fixture
def broken(tmp_path: Path, product: dict[str, str]) -> Path:
    """The flow manifest with a DPO and a strategy the real column cannot take (planning fails)."""
    folder = tmp_path / "manifest"
    shutil.copytree(FIXTURE.parent, folder)
    manifest = folder / "pledge.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "  contact: {email: privacy@flow.example}\n",
            f"  contact: {{email: {TEAM}}}\n  dpo: {{email: {DPO}}}\n",
        )
    )
    app = folder / "datasets" / "app.yml"
    text = app.read_text()
    old = "length: 200, masking: {strategy: string_rewrite, configuration: {value: erased}}"
    assert old in text
    # With no declared length lint cannot know the column holds 200 characters; the planner
    # reads it from the database, so only the request finds out.
    long = "x" * 250
    new = f"masking: {{strategy: string_rewrite, configuration: {{value: {long}}}}}"
    app.write_text(text.replace(old, new))
    return manifest


def test_erasure_that_cannot_be_planned_alerts_the_team_and_tells_the_person(
    tmp_path: Path, broken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handlers, "ATTEMPTS", 1)  # the last attempt: no retry left
    settings = Settings(
        data_dir=tmp_path / "data", manifest=broken, public_url="https://privacy.flow.example"
    )
    store = Store(settings)
    upgrade(store)
    store.vault  # noqa: B018
    manifest = load_manifest(broken)
    try:
        intake = service.Intake(kind="erasure", email=ALICE, country="NO", language="nb")
        with store.transaction() as session:
            done = service.submit(
                session, manifest, intake, actor="subject", public_url=settings.public_url
            )
        run_jobs(store)
        with store.transaction() as session:
            service.verify(session, manifest, done.id, latest_code(store, ALICE))
        run_jobs(store)
        with store.reader() as session:
            req = service.get(session, done.id)
            assert req.state == "failed"
            failure = (req.result or {})["failure"]
        assert failure["error"] == "PlanError"
        assert any(TOO_LONG in p for p in failure["problems"])

        for address in (TEAM, DPO):
            (alert,) = mails_to(store, address)
            assert done.reference in str(alert["Subject"]) and "Failed" in str(alert["Subject"])
            assert TOO_LONG in " ".join(body(alert).split())
            assert ALICE not in body(alert)  # names the request, never the person
        person = mails_to(store, ALICE)[-1]
        assert "forsinket" in str(person["Subject"])  # Norwegian: "delayed"
        assert "Den er ikke utført" in " ".join(body(person).split())
        assert "complete" not in str(person["Subject"])

        monkeypatch.setenv("PLEDGE_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("PLEDGE_MANIFEST", str(broken))
        runner = CliRunner()
        listed = runner.invoke(build(), ["requests", "list", "--state", "failed"])
        assert listed.exit_code == 0 and done.reference in listed.output
        shown = runner.invoke(build(), ["requests", "show", done.reference])
        assert shown.exit_code == 0, shown.output
        assert TOO_LONG in shown.output
    finally:
        store.dispose()
