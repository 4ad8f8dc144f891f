"""Helpers for the API tests: an app over a store, with one key per role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from browsersupport import free_port as free_port  # re-exported
from pledge import apikeys
from pledge.api.app import create_app
from pledge.api.permissions import ROLES
from pledge.api.settings import ApiSettings
from pledge.manifest_holder import ManifestHolder
from pledge.store.db import Store

SMALL = Path(__file__).parents[1] / "fixtures" / "small"
#: Generous limits, so only the rate-limit tests meet them.
RELAXED = ApiSettings(public_rate=10_000, public_burst=10_000)


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    store: Store
    holder: ManifestHolder
    manifest_path: Path
    keys: dict[str, str]  # role → secret
    revoked: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def copy_manifest(target: Path) -> Path:
    """A private copy of the small fixture manifest (tests may break it)."""
    shutil.copytree(SMALL, target)
    return target / "pledge.yaml"


def make_keys(store: Store) -> tuple[dict[str, str], str]:
    keys = {}
    with store.transaction() as session:
        for role in ROLES:
            _, keys[role] = apikeys.create(session, f"test {role}", role)
        record, revoked = apikeys.create(session, "test revoked", "admin")
        apikeys.revoke(session, record.id)
    return keys, revoked


def build_api(store: Store, tmp_path: Path, api_settings: ApiSettings = RELAXED) -> Iterator[Api]:
    path = copy_manifest(tmp_path / "manifest")
    holder = ManifestHolder(str(path))
    app = create_app(store.settings, store, holder, api_settings=api_settings)
    keys, revoked = make_keys(store)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(app, client, store, holder, path, keys, revoked)


# --- subprocesses -------------------------------------------------------------------------------


def pledge_command() -> list[str]:
    """How to run the `pledge` command of this environment."""
    import sys

    script = Path(sys.executable).parent / "pledge"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from pledge.cli import main; main()"]


def wait_for_health(base: str, timeout: float = 60.0, process: object = None) -> dict[str, object]:
    """GET /health until it answers 200; fails if `process` (a Popen) exits first."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:  # type: ignore[attr-defined]
            raise AssertionError(f"the server exited with {process.returncode}")  # type: ignore[attr-defined]
        try:
            response = httpx.get(f"{base}/health", timeout=2)
            if response.status_code == 200:
                return dict(response.json())
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base} did not become healthy in {timeout} s")
