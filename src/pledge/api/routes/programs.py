"""Programme participation (P-S6): join or leave per organisation or installation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from pledge.api.auth import actor, guard
from pledge.api.state import state_of
from pledge.consent.programs import Scope
from pledge.consent.service import service_for
from pledge.errors import NotFoundError
from pledge.policy import applicable_jurisdiction, programme_default

router = APIRouter(tags=["programmes"])
_ID = Path(min_length=1, max_length=64)


class ParticipationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["organisation", "installation"]
    id: str = Field(min_length=1, max_length=200, description="Organisation or installation id")
    action: Literal["join", "leave"]


@router.post(
    "/v1/programs/{programme}/participation",
    status_code=201,
    summary="Join or leave a programme for an organisation or installation (audited)",
    **guard("consent:write"),
)
async def set_participation(
    request: Request, programme: Annotated[str, _ID], body: ParticipationIn
) -> dict[str, Any]:
    state = state_of(request)
    manifest = state.holder.manifest
    if programme not in manifest.programs:
        raise NotFoundError(f"no programme {programme!r} in the manifest")
    who = actor(request)
    row = await run_in_threadpool(
        service_for(state.store).set_participation,
        manifest,
        programme,
        body.scope,
        body.id,
        body.action == "join",
        who,
    )
    return {
        "id": row,
        "programme": programme,
        "scope": body.scope,
        "scope_id": body.id,
        "joined": body.action == "join",
    }


@router.get(
    "/v1/programs/{programme}/participation",
    summary="Whether an organisation or installation takes part (explicitly or by default)",
    **guard("consent:read"),
)
async def get_participation(
    request: Request,
    programme: Annotated[str, _ID],
    organisation: Annotated[str | None, Query(max_length=200)] = None,
    installation: Annotated[str | None, Query(max_length=200)] = None,
    jurisdiction: Annotated[str, Query(max_length=16)] = "global",
) -> dict[str, Any]:
    state = state_of(request)
    manifest = state.holder.manifest
    if programme not in manifest.programs:
        raise NotFoundError(f"no programme {programme!r} in the manifest")
    scope = Scope(organisation, installation)
    explicit = await run_in_threadpool(service_for(state.store).programme_choice, programme, scope)
    where = applicable_jurisdiction(manifest, jurisdiction)
    default = programme_default(manifest, programme, where)
    return {
        "programme": programme,
        "jurisdiction": where,
        "default": "opt_out" if default else "opt_in",
        "explicit": explicit,
        "participating": default if explicit is None else explicit,
    }
