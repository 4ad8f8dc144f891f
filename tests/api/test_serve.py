"""`pledge serve` and `pledge reload` as an operator runs them: a real process on a real port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apisupport import copy_manifest, free_port, pledge_command, wait_for_health

from pledge.config import Settings
from pledge.store import audit
from pledge.store.db import Store


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PLEDGE_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def server(
    tmp_path: Path, env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    manifest = copy_manifest(tmp_path / "manifest")
    port = free_port()
    process = subprocess.Popen(
        [*pledge_command(), "serve", "--port", str(port), "--manifest", str(manifest)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, f"http://127.0.0.1:{port}", manifest
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _digest(base: str) -> str:
    return str(httpx.get(f"{base}/health").json()["manifest_digest"])


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*pledge_command(), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_serve_reload_and_stop(
    server: tuple[subprocess.Popen[str], str, Path], env: dict[str, str], tmp_path: Path
) -> None:
    process, base, manifest = server
    health = wait_for_health(base, process=process)
    assert health["status"] == "ok"
    assert health["worker"] == "running"
    port = int(base.rsplit(":", 1)[1])
    pid_file = tmp_path / "data" / "run" / f"serve-{port}.pid"
    assert json.loads(pid_file.read_text())["pid"] == process.pid
    first = _digest(base)

    # A manifest with errors: `pledge reload` says so, exits 1, and the old one stays.
    good = manifest.read_text(encoding="utf-8")
    manifest.write_text(good.replace("languages: [en, nb]", "languages: [en, nb, zz-"))
    refused = _run(env, "reload")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "refused" in refused.stdout
    assert _digest(base) == first

    # A good change by SIGHUP: swapped in.
    manifest.write_text(good.replace("Privacy Notice", "Privacy Statement"))
    os.kill(process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30
    while _digest(base) == first and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _digest(base) != first
    assert "Privacy Statement" in httpx.get(f"{base}/notices/general").text

    # A second server of this data folder on the same port is refused before it does anything.
    second = _run(env, "serve", "--port", str(port), "--manifest", str(manifest))
    assert second.returncode == 2
    assert "already runs" in second.stderr

    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    output = process.stdout.read() if process.stdout else ""
    assert "reload refused" in output
    assert not pid_file.exists()

    # Which manifest was in force from when is in the audit log.
    store = Store(Settings(data_dir=tmp_path / "data"))
    with store.reader() as session:
        events = audit.list_events(session, audit.EventFilter(object_type="manifest")).events
    store.dispose()
    assert [e.action for e in events] == [
        "manifest.loaded",
        "manifest.reload_refused",
        "manifest.reloaded",
    ]
    assert [e.actor for e in events] == ["serve", "signal:SIGHUP", "signal:SIGHUP"]


def test_reload_without_a_server(env: dict[str, str]) -> None:
    result = _run(env, "reload")
    assert result.returncode == 1
    assert "no Pledge server runs" in result.stderr


def test_serve_refuses_a_manifest_with_errors(env: dict[str, str], tmp_path: Path) -> None:
    manifest = copy_manifest(tmp_path / "manifest")
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("languages: [en, nb]", "languages: [en, nb, zz-"))
    result = _run(env, "serve", "--port", str(free_port()), "--manifest", str(manifest))
    assert result.returncode == 2
    assert "not starting" in result.stderr
    assert "error" in result.stderr
