"""Data subject requests: public intake, verification, status and download; staff actions.

The public answers never say whether the person is known: intake answers the same for every
address, and a bad id, token or code answers like any other bad one.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from pledge.api.auth import actor, guard, public
from pledge.api.problems import Problem
from pledge.api.state import AppState, state_of
from pledge.errors import NotFoundError
from pledge.requests import package, service
from pledge.requests.service import (
    PURPOSE_PATTERN,
    AddressError,
    AttestationError,
    Filter,
    FourEyesError,
    Intake,
    RequestError,
    UnprovenIdentity,
)

router = APIRouter(prefix="/v1/requests", tags=["requests"])
_ID = Path(min_length=1, max_length=36)
#: Why staff read personal data (audited with the read); a short label.
_PURPOSE = Query(
    min_length=1,
    max_length=100,
    pattern=PURPOSE_PATTERN,
    description="Why you read it (a short label, recorded in the audit log)",
)


class RequestIn(BaseModel):
    kind: str = Field(max_length=32)
    email: str = Field(max_length=320)
    jurisdiction: str | None = Field(None, max_length=16)
    country: str | None = Field(None, min_length=2, max_length=2)
    region: str | None = Field(None, max_length=8)
    language: str | None = Field(None, max_length=35)
    details: str | None = Field(None, max_length=5000)
    corrections: dict[str, str] = Field(default_factory=dict, max_length=50)
    identities: dict[str, str] = Field(default_factory=dict, max_length=4)
    purposes: list[str] = Field(default_factory=list, max_length=50)


class StaffRequestIn(RequestIn):
    verified: bool = Field(
        False, description="You verified the person yourself (post, phone); needs `reason`"
    )
    reason: str | None = Field(
        None, max_length=1000, description="How you verified them (kept sealed; audited)"
    )


class Submitted(BaseModel):
    id: str
    reference: str
    token: str
    state: str
    due_at: datetime


class CodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=32)


class TokenIn(BaseModel):
    token: str = Field(min_length=1, max_length=100)


class ReasonsIn(BaseModel):
    reasons: list[str] = Field(min_length=1, max_length=20)


def _ready(request: Request) -> AppState:
    """The app state, with the vault opened outside any transaction (it may write once)."""
    state = state_of(request)
    state.store.vault  # noqa: B018
    return state


def _intake(body: RequestIn, channel: str) -> Intake:
    return Intake(
        kind=body.kind,
        email=body.email,
        jurisdiction=body.jurisdiction,
        country=body.country,
        region=body.region,
        language=body.language,
        details=body.details,
        corrections=body.corrections,
        identities=body.identities,
        purposes=tuple(body.purposes),
        channel=channel,
    )


def _submit(
    request: Request, intake: Intake, who: str, verified: bool, reason: str | None = None
) -> Submitted:
    state = _ready(request)
    try:
        with state.store.transaction() as session:
            done = service.submit(
                session,
                state.holder.manifest,
                intake,
                actor=who,
                public_url=state.settings.public_url,
                verified=verified,
                reason=reason,
            )
    except (UnprovenIdentity, AddressError, AttestationError) as exc:
        raise _invalid(exc) from None
    return Submitted(**done.__dict__)


def _invalid(exc: RequestError) -> Problem:
    """422 naming the field: an identity nobody can prove, a bad address, a missing reason."""
    if isinstance(exc, UnprovenIdentity):
        pointers = [f"/identities/{kind}" for kind in exc.kinds]
        kind = "identity-unproven"
    else:
        pointers = ["/email" if isinstance(exc, AddressError) else "/reason"]
        kind = "invalid-request"
    errors = [{"pointer": pointer, "detail": str(exc)} for pointer in pointers]
    return Problem(422, "Invalid request", str(exc), kind, errors=errors)


@router.post(
    "",
    response_model=Submitted,
    status_code=202,
    summary="Ask for access, a copy, a correction, erasure, restriction, objection or opt-out",
    **public(),
)
def submit(request: Request, body: RequestIn) -> Submitted:
    return _submit(request, _intake(body, "web"), "subject", False)


@router.post("/{request_id}/verify", summary="Verify with the mailed code", **public())
def verify(request: Request, request_id: Annotated[str, _ID], body: CodeIn) -> dict[str, Any]:
    state = _ready(request)
    with state.store.transaction() as session:
        result = service.verify(session, state.holder.manifest, request_id, body.code)
    if result.outcome != "ok":
        raise Problem(
            400 if result.outcome != "locked" else 429,
            "Not verified",
            "The code is wrong, expired or used up; ask for a new one or try again later.",
            outcome=result.outcome if result.outcome != "missing" else "wrong",
        )
    return {"verified": True}


@router.post(
    "/{request_id}/resend",
    status_code=202,
    summary="Send a new code (with the request's token); the same answer whatever happens",
    **public(),
)
def resend(request: Request, request_id: Annotated[str, _ID], body: TokenIn) -> dict[str, Any]:
    """A new code for an unverified request. A bad id or token, a request past verification or
    one out of codes answer like a sent code: nothing here tells them apart."""
    state = _ready(request)
    with contextlib.suppress(NotFoundError, RequestError), state.store.transaction() as session:
        service.resend_code(session, state.holder.manifest, request_id, body.token)
    return {"accepted": True}


@router.get("/{request_id}/status", summary="The status, with the request's token", **public())
def status(
    request: Request,
    request_id: Annotated[str, _ID],
    token: Annotated[str, Query(min_length=10, max_length=100)],
) -> dict[str, Any]:
    with state_of(request).store.reader() as session:
        req = service.by_token(session, request_id, token)
        return service.describe(req)


@router.get(
    "/download/{token}",
    response_class=RedirectResponse,
    status_code=303,
    summary="An older mailed download link: to its page (opening it spends nothing)",
    **public(),
)
def download_link(
    request: Request, token: Annotated[str, Path(min_length=10, max_length=100)]
) -> RedirectResponse:
    """Links mailed before the download page existed lead there too, unspent."""
    return RedirectResponse(package.DOWNLOAD_PAGE + token, status_code=303)


@router.post(
    "/download/{token}",
    response_class=Response,
    summary="Download an access package (single use, expires)",
    **public(),
)
def download(
    request: Request, token: Annotated[str, Path(min_length=10, max_length=100)]
) -> Response:
    """For programs holding a token; people use the mailed link's page and its button."""
    try:
        with _ready(request).store.transaction() as session:
            req, content = package.redeem(session, token)
    except package.DownloadRefused as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    return package_response(req.reference, content)


