"""What one process writes reaches the caches of the others within the change feed's bound.

Two services over one database (SQLite and PostgreSQL), each with its own store, consent
cache and key cache, as two API processes have. A decision cached in B must follow a choice
recorded through A, a restriction written by the request engine, a programme joined through
A, and a key revoked elsewhere must stop working in B: all well within the 5 s the caches
would otherwise trust their entries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from consentsupport import RELAXED, lumen_copy
from fastapi.testclient import TestClient

from pledge import apikeys
from pledge.api.app import create_app
from pledge.consent.limits import set_limit
from pledge.consent.service import DEFAULT_TTL
from pledge.consent.subjects import reference
from pledge.manifest_holder import ManifestHolder
from pledge.store.db import Store

#: The bound the tests hold the feed to (it polls every 0.2 s; the machine may be busy).
BOUND = 2.0
SUBJECT = "device:crossprocessaaaaaa"


@dataclass
class Two:
    a: TestClient
    b: TestClient
    store_a: Store
    key: str
    key_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def two(store: Store, tmp_path: Path) -> Iterator[Two]:
    other = Store(store.settings)  # a second process's own engine and caches
    path = str(lumen_copy(tmp_path / "lumen"))
    app_a = create_app(store.settings, store, ManifestHolder(path), api_settings=RELAXED)
    app_b = create_app(other.settings, other, ManifestHolder(path), api_settings=RELAXED)
    with store.transaction() as session:
        record, key = apikeys.create(session, "product", "service")
    try:
        with TestClient(app_a) as a, TestClient(app_b) as b:
            yield Two(a, b, store, key, record.id)
    finally:
        other.dispose()


def _decision(client: TestClient, auth: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get("/v1/consent/decision", params=params, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _within_bound(check: Callable[[], bool]) -> float:
    """Seconds until `check` holds; fails past the bound."""
    start = time.monotonic()
    while not check():
        elapsed = time.monotonic() - start
        assert elapsed < BOUND, f"not seen within {BOUND} s"
        time.sleep(0.02)
    return time.monotonic() - start


def test_choice_recorded_in_one_process_reaches_decisions_in_the_other(two: Two) -> None:
    assert BOUND < DEFAULT_TTL  # the feed, not the caches' expiry, makes this pass
    query = {"subject": SUBJECT, "purpose": "analytics.web"}
    assert _decision(two.b, two.auth, **query)["reason"] == "no_consent"  # now cached in B
    recorded = two.a.post(
        "/v1/consent",
        json={"mechanism": "accept_all", "subject": SUBJECT, "jurisdiction": "eu"},
        headers=two.auth,
    )
    assert recorded.status_code == 201, recorded.text
    assert _decision(two.a, two.auth, **query)["allowed"] is True  # the writer: at once
    _within_bound(lambda: _decision(two.b, two.auth, **query)["allowed"] is True)

    # A restriction written by the request engine (a worker process): no API call at all.
    device = reference(two.store_a.vault, SUBJECT)  # the engine names devices by reference
    with two.store_a.transaction() as session:
        set_limit(session, device, "restriction", actor="system:dsr", request_id="R-1")
    _within_bound(lambda: _decision(two.b, two.auth, **query)["reason"] == "restricted")


def test_programme_participation_reaches_the_other_process(two: Two) -> None:
    query = {
        "subject": SUBJECT,
        "purpose": "analytics.product_improvement",
        "jurisdiction": "eu",
        "organisation": "org-7",
    }
    assert _decision(two.b, two.auth, **query)["reason"] == "programme_not_joined"
    joined = two.a.post(
        "/v1/programs/ceip/participation",
        json={"scope": "organisation", "id": "org-7", "action": "join"},
        headers=two.auth,
    )
    assert joined.status_code == 201, joined.text
    _within_bound(lambda: _decision(two.b, two.auth, **query)["allowed"] is True)


def test_key_revoked_elsewhere_stops_working_in_every_process(two: Two) -> None:
    query = {"subject": SUBJECT, "purpose": "analytics.web"}
    _decision(two.a, two.auth, **query)
    _decision(two.b, two.auth, **query)  # the key is now trusted from both caches
    with two.store_a.transaction() as session:  # as `pledge keys revoke` does
        apikeys.revoke(session, two.key_id)

    def refused() -> bool:
        statuses = {
            client.get("/v1/consent/decision", params=query, headers=two.auth).status_code
            for client in (two.a, two.b)
        }
        return statuses == {401}

    _within_bound(refused)
