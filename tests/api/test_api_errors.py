"""Errors are RFC 9457 problem documents; headers, body limits, rate limits and CORS."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apisupport import Api, build_api

from pledge.api.settings import ApiSettings
from pledge.connectors.base import ConnectorError
from pledge.errors import NotFoundError, PlanError, PledgeError
from pledge.requests.service import RequestError
from pledge.store import audit
from pledge.store.db import Store
from pledge.store.errors import (
    IdentityError,
    LeaseLostError,
    QueryError,
    ShreddedError,
    StoreError,
    VaultError,
)

PROBLEM = "application/problem+json"


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert str(body["type"]).startswith("https://")
    assert body["title"]
    return dict(body)


def test_401_names_the_scheme(api: Api) -> None:
    response = api.client.get("/v1/audit")
    body = _problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "API key" in str(body["detail"])
    wrong = api.client.get("/v1/audit", headers={"Authorization": "Bearer plg_x_y"})
    _problem(wrong, 401)
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]


def test_401_for_a_revoked_key_and_non_bearer_schemes(api: Api) -> None:
    revoked = api.client.get("/v1/audit", headers={"Authorization": f"Bearer {api.revoked}"})
    _problem(revoked, 401)
    basic = api.client.get("/v1/audit", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    _problem(basic, 401)
    huge = api.client.get("/v1/audit", headers={"X-API-Key": "plg_" + "a" * 5000})
    _problem(huge, 401)


def test_403_names_the_missing_permission(api: Api) -> None:
    body = _problem(api.client.get("/v1/keys", headers=api.auth("auditor")), 403)
    assert body["permission"] == "keys:manage"
    assert "auditor" in str(body["detail"])


def test_404_for_unknown_notice_and_route(api: Api) -> None:
    body = _problem(api.client.get("/notices/no-such-notice"), 404)
    assert "no-such-notice" in str(body["detail"])
    _problem(api.client.get("/nowhere"), 404)
    _problem(api.client.delete("/v1/keys/aaaaaaaaaaaa", headers=api.auth("admin")), 404)


def test_405_is_a_problem_too(api: Api) -> None:
    _problem(api.client.put("/health"), 405)


def test_405_allow_lists_every_method_of_the_path(api: Api) -> None:
    """/v1/keys has a GET and a POST route; Starlette named only the first one's."""
    response = api.client.put("/v1/keys", headers=api.auth("admin"))
    _problem(response, 405)
    assert response.headers["allow"] == "GET, POST"


def test_trailing_slash_is_a_404_not_a_redirect_echoing_the_host(api: Api) -> None:
    response = api.client.get(
        "/v1/keys/", headers={**api.auth("admin"), "Host": "evil.example"}, follow_redirects=False
    )
    _problem(response, 404)
    assert "location" not in response.headers
    assert "evil.example" not in response.text


def test_openapi_document_is_valid_and_declares_problem_responses(api: Api) -> None:
    from openapi_spec_validator import validate

    document = api.client.get("/openapi.json").json()
    validate(document)
    assert document["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert len(operations) >= 10
    for operation in operations:
        for status in ("400", "401", "403", "404", "413", "422"):
            content = operation["responses"][status]["content"]
            assert PROBLEM in content, (operation["operationId"], status)


def test_413_for_a_body_over_the_limit(api: Api) -> None:
    big = b'{"name": "' + b"x" * 2_000_000 + b'", "role": "service"}'
    response = api.client.post(
        "/v1/keys",
        content=big,
        headers={**api.auth("admin"), "Content-Type": "application/json"},
    )
    _problem(response, 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        for _ in range(40):
            yield b"x" * 65536

    streamed = api.client.post(
        "/v1/keys",
        content=chunks(),
        headers={**api.auth("admin"), "Content-Type": "application/json"},
    )
    _problem(streamed, 413)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "ok", "role": "superuser"}, "/role"),
        ({"name": "", "role": "service"}, "/name"),
        ({"name": "ok", "role": "service", "extra": 1}, "/extra"),
        ({"name": 5, "role": "service"}, "/name"),
        ({"name": "bell\u0007", "role": "service"}, "/name"),
        ({"name": "\u202eevil", "role": "service"}, "/name"),  # a direction override
        ({"name": "nul\u0000", "role": "service"}, "/name"),
        ({"role": "service"}, "/name"),
    ],
)
def test_422_says_where_and_why(api: Api, body: dict[str, object], pointer: str) -> None:
    response = api.client.post("/v1/keys", json=body, headers=api.auth("admin"))
    problem = _problem(response, 422)
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert pointer in [e["pointer"] for e in errors], errors


def test_422_for_malformed_json_and_lone_surrogates(api: Api) -> None:
    headers = {**api.auth("admin"), "Content-Type": "application/json"}
    _problem(api.client.post("/v1/keys", content=b'{"name": ', headers=headers), 422)
    lone = b'{"name": "a\\ud800b", "role": "service"}'
    _problem(api.client.post("/v1/keys", content=lone, headers=headers), 422)
    not_utf8 = b'{"name": "\xff\xfe", "role": "service"}'
    assert api.client.post("/v1/keys", content=not_utf8, headers=headers).status_code in (
        400,
        422,
    )
    with api.store.reader() as session:  # nothing half-made
        from pledge import apikeys

        assert all(k.name.startswith("test ") for k in apikeys.list_keys(session))


