"""Bulk import of consent records from another consent tool: `POST /v1/consent/import`.

The body (NDJSON, a JSON array or CSV) is parsed record by record as it streams in; the checks
and the writing are `pledge.consent.importer`'s, shared with `pledge consent import`. The
answer lists every imported record with its receipt, so the caller can keep them beside its
own rows; the receipts also stay in the log (`GET /v1/consent/export`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from pledge.api.auth import actor, guard
from pledge.api.problems import Problem
from pledge.api.state import state_of
from pledge.consent import import_formats, importer
from pledge.consent.service import service_for
from pledge.store.tables import IDENTITY_KINDS

router = APIRouter(tags=["consent"])
PATH = "/v1/consent/import"
#: Largest import body this route reads, instead of the API-wide `PLEDGE_MAX_BODY_BYTES`
#: (see `routes.LARGER_BODIES`); larger files go through `pledge consent import`.
MAX_IMPORT_BYTES = 20 * 1024 * 1024
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "json": "application/json", "csv": "text/csv"}

_CHOICES = {"type": "object", "additionalProperties": {"type": "boolean"}}
_RECORD: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["given_at", "notice_version", "jurisdiction", "language", "source"],
    "properties": {
        "subject": {"type": "string", "description": "device:<id> or subject:<vault id>"},
        "identity": {
            "type": "object",
            "description": "Instead of subject: found (or created) in the vault",
            "required": ["kind", "value"],
            "properties": {
                "kind": {"type": "string", "enum": list(IDENTITY_KINDS)},
                "value": {"type": "string"},
            },
        },
        "given_at": {"type": "string", "format": "date-time", "description": "When they chose"},
        "notice_version": {"type": "string", "maxLength": 64},
        "jurisdiction": {"type": "string", "maxLength": 16},
        "language": {"type": "string", "maxLength": 16},
        "source": {"type": "string", "description": "The system the record comes from"},
        "source_id": {"type": "string", "maxLength": 200, "description": "Its id there"},
        "categories": _CHOICES,
        "purposes": _CHOICES,
    },
}
_TEXT = {"schema": {"type": "string"}}
_BODY = {
    "required": True,
    "description": "One record per line (NDJSON), one JSON array, or CSV with a header line "
    "(`categories.<id>` and `purposes.<id>` columns hold true/false).",
    "content": {
        "application/x-ndjson": _TEXT,
        "application/json": {"schema": {"type": "array", "items": _RECORD}},
        "text/csv": _TEXT,
    },
}
_SUMMARY = {"description": "What was imported (with receipts), skipped, and refused"}


def _route_options() -> dict[str, Any]:
    options = guard(
        "consent:import",
        responses={
            200: _SUMMARY,
            201: _SUMMARY,
            413: {"description": "The body is larger than the import limit"},
            415: {"description": "Not NDJSON, JSON or CSV"},
            422: {"description": "Bad records (each with its line); nothing was imported"},
        },
    )
    options["openapi_extra"] = {**options["openapi_extra"], "requestBody": _BODY}
    return options


@router.post(
    PATH,
    status_code=201,
    summary="Import consent records from another consent tool (all or nothing, or partial)",
    **_route_options(),
)
async def import_records(
    request: Request,
    partial: Annotated[
        bool, Query(description="Import the good records and report the bad ones")
    ] = False,
    dry_run: Annotated[bool, Query(description="Check everything, write nothing")] = False,
    notice_version: Annotated[
        list[Annotated[str, Query(max_length=64)]] | None,
        Query(description="A notice version of the tool you import from (repeatable)"),
    ] = None,
) -> JSONResponse:
    state = state_of(request)
    fmt = import_formats.format_of(request.headers.get("content-type"))
    if fmt is None:
        known = ", ".join(MEDIA_TYPES.values())
        raise Problem(415, "Unsupported media type", f"Send the records as one of {known}.")
    rows = await _read(request, fmt)
    options = importer.ImportOptions(
        actor=actor(request),
        issuer=state.settings.public_url.rstrip("/"),
        format=fmt,
        partial=partial,
        dry_run=dry_run,
        notice_versions=frozenset(notice_version or ()),
    )
    manifest = state.holder.manifest
    try:
        result = await run_in_threadpool(importer.import_rows, state.store, manifest, rows, options)
    except importer.ImportConflict as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
    if result.count("imported"):
        service_for(state.store).invalidate()
    return _answer(result)


async def _read(request: Request, fmt: str) -> list[import_formats.RawRow]:
    """The body's records, parsed as it arrives; 413 past the import limit."""
    reader = import_formats.RowReader(fmt)
    rows: list[import_formats.RawRow] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_IMPORT_BYTES:
                raise Problem(
                    413,
                    "Content too large",
                    f"An import is limited to {MAX_IMPORT_BYTES} bytes; split the file, or "
                    "import it with `pledge consent import`.",
                )
            rows += reader.feed(chunk)
        return rows + reader.close()
    except import_formats.ImportFileError as exc:
        raise Problem(
            422,
            "Invalid request",
            f"The file cannot be read ({exc}); nothing was imported.",
            "invalid-request",
            errors=exc.errors,
        ) from exc


def _answer(result: importer.ImportResult) -> JSONResponse:
    """422 when nothing was (or would be) imported because of bad records; else the summary."""
    summary = result.summary()
    good = summary["imported"] + summary["already_imported"] + result.count("would_import")
    if result.errors and (result.refused or not good):
        verb = "would be" if result.options.dry_run else "was"
        raise Problem(
            422,
            "Invalid request",
            f"{result.rejected} of {result.rows} records cannot be imported, so nothing {verb} "
            "imported; fix them, or import the others with ?partial=true.",
            "invalid-request",
            errors=summary["errors"],
            errors_not_shown=summary["errors_not_shown"],
            rows=result.rows,
            rejected=result.rejected,
        )
    created = summary["imported"] and not result.options.dry_run
    return JSONResponse(summary, status_code=201 if created else 200)
