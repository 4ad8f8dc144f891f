"""The API's routes, one module per area; `ROUTERS` lists them in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter

from pledge.api.routes import (
    audit,
    consent,
    docs,
    health,
    keys,
    manifest,
    metrics,
    notices,
    preferences,
    privacy,
    programs,
    requests,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    metrics.router,
    audit.router,
    keys.router,
    manifest.router,
    notices.router,
    privacy.router,
    requests.router,
    consent.router,
    programs.router,
    preferences.router,
    docs.router,
)
