"""Reloading: a manifest with errors is refused and the old one stays; a good one is swapped in."""

from __future__ import annotations

from apisupport import Api


def _break(api: Api) -> None:
    text = api.manifest_path.read_text(encoding="utf-8")
    api.manifest_path.write_text(text.replace("languages: [en, nb]", "languages: [en, nb, zz-"))


def test_reload_with_errors_keeps_the_old_manifest(api: Api) -> None:
    before = api.client.get("/v1/manifest", headers=api.auth("auditor")).json()
    assert before["last_reload_error"] is None
    _break(api)
    response = api.client.post("/v1/manifest/reload", headers=api.auth("admin"))
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["findings"], problem
    assert all(f["file"] for f in problem["findings"])
    after = api.client.get("/v1/manifest", headers=api.auth("auditor")).json()
    assert after["digest"] == before["digest"]
    assert after["last_reload_error"]
    # The service keeps serving the old manifest's notices.
    assert api.client.get("/notices/general?lang=nb").status_code == 200


def test_reload_swaps_in_a_good_manifest_and_serves_it(api: Api) -> None:
    old = api.client.get("/notices/general?lang=en")
    old_digest = api.client.get("/health").json()["manifest_digest"]
    text = api.manifest_path.read_text(encoding="utf-8")
    api.manifest_path.write_text(text.replace("Privacy Notice", "Privacy Statement"))
    response = api.client.post("/v1/manifest/reload", headers=api.auth("admin"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    assert body["digest"] != old_digest
    status = api.client.get("/v1/manifest", headers=api.auth("admin")).json()
    assert status["digest"] == body["digest"]
    assert status["last_reload_error"] is None
    new = api.client.get("/notices/general?lang=en")
    assert "Privacy Statement" in new.text
    assert new.headers["etag"] != old.headers["etag"]
    assert api.client.get("/health").json()["manifest_digest"] == body["digest"]


def test_reloads_are_in_the_audit_log(api: Api) -> None:
    _break(api)
    api.client.post("/v1/manifest/reload", headers=api.auth("admin"))
    events = api.client.get("/v1/audit?object_type=manifest", headers=api.auth("auditor")).json()[
        "events"
    ]
    assert [e["action"] for e in events] == ["manifest.reload_refused"]
    assert events[0]["actor"].startswith("api:")
    assert events[0]["details"]["errors"] >= 1


def test_a_broken_file_from_the_start_is_refused(api: Api) -> None:
    api.manifest_path.write_text("pledge: [not, a, manifest\n")
    assert api.client.post("/v1/manifest/reload", headers=api.auth("admin")).status_code == 422
    api.manifest_path.unlink()
    assert api.client.post("/v1/manifest/reload", headers=api.auth("admin")).status_code == 422
    assert api.client.get("/notices/general").status_code == 200
