"""The FastAPI application: `build_app(installation)` builds one service instance.

Nothing here is global: tests build as many apps as they like, each with its own store,
manifest holder, rate limiter and metrics (`create_app(settings, store, holder)` assembles
the installation for them). `pledge serve` builds one per process from its installation
(`pledge.runtime`) and runs it with uvicorn. While it runs, a change feed
(`pledge.api.changes`) keeps its caches in step with what other processes write, and the
hot-path routes are answered by lean ASGI handlers before the FastAPI stack
(`pledge.api.fastpath`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from pledge import __version__
from pledge.api import problems
from pledge.api.auth import PERMISSION_KEY, PUBLIC_KEY
from pledge.api.changes import ChangeFeed, KeyRevocations
from pledge.api.fastpath import LeanRoutes
from pledge.api.metrics import MetricsMiddleware
from pledge.api.middleware import BodyLimit, SecurityHeaders
from pledge.api.pages import NoticePages
from pledge.api.ratelimit import RateLimiter
from pledge.api.routes import LARGER_BODIES, ROUTERS
from pledge.api.settings import ApiSettings
from pledge.api.state import AppState
from pledge.config import Settings
from pledge.consent.service import service_for
from pledge.manifest_holder import ManifestHolder
from pledge.requests.preflight import Monitor
from pledge.runtime.installation import Installation
from pledge.runtime.workers import load_handler_modules
from pledge.store.db import Store

log = logging.getLogger("pledge.api")

DESCRIPTION = """\
Pledge's HTTP API. Routes under `/v1` need an API key (`Authorization: Bearer plg_…` or
`X-API-Key: plg_…`) whose role has the permission the operation names in
`x-pledge-permission`; operations marked `x-pledge-public` need none and are rate limited per
client address. Errors are RFC 9457 problem documents (`application/problem+json`).
"""


class PledgeAPI(FastAPI):
    """FastAPI, with the lean routes tried first (`pledge.api.fastpath`)."""

    lean: LeanRoutes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lean = self.lean
        if lean is not None and scope["type"] == "http" and await lean.handle(scope, receive, send):
            return
        await super().__call__(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """FastAPI's document, with the problem responses every operation may give."""
        if self.openapi_schema is None:
            self.openapi_schema = problems.declare_problems(super().openapi())
        return self.openapi_schema


def create_app(
    settings: Settings,
    store: Store,
    holder: ManifestHolder,
    *,
    start_worker: bool = False,
    api_settings: ApiSettings | None = None,
    access_log: bool = False,
    lean_routes: bool = True,
    limiter: RateLimiter | None = None,
    preflight: bool = False,
) -> PledgeAPI:
    """`build_app` over an installation of these parts (tests build their parts themselves)."""
    return build_app(
        Installation(settings, store, holder),
        start_worker=start_worker,
        api_settings=api_settings,
        access_log=access_log,
        lean_routes=lean_routes,
        limiter=limiter,
        preflight=preflight,
    )


def build_app(
    installation: Installation,
    *,
    start_worker: bool = False,
    api_settings: ApiSettings | None = None,
    access_log: bool = False,
    lean_routes: bool = True,
    limiter: RateLimiter | None = None,
    preflight: bool = False,
) -> PledgeAPI:
    """A service of `installation`, serving the manifest its holder has; with an embedded
    worker of the same installation when `start_worker`.

    `lean_routes=False` answers every route through the FastAPI stack: the reference the
    lean routes are tested against. `limiter`: the public routes' rate limiter, when several
    processes share one (default: this process's own). `preflight`: check the datasets against
    the databases in the background (`pledge serve`), problems on /health.
    """
    api = api_settings or ApiSettings()
    state = AppState(
        installation=installation,
        api=api,
        limiter=limiter or RateLimiter(api.public_rate, api.public_burst),
        start_worker=start_worker,
        preflight=Monitor(installation.holder) if preflight and installation.holder else None,
    )
    store, holder = state.store, state.holder

    feed = ChangeFeed(store, [service_for(store), KeyRevocations(state.key_cache)])

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        feed.start()
        if state.preflight is not None:  # in the background: never delays start-up
            state.preflight.start()
        if start_worker:
            load_handler_modules()
            state.worker = installation.worker_thread()
            state.worker.start()
            log.info("embedded worker started")
        try:
            yield
        finally:
            if state.worker is not None:
                state.worker.stop()
                log.info("embedded worker stopped")
            feed.stop()
            if state.preflight is not None:
                state.preflight.stop()

    app = PledgeAPI(
        title="Pledge",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=None,  # served by routes/docs.py, rate limited like every public route
        redirect_slashes=False,  # a redirect would echo the Host header; answer 404 instead
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.pledge = state
    app.state.notice_pages = NoticePages(holder)
    problems.install(app)  # StoreError: 503 with Retry-After and an error_id, by its status

    for router in ROUTERS:
        app.include_router(router)
    _check_declarations(ROUTERS)

    if api.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api.cors_origin_list,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(BodyLimit, max_bytes=api.max_body_bytes, larger=LARGER_BODIES)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, access_log=access_log)
    app.add_middleware(SecurityHeaders)
    if lean_routes:
        app.lean = LeanRoutes(app, state, access_log=access_log)
    return app


def _check_declarations(routers: Iterable[APIRouter]) -> None:
    """Refuse to build an app with a route that says neither its permission nor public.

    Walks the routers, not `app.routes`: FastAPI lists included routers there, not routes.
    """
    for route in (r for router in routers for r in router.routes):
        if not isinstance(route, APIRoute):
            continue
        extra = route.openapi_extra or {}
        if (PERMISSION_KEY in extra) == bool(extra.get(PUBLIC_KEY)):
            raise RuntimeError(
                f"route {route.path} must declare exactly one of guard(permission) or public()"
            )
