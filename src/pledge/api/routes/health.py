"""GET /health: is the service able to work (database reachable and migrated, the embedded
worker alive, jobs not failing for good)? It says why not in `problems`.

Only a database problem answers 503 (the instance cannot serve); a worker problem answers 200
with `degraded`, since the pages and the API still work while requests wait.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from pledge import __version__
from pledge.api.auth import public
from pledge.api.schemas import Health
from pledge.api.service import FAILED_JOBS_WINDOW, DatabaseStatus
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
    worker = state.worker_state()
    problems = _problems(db, worker)
    if state.preflight is not None:
        problems += state.preflight.problems()
    body = Health(
        status="unavailable" if not db.ok else "degraded" if problems else "ok",
        version=__version__,
        database=db.detail,
        manifest_digest=state.holder.manifest.digest,
        manifest_loaded_at=state.holder.loaded_at,
        worker=worker,
        problems=problems,
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=200 if db.ok else 503,
        headers={"Cache-Control": "no-store"},
    )


def _problems(db: DatabaseStatus, worker: str) -> list[str]:
    """Why requests are not being carried out, in words an operator can act on."""
    problems = []
    if not db.ok:
        problems.append(f"the database is {db.detail}: nothing can be read or run")
    if worker == "stopped":
        problems.append("the embedded job worker has stopped: restart the service")
    if db.failed_jobs:
        hours = FAILED_JOBS_WINDOW.total_seconds() / 3600
        problems.append(
            f"{db.failed_jobs} job(s) failed for good in the last {hours:g} hour(s): "
            "see `pledge requests list --state failed` and the log"
        )
    return problems
