"""GET /health: is the service able to work (database reachable and migrated)?"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from pledge import __version__
from pledge.api.auth import public
from pledge.api.schemas import Health
from pledge.api.state import state_of

router = APIRouter(tags=["service"])


@router.get(
    "/health",
    response_model=Health,
    summary="Whether the service can work: database, manifest and worker",
    **public(responses={503: {"model": Health, "description": "The database is unavailable"}}),
)
async def health(request: Request) -> JSONResponse:
    state = state_of(request)
    db = state.health.fresh()
    if db is None:  # only then a database read, in a thread
        db = await run_in_threadpool(state.health.status)
    body = Health(
        status="ok" if db.ok else "unavailable",
        version=__version__,
        database=db.detail,
        manifest_digest=state.holder.manifest.digest,
        manifest_loaded_at=state.holder.loaded_at,
        worker=state.worker_state(),
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=200 if db.ok else 503,
        headers={"Cache-Control": "no-store"},
    )
