"""Lean routes: the product's hot-path routes, answered before the FastAPI stack.

A product asks `GET /v1/consent/decision` before it acts on a choice, thousands of times a
second. Through FastAPI the routing over every route, dependency solving, parameter
validation and the middleware layers cost many times the decision itself (the profile is in
docs/decisions.md). A lean route is a plain ASGI function for exactly one path that does
what the stack would do: the same key check (`auth.key_check`), the same answer
(`routes.consent.decision_json`), the security headers, metrics and access log, and the app's
own exception handlers for every problem. Whatever it is not sure to answer exactly as the
stack would (another method, a body, a parameter out of bounds, a CORS request, a root
path) it hands to the stack untouched, so the FastAPI route stays the reference and its
OpenAPI operation the documentation; a test compares the two answer by answer.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from pledge.api.auth import PERMISSION_KEY, key_check, presented
from pledge.api.metrics import account
from pledge.api.middleware import secure, secured
from pledge.api.routes import consent
from pledge.api.routes.consent import (
    DECIDE_PERMISSION,
    DECISION_LIMITS,
    DecisionQuery,
    decision_json,
)
from pledge.api.state import AppState

DECISION_PATH = "/v1/consent/decision"
#: A lean route answers (True) or leaves the request to the stack (False) before doing anything.
LeanRoute = Callable[[Scope, Receive, Send], Awaitable[bool]]
Answer = Callable[[Request], Awaitable[bytes]]

_JSON_TYPE = (b"content-type", b"application/json")
_SECURITY = tuple(secure(()))  # what SecurityHeaders adds to a response that sets none
# pydantic's lax bool parsing of query strings, which the FastAPI route applies to `gpc`.
_BOOLS = {
    **dict.fromkeys(("1", "on", "t", "true", "y", "yes"), True),
    **dict.fromkeys(("0", "off", "f", "false", "n", "no"), False),
}


class LeanRoutes:
    """The lean routes of one app, by path (see the module's doc)."""

    def __init__(self, app: FastAPI, state: AppState, *, access_log: bool = False) -> None:
        self.app = app
        self.state = state
        self.access_log = access_log
        self.cors = bool(state.api.cors_origin_list)
        self._may_decide = key_check(_declared(consent.router, DECISION_PATH, DECIDE_PERMISSION))
        self.routes: dict[str, LeanRoute] = {DECISION_PATH: self.decision}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer an HTTP request if a lean route takes it; False leaves it to the stack."""
        route = self.routes.get(scope["path"])
        return route is not None and await route(scope, receive, send)

    # -- GET /v1/consent/decision -----------------------------------------------------------

    async def decision(self, scope: Scope, receive: Receive, send: Send) -> bool:
        if scope["method"] != "GET" or scope.get("root_path") or not self._plain(scope):
            return False
        query = decision_query(scope["query_string"])
        if query is None:
            return False

        async def answer(request: Request) -> bytes:
            await self._may_decide(self.state, *await presented(request))
            return await decision_json(self.state, query)

        await self._respond(scope, receive, send, DECISION_PATH, answer)
        return True

    # -- shared -----------------------------------------------------------------------------

    def _plain(self, scope: Scope) -> bool:
        """No request body (nothing for the body limit to judge) and no CORS to apply."""
        for name, value in scope["headers"]:
            if name == b"content-length" and value != b"0":
                return False
            if name == b"transfer-encoding" or (self.cors and name == b"origin"):
                return False
        return True

    async def _respond(
        self, scope: Scope, receive: Receive, send: Send, template: str, answer: Answer
    ) -> None:
        """Send `answer`'s JSON (or the app's problem for what it raised); count it."""
        start = time.perf_counter()
        status = 500
        request = Request(scope, receive)
        try:
            try:
                body = await answer(request)
            except Exception as exc:
                problem = await self._error_response(request, exc)
                status = problem.status_code
                await problem(scope, receive, secured(send))
                return
            status = 200
            length = (b"content-length", str(len(body)).encode())
            headers = [length, _JSON_TYPE, *_SECURITY]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            account(self.state.metrics, scope, template, status, start, self.access_log)

    async def _error_response(self, request: Request, exc: Exception) -> Response:
        """The answer the app's exception handlers give for `exc` (as Starlette looks them up)."""
        handlers = self.app.exception_handlers
        handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
        if handler is None:
            raise exc
        response = handler(request, exc)
        if inspect.isawaitable(response):
            response = await response
        assert isinstance(response, Response)
        return response


def _declared(router: APIRouter, path: str, permission: str) -> str:
    """`permission`, if `router` declares `GET path` with exactly that guard (else refuse).

    A lean route stands in for a declared route: it must not drift from what the OpenAPI
    document promises, nor exist without the route the permission test walks.
    """
    declared = {
        (route.openapi_extra or {}).get(PERMISSION_KEY)
        for route in router.routes
        if isinstance(route, APIRoute) and route.path == path and "GET" in (route.methods or ())
    }
    if declared == {permission}:
        return permission
    raise RuntimeError(f"the lean route {path} needs GET {path} declared with {permission}")


def decision_query(raw: bytes) -> DecisionQuery | None:
    """The decision's parameters if FastAPI would accept them as they are, else None.

    Parsed as Starlette parses query strings (the last of repeated names wins); None for
    anything the route would refuse, so the stack answers with its own 422.
    """
    values = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
    subject, purpose = values.get("subject"), values.get("purpose")
    if subject is None or purpose is None:
        return None
    for name, limit in DECISION_LIMITS.items():
        value = values.get(name)
        if value is not None and len(value) > limit:
            return None
    gpc = _BOOLS.get(values.get("gpc", "false").lower())
    if gpc is None:
        return None
    return DecisionQuery(
        subject,
        purpose,
        values.get("jurisdiction"),
        values.get("organisation"),
        values.get("installation"),
        gpc,
    )