def test_422_for_bad_query_values(api: Api) -> None:
    headers = api.auth("auditor")
    _problem(api.client.get("/v1/audit?limit=0", headers=headers), 422)
    _problem(api.client.get("/v1/audit?limit=abc", headers=headers), 422)
    _problem(api.client.get("/v1/audit?cursor=-1", headers=headers), 422)
    _problem(api.client.get("/v1/audit?since=2026-01-01T00:00:00", headers=headers), 422)
    _problem(api.client.get("/v1/audit?since=0001-01-01T00:00:00%2B05:00", headers=headers), 422)
    _problem(api.client.get("/v1/audit?actor=%00", headers=headers), 422)
    _problem(api.client.get("/v1/audit?cursor=9999999999999999999", headers=headers), 422)
    _problem(api.client.get("/v1/audit/export?since=9999999999999999999", headers=headers), 422)


@pytest.fixture
def strict_api(sqlite_store: Store, tmp_path: Path) -> Iterator[Api]:
    yield from build_api(sqlite_store, tmp_path, ApiSettings(public_rate=1, public_burst=3))


def test_429_with_retry_after_on_public_routes(strict_api: Api) -> None:
    statuses = [strict_api.client.get("/health").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    response = strict_api.client.get("/notices/general")
    _problem(response, 429)
    assert int(response.headers["retry-after"]) >= 1


def test_authenticated_routes_are_not_rate_limited_as_public(strict_api: Api) -> None:
    headers = strict_api.auth("auditor")
    statuses = {strict_api.client.get("/v1/audit", headers=headers).status_code for _ in range(8)}
    assert statuses == {200}


def test_security_headers_on_every_kind_of_answer(api: Api) -> None:
    for response in (
        api.client.get("/health"),
        api.client.get("/notices/general"),
        api.client.get("/v1/audit"),
        api.client.get("/nowhere"),
        api.client.post("/v1/keys", content=b"x" * 2_000_000, headers=api.auth("admin")),
    ):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "server" not in headers or "uvicorn" not in headers["server"]


def test_cors_is_off_unless_configured(api: Api, sqlite_store: Store, tmp_path: Path) -> None:
    origin = {"Origin": "https://app.example.com"}
    assert "access-control-allow-origin" not in api.client.get("/health", headers=origin).headers
    preflight = api.client.options(
        "/v1/audit", headers={**origin, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers

    settings = ApiSettings(cors_origins="https://app.example.com", public_rate=100)
    for configured in build_api(sqlite_store, tmp_path / "cors", settings):
        response = configured.client.get("/health", headers=origin)
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
        other = configured.client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# --- errors are classified: the status lives on the error (pledge.errors) ----------------------

SECRET = "master key /srv/pledge/keys/master.key rejected by table vault_keys"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (VaultError(SECRET), 500),
        (PlanError(SECRET, ["dataset shop has no path to users"]), 500),
        (ConnectorError(SECRET, sqlstate="08006"), 503),
        (LeaseLostError(SECRET), 503),
        (StoreError(SECRET), 503),
    ],
)
def test_a_server_fault_answers_with_an_error_id_and_no_internal_text(
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    status: int,
) -> None:
    def fail(*_args: object) -> None:
        raise error

    monkeypatch.setattr(audit, "stored_checkpoints", fail)
    with caplog.at_level(logging.ERROR, logger="pledge.api"):
        response = api.client.get("/v1/audit/checkpoints", headers=api.auth("auditor"))
    body = _problem(response, status)
    error_id = str(body["error_id"])
    assert len(error_id) == 16
    assert "master" not in response.text and "vault_keys" not in response.text
    assert "shop" not in response.text
    assert ("retry-after" in response.headers) == (status == 503)
    logged = [r.getMessage() for r in caplog.records if error_id in r.getMessage()]
    assert len(logged) == 1 and SECRET in logged[0]  # the details are in the log, by id


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("no checkpoint 7; list them at /v1/audit/checkpoints"), 404),
        (QueryError("cursor 7x is not one this API returned"), 400),
        (IdentityError("an e-mail address needs an @"), 422),
        (ShreddedError("the subject's data was erased on request"), 410),
        (RequestError("erasure is not offered in this jurisdiction"), 400),
    ],
)
def test_a_client_fault_keeps_its_4xx_and_message(
    api: Api, monkeypatch: pytest.MonkeyPatch, error: PledgeError, status: int
) -> None:
    def fail(*_args: object) -> None:
        raise error

    monkeypatch.setattr(audit, "stored_checkpoints", fail)
    response = api.client.get("/v1/audit/checkpoints", headers=api.auth("auditor"))
    body = _problem(response, status)
    assert body["detail"] == str(error)
    assert "error_id" not in body


def test_every_error_class_says_whose_fault_it_is() -> None:
    """Each PledgeError subclass Pledge defines has a status; 5xx ones are not client faults."""
    import pledge.consent.import_formats
    import pledge.consent.importer
    import pledge.consent.records
    import pledge.mail.errors
    import pledge.notices.versions
    import pledge.requests.service  # noqa: F401  (defines errors)

    def tree(cls: type[PledgeError]) -> list[type[PledgeError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in tree(sub))]

    classes = tree(PledgeError)
    assert len(classes) >= 20
    for cls in classes:
        assert 400 <= cls.status < 600, cls
    assert not VaultError("x").client_fault and NotFoundError("x").client_fault
    assert ConnectorError.status == 503 and PlanError.status == 500
