"""The request routes: public intake answers the same for everyone; staff routes need keys."""

from __future__ import annotations

from fastapi.testclient import TestClient
from flowsupport import ALICE, DOWNLOAD_LINK, latest_code, link_in, mails_to, run_jobs

from pledge.store.db import Store


def test_public_flow_and_admin(client: tuple[TestClient, str], flow_store: Store) -> None:
    c, secret = client
    known = c.post("/v1/requests", json={"kind": "access", "email": ALICE, "country": "NO"})
    unknown = c.post(
        "/v1/requests", json={"kind": "access", "email": "x@example.org", "country": "NO"}
    )
    assert known.status_code == unknown.status_code == 202
    assert set(known.json()) == set(unknown.json())
    assert known.json()["state"] == unknown.json()["state"] == "unverified"
    rid, token = known.json()["id"], known.json()["token"]
    run_jobs(flow_store)
    bad = c.post(f"/v1/requests/{rid}/verify", json={"code": "1"})
    nobody = c.post("/v1/requests/nope/verify", json={"code": "1"})
    assert bad.status_code == nobody.status_code == 400
    assert bad.json()["outcome"] == nobody.json()["outcome"] == "wrong"
    ok = c.post(f"/v1/requests/{rid}/verify", json={"code": latest_code(flow_store, ALICE)})
    assert ok.status_code == 200
    run_jobs(flow_store)
    status = c.get(f"/v1/requests/{rid}/status", params={"token": token})
    assert status.json()["state"] == "completed" and status.json()["sla"] == "closed"
    assert c.get(f"/v1/requests/{rid}/status", params={"token": "x" * 32}).status_code == 404
    mail = next(m for m in mails_to(flow_store, ALICE) if "/download/" in str(m))
    url = link_in(mail, DOWNLOAD_LINK)
    token = url.rsplit("/", 1)[1]
    # an older link (/v1) leads to the page unspent; programs may POST the token
    old = c.get(f"/v1/requests/download/{token}", follow_redirects=False)
    assert old.status_code == 303 and old.headers["location"].endswith(url)
    first = c.post(f"/v1/requests/download/{token}")
    assert first.status_code == 200 and first.content[:2] == b"PK"
    again = c.post(f"/v1/requests/download/{token}")
    assert again.status_code == 404 and again.json()["status"] == 404
    # staff
    assert c.get("/v1/requests").status_code == 401
    auth = {"Authorization": f"Bearer {secret}"}
    listed = c.get("/v1/requests", headers=auth, params={"state": "completed"})
    assert [r["id"] for r in listed.json()] == [rid]
    shown = c.get(f"/v1/requests/{rid}", headers=auth).json()
    assert [s["name"] for s in shown["steps"]] == ["read", "package", "notify"]
    assert c.get(f"/v1/requests/{rid}/package", headers=auth).status_code == 200
    assert c.post(f"/v1/requests/{rid}/approve", headers=auth).status_code == 409
    entered = c.post(
        "/v1/requests/staff",
        headers=auth,
        json={
            "kind": "restriction",
            "email": ALICE,
            "country": "NO",
            "verified": True,
            "reason": "Called back on the number in her account",
        },
    )
    # Staff-attested: four eyes, so it waits for someone else's approval.
    assert entered.status_code == 201 and entered.json()["state"] == "awaiting_approval"
