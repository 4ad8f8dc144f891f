"""The audit log for auditors: filtered pages, a JSON Lines export, signed checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from pledge.api.auth import guard
from pledge.api.problems import Problem
from pledge.api.schemas import AuditEventOut, AuditPage, CheckpointOut
from pledge.api.service import export_lines
from pledge.api.state import state_of
from pledge.store import audit

router = APIRouter(prefix="/v1/audit", tags=["audit"])
_TEXT = r"^[^\x00-\x1f\x7f]*$"
_MAX_SEQ = 2**63 - 1  # sequence numbers are 64-bit integers in every database


def _utc(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise Problem(
            422, "Invalid request", f"{name} needs a timezone (e.g. 2026-01-31T00:00:00Z)"
        )
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise Problem(422, "Invalid request", f"{name} is out of range") from exc


@router.get(
    "",
    response_model=AuditPage,
    summary="Audit events, oldest first (or newest), filtered, in pages",
    **guard("audit:read"),
)
def list_audit_events(
    request: Request,
    actor: Annotated[str | None, Query(max_length=200, pattern=_TEXT)] = None,
    action: Annotated[str | None, Query(max_length=100, pattern=_TEXT)] = None,
    object_type: Annotated[str | None, Query(max_length=50, pattern=_TEXT)] = None,
    object_id: Annotated[str | None, Query(max_length=200, pattern=_TEXT)] = None,
    since: Annotated[
        datetime | None, Query(description="Events at or after this time (with timezone)")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Events before this time (with timezone)")
    ] = None,
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    cursor: Annotated[
        str | None,
        Query(max_length=19, pattern=r"^[0-9]*$", description="`next_cursor` of the last page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 100,
) -> AuditPage:
    if cursor and int(cursor) > _MAX_SEQ:
        raise Problem(422, "Invalid request", "cursor is not one this API returned")
    filters = audit.EventFilter(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        since=_utc(since, "since"),
        until=_utc(until, "until"),
        newest_first=order == "desc",
    )
    with state_of(request).store.reader() as session:
        page = audit.list_events(session, filters, cursor or None, limit)
    return AuditPage(
        events=[AuditEventOut(**e.as_dict()) for e in page.events],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    summary="Every audit event after `since` as JSON Lines, with hashes, for verification",
    **guard(
        "audit:read",
        responses={200: {"content": {"application/x-ndjson": {}}, "description": "JSON Lines"}},
    ),
)
def export_audit_events(
    request: Request,
    since: Annotated[int, Query(ge=0, le=_MAX_SEQ, description="Only events after this seq")] = 0,
) -> StreamingResponse:
    store = state_of(request).store
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        export_lines(store, since),
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="pledge-audit-{stamp}.jsonl"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/checkpoints",
    response_model=list[CheckpointOut],
    summary="Signed checkpoints stored so far, oldest first",
    **guard("audit:read"),
)
def list_checkpoints(request: Request) -> list[CheckpointOut]:
    with state_of(request).store.reader() as session:
        found = audit.stored_checkpoints(session)
    return [CheckpointOut(**cp.as_dict()) for cp in found]


@router.post(
    "/checkpoints",
    response_model=CheckpointOut,
    summary="Sign the chain's current head (keep the answer outside Pledge)",
    **guard("audit:checkpoint"),
)
def create_checkpoint(request: Request) -> CheckpointOut:
    cp = audit.checkpoint(state_of(request).store)
    return CheckpointOut(**cp.as_dict())