def package_response(reference: str, content: bytes) -> Response:
    """The zip as an attachment, never cached (it holds the person's data)."""
    return Response(
        content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{reference}.zip"',
            "Cache-Control": "no-store",
        },
    )


# --- staff --------------------------------------------------------------------------------


@router.post(
    "/staff",
    response_model=Submitted,
    status_code=201,
    summary="Enter a request received by post or phone (verified: attested by the caller)",
    **guard("requests:submit"),
)
def staff_submit(request: Request, body: StaffRequestIn) -> Submitted:
    return _submit(request, _intake(body, "staff"), actor(request), body.verified, body.reason)


@router.get("", summary="List and filter requests", **guard("requests:read"))
def list_requests(
    request: Request,
    state: Annotated[str | None, Query(max_length=20)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    sla: Annotated[str | None, Query(max_length=10)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    with state_of(request).store.reader() as session:
        rows = service.list_requests(session, Filter(state, kind, sla, limit))
        return [service.describe(r) for r in rows]


@router.get(
    "/{request_id}",
    summary="One request with every step (the read is audited)",
    **guard("requests:read"),
)
def show(
    request: Request,
    request_id: Annotated[str, _ID],
    purpose: Annotated[str | None, _PURPOSE] = None,
) -> dict[str, Any]:
    with _ready(request).store.transaction() as session:
        return service.details_of(session, request_id, actor=actor(request), purpose=purpose)


@router.post(
    "/{request_id}/approve",
    summary="Approve (not by the one who attested the request)",
    **guard("requests:manage"),
)
def approve(request: Request, request_id: Annotated[str, _ID]) -> dict[str, Any]:
    try:
        with state_of(request).store.transaction() as session:
            return service.describe(service.approve(session, request_id, actor=actor(request)))
    except FourEyesError as exc:
        raise Problem(403, "Forbidden", str(exc), "four-eyes") from None


@router.post("/{request_id}/retry", summary="Retry a failed request", **guard("requests:manage"))
def retry(request: Request, request_id: Annotated[str, _ID]) -> dict[str, Any]:
    with state_of(request).store.transaction() as session:
        return service.describe(service.retry(session, request_id, actor=actor(request)))


@router.post("/{request_id}/deny", summary="Deny with reasons", **guard("requests:manage"))
def deny(request: Request, request_id: Annotated[str, _ID], body: ReasonsIn) -> dict[str, Any]:
    state = _ready(request)
    with state.store.transaction() as session:
        req = service.deny(
            session, state.holder.manifest, request_id, body.reasons, actor=actor(request)
        )
        return service.describe(req)


@router.post("/{request_id}/extend", summary="Extend with reasons", **guard("requests:manage"))
def extend(request: Request, request_id: Annotated[str, _ID], body: ReasonsIn) -> dict[str, Any]:
    state = _ready(request)
    with state.store.transaction() as session:
        req = service.extend(
            session, state.holder.manifest, request_id, body.reasons, actor=actor(request)
        )
        return service.describe(req)


@router.get(
    "/{request_id}/package",
    response_class=Response,
    summary="Download a request's package as staff (the read is audited)",
    **guard("requests:manage"),
)
def staff_package(
    request: Request,
    request_id: Annotated[str, _ID],
    purpose: Annotated[str | None, _PURPOSE] = None,
) -> Response:
    try:
        with _ready(request).store.transaction() as session:
            req, content = package.open_package(
                session, request_id, actor=actor(request), purpose=purpose
            )
    except package.DownloadRefused as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    return package_response(req.reference, content)
