"""API keys for administrators: create (secret shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from pledge import apikeys
from pledge.api.auth import actor, guard
from pledge.api.schemas import KeyCreate, KeyCreated, KeyOut
from pledge.api.state import state_of
from pledge.apikeys import KeyRecord

router = APIRouter(prefix="/v1/keys", tags=["keys"])


def _out(record: KeyRecord) -> KeyOut:
    return KeyOut(
        id=record.id,
        name=record.name,
        role=record.role,
        created_at=record.created_at,
        created_by=record.created_by,
        revoked_at=record.revoked_at,
        active=record.active,
    )


@router.get(
    "",
    response_model=list[KeyOut],
    summary="Every API key (never a secret)",
    **guard("keys:manage"),
)
def list_keys(request: Request) -> list[KeyOut]:
    with state_of(request).store.reader() as session:
        return [_out(r) for r in apikeys.list_keys(session)]


@router.post(
    "",
    response_model=KeyCreated,
    status_code=201,
    summary="Create an API key; its secret is in this answer only",
    **guard("keys:manage"),
)
def create_key(request: Request, body: KeyCreate) -> KeyCreated:
    with state_of(request).store.transaction() as session:
        record, secret = apikeys.create(session, body.name, body.role, actor=actor(request))
    return KeyCreated(key=_out(record), secret=secret)


@router.delete(
    "/{key_id}",
    response_model=KeyOut,
    summary="Revoke an API key (again: no change)",
    **guard("keys:manage", responses={404: {"description": "No such key"}}),
)
def revoke_key(
    request: Request,
    key_id: Annotated[str, Path(min_length=1, max_length=16, pattern=r"^[a-z2-7]+$")],
) -> KeyOut:
    state = state_of(request)
    with state.store.transaction() as session:
        record = apikeys.revoke(session, key_id, actor=actor(request))
    state.key_cache.forget(record.id)
    return _out(record)
