"""`pledge requests`: staff enter a verified request, wait for it, list and show it."""

from __future__ import annotations

import pytest
from flowsupport import ALICE, FIXTURE
from typer.testing import CliRunner

from pledge.cli import build
from pledge.store.db import Store


def test_submit_wait_list_show(flow_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(flow_store.settings.data_dir))
    monkeypatch.setenv("PLEDGE_MANIFEST", str(FIXTURE))
    runner = CliRunner()
    app = build()
    result = runner.invoke(
        app,
        [
            "requests",
            "submit",
            "--kind",
            "access",
            "--email",
            ALICE,
            "--verified",
            "--wait",
            "--country",
            "NO",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "completed" in result.output
    reference = result.output.split()[0]
    listed = runner.invoke(app, ["requests", "list", "--state", "completed"])
    assert reference in listed.output
    shown = runner.invoke(app, ["requests", "show", reference])
    assert '"state": "completed"' in shown.output and ALICE not in shown.output
