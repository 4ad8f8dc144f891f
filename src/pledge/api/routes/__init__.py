"""The API's routes, one module per area; `ROUTERS` lists them in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter

from pledge.api.routes import (
    audit,
    consent,
    consent_import,
    docs,
    health,
    keys,
    manifest,
    metrics,
    notices,
    preferences,
    privacy,
    privacy_download,
    privacy_requests,
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
    privacy_requests.router,
    privacy_download.router,
    requests.router,
    consent.router,
    consent_import.router,
    programs.router,
    preferences.router,
    docs.router,
)

#: Routes whose body may exceed the API-wide limit, with their own (they stream and parse
#: the body as it arrives): (method, path) → bytes.
LARGER_BODIES: dict[tuple[str, str], int] = {
    ("POST", consent_import.PATH): consent_import.MAX_IMPORT_BYTES,
}
