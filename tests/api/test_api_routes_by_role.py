"""Every route of the OpenAPI document, called with no key, each role's key and a revoked key.

Public routes answer anyone; every other route answers 401 without a (valid) key, 403 to a
role the permission table does not give the route's permission, and neither to a role it does.
"""

from __future__ import annotations

import re
from typing import Any

from apisupport import Api
from fastapi.routing import APIRoute

from pledge.api.auth import PERMISSION_KEY, PUBLIC_KEY
from pledge.api.permissions import PERMISSIONS, ROLES

#: Values for path parameters: an existing notice, a key id that does not exist.
PATH_VALUES = {
    "notice_id": "general",
    "key_id": "aaaaaaaaaaaa",
    "request_id": "no-such-request",
    "token": "x" * 20,
    "subject": "me",
    "programme": "ceip",
}
BODIES = {("post", "/v1/keys"): {"name": "made by the route walk", "role": "service"}}


def _operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    ops = []
    for path, item in api.app.openapi()["paths"].items():
        for method, op in item.items():
            ops.append((method, path, op))
    return ops


def _call(api: Api, method: str, path: str, headers: dict[str, str]) -> int:
    url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
    body = BODIES.get((method, path))
    response = api.client.request(method.upper(), url, headers=headers, json=body)
    return response.status_code


def test_every_route_declares_a_permission_or_public(api: Api) -> None:
    ops = _operations(api)
    assert len(ops) >= 10
    for method, path, op in ops:
        declared = [k for k in (PERMISSION_KEY, PUBLIC_KEY) if k in op]
        assert len(declared) == 1, f"{method.upper()} {path} declares {declared}"
        if PERMISSION_KEY in op:
            assert op[PERMISSION_KEY] in PERMISSIONS, f"{path}: unknown permission"
            assert op.get("security"), f"{path}: the OpenAPI operation names no security scheme"
        else:
            assert op[PUBLIC_KEY] is True
    # Routes left out of the document (the document itself, /docs) declare too.
    for route in api.app.routes:
        if isinstance(route, APIRoute):
            extra = route.openapi_extra or {}
            assert (PERMISSION_KEY in extra) != bool(extra.get(PUBLIC_KEY)), route.path


def test_routes_by_role(api_any_db: Api) -> None:
    api = api_any_db
    checked = 0
    for method, path, op in _operations(api):
        where = f"{method.upper()} {path}"
        if op.get(PUBLIC_KEY):
            assert _call(api, method, path, {}) not in (401, 403), where
            continue
        permission = op[PERMISSION_KEY]
        allowed = PERMISSIONS[permission][1]
        assert _call(api, method, path, {}) == 401, f"{where} without a key"
        revoked = {"Authorization": f"Bearer {api.revoked}"}
        assert _call(api, method, path, revoked) == 401, f"{where} with a revoked key"
        garbage = {"X-API-Key": "plg_nosuchkey_notasecret"}
        assert _call(api, method, path, garbage) == 401, f"{where} with an unknown key"
        for role in ROLES:
            status = _call(api, method, path, api.auth(role))
            if role in allowed:
                assert status not in (401, 403), f"{where} as {role}: {status}"
            else:
                assert status == 403, f"{where} as {role} (lacks {permission}): {status}"
            checked += 1
    assert checked >= 5 * 10


def test_x_api_key_header_works_like_bearer(api: Api) -> None:
    response = api.client.get("/v1/audit", headers={"X-API-Key": api.keys["auditor"]})
    assert response.status_code == 200
