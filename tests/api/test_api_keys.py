"""Administrators manage keys over the API; secrets are shown once and revocation is immediate."""

from __future__ import annotations

from apisupport import Api


def test_create_use_list_revoke(api: Api) -> None:
    admin = api.auth("admin")
    created = api.client.post("/v1/keys", json={"name": " ci ", "role": "service"}, headers=admin)
    assert created.status_code == 201
    body = created.json()
    secret, key = body["secret"], body["key"]
    assert secret.startswith(f"plg_{key['id']}_")
    assert key["name"] == "ci"
    assert key["active"] is True
    assert key["created_by"].startswith("api:")

    use = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/v1/manifest", headers=use).status_code == 200
    listed = api.client.get("/v1/keys", headers=admin).json()
    assert key["id"] in [k["id"] for k in listed]
    assert all("secret" not in k for k in listed)
    assert secret not in api.client.get("/v1/keys", headers=admin).text

    revoked = api.client.delete(f"/v1/keys/{key['id']}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    assert api.client.get("/v1/manifest", headers=use).status_code == 401
    again = api.client.delete(f"/v1/keys/{key['id']}", headers=admin)
    assert again.status_code == 200

    actions = [
        e["action"]
        for e in api.client.get("/v1/audit?object_type=api_key", headers=admin).json()["events"]
    ]
    assert actions.count("api_key.created") == 7  # 6 made by the fixture, 1 here
    assert actions.count("api_key.revoked") == 2  # the fixture's and this one (once)


def test_secrets_never_reach_the_audit_log(api: Api) -> None:
    created = api.client.post(
        "/v1/keys", json={"name": "x", "role": "auditor"}, headers=api.auth("admin")
    ).json()
    export = api.client.get("/v1/audit/export", headers=api.auth("admin")).text
    assert created["secret"] not in export
    assert created["secret"].split("_", 2)[2] not in export  # the random part
