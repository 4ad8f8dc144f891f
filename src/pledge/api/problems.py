"""Errors as RFC 9457 problem documents (`application/problem+json`).

Every error the API returns has the same shape: type, title, status, detail, and for invalid
bodies a list of `errors` naming where (`pointer`) and why. A `PledgeError` answers with the
status its class declares (`pledge.errors`): a client fault with its message, a server fault
(500, 503) with only an `error_id` that finds the details in the log.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from pledge.errors import PledgeError
from pledge.requests.service import TransitionError

log = logging.getLogger("pledge.api")
PROBLEM_TYPE = "https://pledge.invalid/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.headers = headers
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + (kind or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] == "body" else [str(p) for p in loc]
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    410: "Gone",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def install(app: FastAPI) -> None:
    """Route every error through problem documents."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.title, exc.detail, exc.kind, exc.headers, **exc.extra
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = _TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return problem_response(request, exc.status_code, title, detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"pointer": _pointer(tuple(e.get("loc", ()))), "detail": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return problem_response(
            request,
            422,
            "Invalid request",
            "The request does not match the schema; see errors.",
            "invalid-request",
            errors=errors,
        )

    @app.exception_handler(TransitionError)
    async def _conflict(request: Request, exc: TransitionError) -> JSONResponse:
        # The action is fine, the request's state is not: 409, naming the state it is in.
        return problem_response(
            request,
            409,
            "Conflict",
            str(exc),
            "request-state",
            state=exc.state,
            reference=exc.reference,
        )

    @app.exception_handler(PledgeError)
    async def _pledge(request: Request, exc: PledgeError) -> JSONResponse:
        if exc.client_fault:
            return problem_response(request, exc.status, _TITLES.get(exc.status, "Error"), str(exc))
        return server_fault(request, exc)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return server_fault(request, exc)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path (Starlette names only the first route's).

    Asks each route whether it fully matches the path with each method, so routes inside
    included routers answer too.
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


#: The problem documents every operation may answer with, declared in the OpenAPI document.
PROBLEM_STATUSES = (400, 401, 403, 404, 405, 413, 422, 429, 500, 503)
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem document.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "For invalid input: where (`pointer`) and why (`detail`).",
            "items": {"type": "object"},
        },
        "error_id": {
            "type": "string",
            "description": "For a server fault: the id under which the details were logged.",
        },
    },
}


def asset(media_type: str) -> dict[int | str, dict[str, Any]]:
    """The 200 response of a route that sends a file or its own media type, not JSON.

    Use with `response_class=FileResponse` (or `Response`), so FastAPI declares no JSON.
    """
    return {200: {"content": {media_type: {}}, "description": "The content"}}


def declare_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the problem responses on every operation of an OpenAPI document (in place).

    FastAPI declares a 422 `application/json` validation error; ours are problem documents,
    and so are 400, 401, 403, 404, 405, 413, 429, 500 and 503, which any route may answer.
    """
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    schemas = schema["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            content: dict[str, Any] = {MEDIA_TYPE: {"schema": ref}}
            if any("text/html" in r.get("content", {}) for r in responses.values()):
                content["text/html"] = {"schema": {"type": "string"}}  # a page's form errors
            for status in PROBLEM_STATUSES:
                existing = responses.get(str(status), {})
                responses[str(status)] = {
                    "description": existing.get("description") or _TITLES.get(status, "Error"),
                    "content": content,
                }
    return schema


_SERVER_DETAILS = {
    500: "Something went wrong on our side; the error has been logged. "
    "Quote the error_id when you report it.",
    503: "A service Pledge depends on is unavailable; nothing was changed. "
    "Try again shortly, and quote the error_id if it persists.",
}


def server_fault(request: Request, exc: Exception) -> JSONResponse:
    """500 or 503 with an `error_id`; what went wrong goes only to the log, under that id.

    The caller cannot fix a server fault, and its message may name databases, tables or keys,
    so the problem document carries an id that finds the logged details, nothing more.
    """
    status = exc.status if isinstance(exc, PledgeError) and exc.status >= 500 else 500
    error_id = secrets.token_hex(8)
    log.error(
        "%s on %s %s (error_id %s): %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        error_id,
        exc,
        exc_info=not isinstance(exc, PledgeError) and exc,
    )
    return problem_response(
        request,
        status,
        _TITLES[status if status in _TITLES else 500],
        _SERVER_DETAILS.get(status, _SERVER_DETAILS[500]),
        "internal-error" if status == 500 else "service-unavailable",
        headers={"Retry-After": "5"} if status == 503 else None,
        error_id=error_id,
    )
