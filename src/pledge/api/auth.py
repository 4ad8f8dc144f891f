"""Who is calling: API keys in `Authorization: Bearer plg_…` or `X-API-Key`, checked per route.

Every route declares what it needs with `**guard("permission")` or `**public()`. Both put the
declaration into the route's OpenAPI operation (`x-pledge-permission` / `x-pledge-public`), so
the document says who may call what, and a test walks every route against `PERMISSIONS`.
Public routes are rate limited per client address.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from pledge import apikeys
from pledge.api.permissions import PERMISSIONS, roles_with
from pledge.api.problems import Problem
from pledge.api.schemas import ProblemDocument
from pledge.api.state import AppState, state_of
from pledge.apikeys import KeyRecord

log = logging.getLogger("pledge.api.auth")

PERMISSION_KEY = "x-pledge-permission"
PUBLIC_KEY = "x-pledge-public"
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer plg_…`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: plg_…`")
_MAX_KEY_LENGTH = 200
_CHALLENGE = 'Bearer realm="pledge"'


def _unauthorized(detail: str, error: str | None) -> Problem:
    challenge = f'{_CHALLENGE}, error="{error}"' if error else _CHALLENGE
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


KeyCheck = Callable[
    [AppState, HTTPAuthorizationCredentials | None, str | None], Awaitable[KeyRecord]
]


def key_check(permission: str) -> KeyCheck:
    """The key check for `permission` (401 / 403 problems), from what the request presented.

    `require` wraps it as a FastAPI dependency; the lean routes (`pledge.api.fastpath`) call it
    directly, so both paths admit exactly the same callers.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}; add it to api/permissions.py")
    allowed = roles_with(permission)

    async def check(
        state: AppState, bearer: HTTPAuthorizationCredentials | None, header_key: str | None
    ) -> KeyRecord:
        secret = bearer.credentials if bearer is not None else header_key
        if not secret:
            raise _unauthorized(
                "This route needs an API key: send `Authorization: Bearer plg_…` or "
                "`X-API-Key: plg_…` (create one with `pledge keys create`).",
                None,
            )
        record = await known_key(state, secret.strip())
        if record is None:
            raise _unauthorized("The API key is unknown or revoked.", "invalid_token")
        if record.role not in allowed:
            log.info("key %s (%s) refused %s", record.id, record.role, permission)
            raise Problem(
                403,
                "Forbidden",
                f"The role '{record.role}' does not have the permission '{permission}'.",
                permission=permission,
            )
        return record

    return check


async def presented(request: Request) -> tuple[HTTPAuthorizationCredentials | None, str | None]:
    """The bearer credentials and `X-API-Key` of a request, parsed as the OpenAPI schemes say."""
    return await _bearer(request), await _api_key(request)


async def known_key(state: AppState, secret: str) -> KeyRecord | None:
    """The active key for `secret`: from the cache, else a database read in a thread."""
    cache = state.key_cache
    record = cache.get(secret)
    if record is None:
        token = cache.token()
        record = await run_in_threadpool(_verify, state, secret)
        if record is not None:
            cache.put(secret, record, token)
    return record


def require(permission: str) -> Callable[..., Awaitable[KeyRecord]]:
    """A dependency that admits callers whose key's role has `permission` (401 / 403 else)."""
    check = key_check(permission)

    async def dependency(
        request: Request,
        bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
        header_key: str | None = Depends(_api_key),
    ) -> KeyRecord:
        record = await check(state_of(request), bearer, header_key)
        request.state.key = record
        return record

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency


def _verify(state: AppState, secret: str) -> KeyRecord | None:
    if len(secret) > _MAX_KEY_LENGTH or not secret.isascii():
        return None
    with state.store.reader() as session:
        return apikeys.verify(session, secret)


def caller(request: Request) -> KeyRecord:
    """The key of the current request (after `guard`)."""
    record = getattr(request.state, "key", None)
    assert isinstance(record, KeyRecord), "caller() used on a route without guard()"
    return record


def actor(request: Request) -> str:
    """How the caller appears in the audit log: the key's public id, never its secret."""
    return f"api:{caller(request).id}"


async def rate_limited(request: Request) -> None:
    """Take one token from the caller's bucket (429 with Retry-After when empty).

    `async` on purpose: it only takes a lock for microseconds, so it runs on the event loop
    instead of costing a hop to the thread pool on every public request.
    """
    state_of(request).limiter.check(request)


_PROBLEM = {"model": ProblemDocument}


Responses = dict[int | str, dict[str, Any]]


def guard(permission: str, responses: Responses | None = None) -> dict[str, Any]:
    """Route options for a route that needs `permission`: `@router.get(path, **guard(p))`."""
    return {
        "dependencies": [Depends(require(permission))],
        "openapi_extra": {PERMISSION_KEY: permission},
        "responses": {
            401: {**_PROBLEM, "description": "No API key, or an unknown or revoked one"},
            403: {**_PROBLEM, "description": f"The key's role lacks `{permission}`"},
            **(responses or {}),
        },
    }


def public(responses: Responses | None = None) -> dict[str, Any]:
    """Route options for a public route, rate limited per client address."""
    return {
        "openapi_extra": {PUBLIC_KEY: True},
        "dependencies": [Depends(rate_limited)],
        "responses": {
            429: {**_PROBLEM, "description": "Too many requests"},
            **(responses or {}),
        },
    }
