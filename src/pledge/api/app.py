"""The FastAPI application: `create_app(settings, store, holder)` builds one service instance.

Nothing here is global: tests build as many apps as they like, each with its own store,
manifest holder, rate limiter and metrics. `pledge serve` builds one and runs it with uvicorn.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from pledge import __version__
from pledge.api import problems
from pledge.api.auth import PERMISSION_KEY, PUBLIC_KEY
from pledge.api.metrics import MetricsMiddleware
from pledge.api.middleware import BodyLimit, SecurityHeaders
from pledge.api.pages import NoticePages
from pledge.api.ratelimit import RateLimiter
from pledge.api.routes import ROUTERS
from pledge.api.settings import ApiSettings
from pledge.api.state import AppState
from pledge.config import Settings
from pledge.manifest_holder import ManifestHolder
from pledge.store.db import Store
from pledge.store.errors import StoreError
from pledge.store.jobs import WorkerThread, load_handler_modules

log = logging.getLogger("pledge.api")

DESCRIPTION = """\
Pledge's HTTP API. Routes under `/v1` need an API key (`Authorization: Bearer plg_…` or
`X-API-Key: plg_…`) whose role has the permission the operation names in
`x-pledge-permission`; operations marked `x-pledge-public` need none and are rate limited per
client address. Errors are RFC 9457 problem documents (`application/problem+json`).
"""


def create_app(
    settings: Settings,
    store: Store,
    holder: ManifestHolder,
    *,
    start_worker: bool = False,
    api_settings: ApiSettings | None = None,
    access_log: bool = False,
) -> FastAPI:
    """A service over `store` serving the manifest `holder` has; with an embedded worker."""
    api = api_settings or ApiSettings()
    state = AppState(
        settings=settings,
        api=api,
        store=store,
        holder=holder,
        limiter=RateLimiter(api.public_rate, api.public_burst),
        start_worker=start_worker,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_worker:
            load_handler_modules()
            state.worker = WorkerThread(store)
            state.worker.start()
            log.info("embedded worker started")
        try:
            yield
        finally:
            if state.worker is not None:
                state.worker.stop()
                log.info("embedded worker stopped")

    app = FastAPI(
        title="Pledge",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=None,  # served by routes/docs.py, rate limited like every public route
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.pledge = state
    app.state.notice_pages = NoticePages(holder)
    problems.install(app)

    @app.exception_handler(StoreError)
    async def _store_unavailable(request: Request, exc: StoreError) -> JSONResponse:
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return problems.problem_response(
            request,
            503,
            "Service unavailable",
            "The database is unavailable; nothing was changed. Try again shortly.",
            headers={"Retry-After": "5"},
        )

    for router in ROUTERS:
        app.include_router(router)
    _check_declarations(app)

    if api.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api.cors_origin_list,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(BodyLimit, max_bytes=api.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, access_log=access_log)
    app.add_middleware(SecurityHeaders)
    return app


def _check_declarations(app: FastAPI) -> None:
    """Refuse to build an app with a route that says neither its permission nor public."""
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        extra = route.openapi_extra or {}
        if (PERMISSION_KEY in extra) == bool(extra.get(PUBLIC_KEY)):
            raise RuntimeError(
                f"route {route.path} must declare exactly one of guard(permission) or public()"
            )
