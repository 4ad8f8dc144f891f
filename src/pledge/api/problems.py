"""Errors as RFC 9457 problem documents (`application/problem+json`).

Every error the API returns has the same shape: type, title, status, detail, and for invalid
bodies a list of `errors` naming where (`pointer`) and why. Internal errors never leak details.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pledge.errors import ConfigError, NotFoundError, PledgeError
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
    422: "Invalid request",
    429: "Too many requests",
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

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return problem_response(request, 404, "Not found", str(exc))

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

    @app.exception_handler(ConfigError)
    async def _unavailable(request: Request, exc: ConfigError) -> JSONResponse:
        log.error("service unavailable: %s", exc)
        return problem_response(request, 503, "Service unavailable", "Try again later.")

    @app.exception_handler(PledgeError)
    async def _pledge(request: Request, exc: PledgeError) -> JSONResponse:
        return problem_response(request, 400, "Bad request", str(exc))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "Internal error", "The error has been logged.")
