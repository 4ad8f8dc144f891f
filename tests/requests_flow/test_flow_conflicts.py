"""Staff actions a request's state forbids answer 409 Conflict, naming the state; bad input 400."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from flowsupport import ALICE, confirmed_request, run_jobs

from pledge.manifest.model import Manifest
from pledge.requests import service
from pledge.store.db import Store

REASONS = {"reasons": ["Many systems"]}


def conflict(response: httpx.Response, state: str) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == 409 and body["title"] == "Conflict"
    assert body["type"].endswith("/request-state")
    assert body["state"] == state and f"is {state}" in body["detail"]
    assert ALICE not in response.text
    return body


def staff_request(
    c: TestClient, auth: dict[str, str], approver: dict[str, str], kind: str = "access"
) -> dict[str, Any]:
    """A staff-attested request, approved by a second officer (four eyes), now running."""
    body = {"kind": kind, "email": ALICE, "country": "NO", "verified": True, "reason": "ID seen"}
    entered = c.post("/v1/requests/staff", headers=auth, json=body)
    assert entered.status_code == 201, entered.text
    assert entered.json()["state"] == "awaiting_approval"
    approved = c.post(f"/v1/requests/{entered.json()['id']}/approve", headers=approver)
    assert approved.status_code == 200, approved.text
    return dict(approved.json())


def test_actions_in_the_wrong_state_are_409(
    client: tuple[TestClient, str], flow_store: Store, second_officer: dict[str, str]
) -> None:
    c, secret = client
    auth = {"Authorization": f"Bearer {secret}"}
    running = staff_request(c, auth, second_officer)
    rid = running["id"]
    body = conflict(c.post(f"/v1/requests/{rid}/approve", headers=auth), "in_progress")
    assert body["reference"] == running["reference"]
    conflict(c.post(f"/v1/requests/{rid}/retry", headers=auth), "in_progress")

    run_jobs(flow_store)
    for action in ("approve", "retry"):
        conflict(c.post(f"/v1/requests/{rid}/{action}", headers=auth), "completed")
    for action in ("deny", "extend"):
        conflict(c.post(f"/v1/requests/{rid}/{action}", headers=auth, json=REASONS), "completed")


def test_a_second_extension_and_denying_an_erased_request_are_409(
    client: tuple[TestClient, str], flow_store: Store, second_officer: dict[str, str]
) -> None:
    c, secret = client
    auth = {"Authorization": f"Bearer {secret}"}
    rid = staff_request(c, auth, second_officer)["id"]
    assert c.post(f"/v1/requests/{rid}/extend", headers=auth, json=REASONS).status_code == 200
    twice = c.post(f"/v1/requests/{rid}/extend", headers=auth, json=REASONS)
    again = conflict(twice, "in_progress")
    assert "extended already" in again["detail"]

    erased = staff_request(c, auth, second_officer, "erasure")["id"]
    run_jobs(flow_store)
    # The subject's key is shredded: the state is checked before anything sealed is opened.
    conflict(c.post(f"/v1/requests/{erased}/deny", headers=auth, json=REASONS), "completed")


def test_bad_input_stays_400_and_unknown_requests_404(
    client: tuple[TestClient, str], second_officer: dict[str, str]
) -> None:
    c, secret = client
    auth = {"Authorization": f"Bearer {secret}"}
    rid = staff_request(c, auth, second_officer)["id"]
    blank = c.post(f"/v1/requests/{rid}/deny", headers=auth, json={"reasons": ["  "]})
    assert blank.status_code == 400 and "reason" in blank.json()["detail"]
    assert c.post("/v1/requests/no-such-request/approve", headers=auth).status_code == 404


def test_the_service_says_the_current_state(flow_store: Store, manifest: Manifest) -> None:
    done = confirmed_request(flow_store, manifest, "access")
    run_jobs(flow_store)
    with pytest.raises(service.TransitionError) as raised, flow_store.transaction() as session:
        service.retry(session, done.id, actor="cli:test")
    assert (raised.value.state, raised.value.reference) == ("completed", done.reference)
