"""`pledge serve` and `pledge reload` as an operator runs them: a real process on a real port."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apisupport import copy_manifest, free_port, pledge_command, wait_for_health

from pledge import apikeys
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
    # Not "ok" once the background preflight has run: the small manifest's accounts_db has no
    # URL here, so /health lists it (degraded), which is not what this test is about.
    assert health["database"] == "ok"
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


# --- several API processes: `pledge serve --workers 2` -------------------------------------

BOUND = 3.0  # seconds for a change to reach every worker (the feed polls every 0.2 s)
FRESH = 20  # requests on fresh connections: the kernel spreads them over both workers


def _fresh(url: str, **kwargs: Any) -> list[httpx.Response]:
    """`FRESH` GETs, each on its own connection (so on either worker)."""
    return [httpx.get(url, timeout=10, **kwargs) for _ in range(FRESH)]


def _until(check: Callable[[], bool], bound: float = BOUND) -> None:
    deadline = time.monotonic() + bound
    while not check():
        assert time.monotonic() < deadline, f"not within {bound} s"
        time.sleep(0.05)


@pytest.fixture
def workers(
    store: Store, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], str, Path, dict[str, str], Path]]:
    env = {
        **os.environ,
        "PLEDGE_DATA_DIR": str(store.settings.data_dir),
        "PLEDGE_DATABASE_URL": store.settings.database_url,
        "PYTHONUNBUFFERED": "1",
    }
    manifest = copy_manifest(tmp_path / "manifest")
    port = free_port()
    log = tmp_path / "serve.log"
    args = ["serve", "--port", str(port), "--manifest", str(manifest), "--workers", "2"]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*pledge_command(), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        yield process, f"http://127.0.0.1:{port}", manifest, env, log
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def test_workers_serve_together_and_follow_each_other(
    workers: tuple[subprocess.Popen[str], str, Path, dict[str, str], Path], store: Store
) -> None:
    process, base, manifest, env, log = workers
    with store.transaction() as session:
        record, key = apikeys.create(session, "product", "service")
    auth = {"Authorization": f"Bearer {key}"}
    wait_for_health(base, process=process)
    port = int(base.rsplit(":", 1)[1])
    pid_file = store.settings.data_dir / "run" / f"serve-{port}.pid"
    assert json.loads(pid_file.read_text())["pid"] == process.pid

    # Two processes answer; only the first runs the embedded job worker.
    assert {r.json()["worker"] for r in _fresh(f"{base}/health")} == {"running", "disabled"}
    assert log.read_text().count("embedded worker started") == 1

    # A choice recorded through one worker reaches decisions in every worker.
    decision = f"{base}/v1/consent/decision"
    query = {"subject": "device:workerstestaaaaaa", "purpose": "analytics.web"}
    assert {r.json()["reason"] for r in _fresh(decision, params=query, headers=auth)} == {
        "no_consent"
    }
    recorded = httpx.post(
        f"{base}/v1/consent",
        json={
            "mechanism": "api",
            "subject": query["subject"],
            "purposes": {query["purpose"]: True},
        },
        headers=auth,
    )
    assert recorded.status_code == 201, recorded.text
    _until(lambda: all(r.json()["allowed"] for r in _fresh(decision, params=query, headers=auth)))

    # A key revoked by another process (the CLI) stops working in every worker.
    revoked = _run(env, "keys", "revoke", record.id)
    assert revoked.returncode == 0, revoked.stderr
    _until(lambda: {r.status_code for r in _fresh(decision, params=query, headers=auth)} == {401})

    # SIGHUP (through `pledge reload`) reaches every worker before reload reports.
    first = _digest(base)
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("Notice", "Statement"))
    reloaded = _run(env, "reload")
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    digests = {r.json()["manifest_digest"] for r in _fresh(f"{base}/health")}
    assert len(digests) == 1 and digests != {first}

    # A worker that dies is replaced.
    pids = [int(p) for p in re.findall(r"worker 1 started \(pid (\d+)\)", log.read_text())]
    os.kill(pids[-1], signal.SIGKILL)
    _until(lambda: log.read_text().count("worker 1 started") == 2, bound=10)
    wait_for_health(base, process=process)

    process.send_signal(signal.SIGTERM)
    assert process.wait(40) == 0
    assert not pid_file.exists()
    assert log.read_text().count("embedded worker stopped") == 1
    with store.reader() as session:
        events = audit.list_events(session, audit.EventFilter(object_type="manifest")).events
    assert [(e.action, e.actor) for e in events] == [
        ("manifest.loaded", "serve"),
        ("manifest.reloaded", "signal:SIGHUP"),
    ]


@pytest.fixture
def strict_public(monkeypatch: pytest.MonkeyPatch) -> int:
    """A public rate limit small enough to count: a burst of 8, then (almost) no refill."""
    monkeypatch.setenv("PLEDGE_PUBLIC_BURST", "8")
    monkeypatch.setenv("PLEDGE_PUBLIC_RATE", "0.01")
    return 8


def test_workers_share_one_public_rate_limit(
    strict_public: int,
    workers: tuple[subprocess.Popen[str], str, Path, dict[str, str], Path],
) -> None:
    """`FRESH` requests spread over two workers: each worker's own buckets would admit about
    twice the burst; shared ones admit the burst once (less what the health check took)."""
    process, base, _, env, log = workers
    wait_for_health(base, process=process)
    statuses = [r.status_code for r in _fresh(f"{base}/v1/consent/config", params={"lang": "en"})]
    admitted = statuses.count(200)
    assert 1 <= admitted <= strict_public, statuses
    assert statuses == [200] * admitted + [429] * (FRESH - admitted)
    process.send_signal(signal.SIGTERM)
    assert process.wait(40) == 0
    port = base.rsplit(":", 1)[1]
    assert not (Path(env["PLEDGE_DATA_DIR"]) / "run" / f"serve-{port}.buckets").exists()
    assert "Traceback" not in log.read_text()
