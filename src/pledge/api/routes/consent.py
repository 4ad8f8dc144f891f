"""Consent: record choices (public), read them back, decide, export, and serve the banner.

`POST /v1/consent` is public and rate limited; a caller with a `consent:write` key may also
record for a known identity (through the vault) or by `api`/`import`. The decision route is
on the product's hot path: `pledge.api.fastpath` serves it before the FastAPI stack with the
same `decision_json`; it answers from the consent service's cache on the event loop and only
goes to a thread for a database read.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from pledge.api.auth import actor, guard, public, require
from pledge.api.problems import Problem, asset
from pledge.api.routes.notices import language_of
from pledge.api.state import AppState, state_of
from pledge.apikeys import KeyRecord
from pledge.consent import banner, export, gpc, records, subjects
from pledge.consent.ids import vault_subject
from pledge.consent.limits import limits_of
from pledge.consent.notice import notice_ref
from pledge.consent.pages import render
from pledge.consent.programs import Scope
from pledge.consent.service import service_for
from pledge.policy import Decision, applicable_jurisdiction

router = APIRouter(tags=["consent"])
STATIC = Path(__file__).parents[2] / "web" / "static" / "consent"
_DEVICE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PUBLIC_MECHANISMS = ("accept_all", "reject_all", "custom", "gpc", "withdrawal")
DECIDE_PERMISSION = "consent:decide"
#: Longest accepted value of each decision parameter (the route and the lean path check them).
DECISION_LIMITS = {
    "subject": 80,
    "purpose": 100,
    "jurisdiction": 16,
    "organisation": 200,
    "installation": 200,
}
#: A read's optional purpose: a manifest purpose key or a ticket reference, no free text.
PURPOSE = Query(
    max_length=200,
    pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:/#-]*$",
    description="Why you read it (a purpose key or ticket reference), kept in the audit log",
)


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["email", "phone", "user_id", "customer_id"]
    value: str = Field(min_length=1, max_length=320)


class ConsentIn(BaseModel):
    """A choice. Categories are the banner's tracker categories; purposes are manifest keys."""

    model_config = ConfigDict(extra="forbid")
    mechanism: Literal["accept_all", "reject_all", "custom", "gpc", "api", "import", "withdrawal"]
    categories: dict[Annotated[str, Field(max_length=64)], bool] = Field(
        default_factory=dict, max_length=50
    )
    purposes: dict[Annotated[str, Field(max_length=100)], bool] = Field(
        default_factory=dict, max_length=200
    )
    jurisdiction: str = Field("global", max_length=16)
    language: str | None = Field(None, max_length=35)
    gpc: bool = Field(False, description="navigator.globalPrivacyControl as the banner saw it")
    identity: IdentityIn | None = Field(None, description="Needs a consent:write key")
    subject: str | None = Field(None, max_length=80, description="Needs a consent:write key")


def subject_key(state: AppState, raw: str) -> str:
    """The log's reference for what a caller named (a device id is hashed); 422 when malformed.

    `device:dv1-…` (a reference, as staff see it) and `subject:<vault id>` are kept as given.
    """
    try:
        return subjects.reference(state.store.vault, raw)
    except subjects.SubjectError as exc:
        raise Problem(422, "Invalid request", str(exc)) from exc


def _device_of(request: Request) -> str | None:
    value = request.cookies.get(banner.DEVICE_COOKIE)
    return value if value and _DEVICE.match(value) else None


async def optional_key(request: Request, permission: str) -> KeyRecord | None:
    """The caller's key if it sent one (checked for `permission`), else None."""
    header = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if not header and not api_key:
        return None
    bearer = None
    if header and header.lower().startswith("bearer "):
        bearer = HTTPAuthorizationCredentials(scheme="Bearer", credentials=header[7:].strip())
    return await require(permission)(request, bearer, api_key)


def _issuer(request: Request) -> str:
    return state_of(request).settings.public_url.rstrip("/")


@router.get(
    "/.well-known/jwks.json",
    summary="Keys that sign consent receipts",
    response_class=Response,
    **public(asset("application/jwk-set+json")),
)
def jwks(request: Request) -> Response:
    keys = service_for(state_of(request).store).signer.jwks()
    return Response(
        json.dumps(keys),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.post(
    "/v1/consent",
    status_code=201,
    summary="Record a choice; answers with a signed receipt (compact JWS)",
    **public(),
)
async def record_choice(request: Request, body: ConsentIn, response: Response) -> dict[str, Any]:
    state = state_of(request)
    manifest = state.holder.manifest
    key = await optional_key(request, "consent:write")
    if key is None and (body.mechanism not in PUBLIC_MECHANISMS or body.identity or body.subject):
        raise Problem(
            403,
            "Forbidden",
            "Recording by api/import or for a known person needs a key with consent:write.",
        )
    language = body.language or language_of(request, None)
    signal = body.gpc or gpc.header_says_gpc(request.headers.get("sec-gpc"))
    collector = f"api:{key.id}" if key is not None else "visitor"
    made_by = f"staff:{key.name}" if key is not None else records.PERSON

    def work() -> records.Recorded:
        subject = _resolve_subject(request, body, response, collector)
        choice = records.NewChoice(
            subject=subject,
            mechanism=body.mechanism,
            jurisdiction=body.jurisdiction,
            language=language,
            collector=collector,
            purposes=body.purposes,
            categories=body.categories,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            gpc_signal=signal,
            made_by=made_by,
        )
        return service_for(state.store).record(manifest, choice, _issuer(request))

    try:
        done = await run_in_threadpool(work)
    except records.ChoiceError as exc:
        raise Problem(
            422,
            "Invalid request",
            "The choice does not fit the manifest; see errors.",
            "invalid-request",
            errors=exc.errors,
        ) from exc
    return {
        "id": done.id,
        "subject": done.payload["sub"],
        "receipt": done.receipt,
        "gpc_applied": done.gpc_applied,
        "notice": done.payload["notice"],
        "choices": done.payload["choices"],
        "made_by": done.payload["madeBy"],
    }


def _resolve_subject(request: Request, body: ConsentIn, response: Response, actor: str) -> str:
    store = state_of(request).store
    if body.identity is not None:
        with store.transaction() as session:
            found = store.vault.find_or_create_subject(
                session, body.identity.kind, body.identity.value, actor=actor
            )
        return vault_subject(found)
    if body.subject is not None:
        return subject_key(state_of(request), body.subject)
    device = _device_of(request) or secrets.token_urlsafe(18)
    response.set_cookie(
        banner.DEVICE_COOKIE,
        device,
        max_age=banner.COOKIE_DAYS * 86400,
        httponly=True,  # only the server needs it; the banner keeps its choice in its own cookie
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )
    return subjects.of_device(store.vault, device)


@router.get("/v1/consent/config", summary="The banner's configuration", **public())
def banner_config(
    request: Request,
    lang: Annotated[str | None, Query(max_length=35)] = None,
    jurisdiction: Annotated[str, Query(max_length=16)] = "global",
) -> Response:
    manifest = state_of(request).holder.manifest
    language = language_of(request, lang)
    where = applicable_jurisdiction(manifest, jurisdiction)
    body = json.dumps(banner.config(manifest, language, where), ensure_ascii=False)
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Language": language, "Vary": "Accept-Language"},
    )


@router.get(
    "/v1/consent/decision",
    summary="May this purpose run for this subject now?",
    **guard(DECIDE_PERMISSION),
)
async def decision(
    request: Request,
    subject: Annotated[str, Query(max_length=DECISION_LIMITS["subject"])],
    purpose: Annotated[str, Query(max_length=DECISION_LIMITS["purpose"])],
    jurisdiction: Annotated[str | None, Query(max_length=DECISION_LIMITS["jurisdiction"])] = None,
    organisation: Annotated[str | None, Query(max_length=DECISION_LIMITS["organisation"])] = None,
    installation: Annotated[str | None, Query(max_length=DECISION_LIMITS["installation"])] = None,
    gpc_signal: Annotated[bool, Query(alias="gpc")] = False,
) -> Response:
    """Served by `pledge.api.fastpath` in the common case; declared here for the schema."""
    query = DecisionQuery(subject, purpose, jurisdiction, organisation, installation, gpc_signal)
    return Response(await decision_json(state_of(request), query), media_type="application/json")


@dataclass(frozen=True, slots=True)
class DecisionQuery:
    """The decision route's parameters, validated (by FastAPI or by the lean path)."""

    subject: str
    purpose: str
    jurisdiction: str | None = None
    organisation: str | None = None
    installation: str | None = None
    gpc: bool = False


async def decision_json(state: AppState, query: DecisionQuery) -> bytes:
    """The decision as the route answers it (JSON bytes, built without a serialiser)."""
    key = subject_key(state, query.subject)
    made = await _decide(state, key, query)
    return (
        _DECISION_OPEN[made.allowed]
        + made.reason.encode()
        + b'","purpose":'
        + _json_text(query.purpose)
        + b',"subject":"'
        + key.encode()  # a reference holds only [A-Za-z0-9_:-]: nothing to escape
        + b'"}'
    )


async def _decide(state: AppState, subject: str, query: DecisionQuery) -> Decision:
    """On the event loop from the cache; in a thread when it needs the database."""
    manifest = state.holder.manifest
    service = service_for(state.store)
    org, inst = query.organisation, query.installation
    if not (org or inst):
        made = service.decide_cached(
            manifest, subject, query.purpose, jurisdiction=query.jurisdiction, gpc=query.gpc
        )
        if made is not None:
            return made
    decide = partial(
        service.decide,
        manifest,
        subject,
        query.purpose,
        jurisdiction=query.jurisdiction,
        scope=Scope(org, inst) if org or inst else None,
        gpc=query.gpc,
    )
    return await run_in_threadpool(decide)


_DECISION_OPEN = {True: b'{"allowed":true,"reason":"', False: b'{"allowed":false,"reason":"'}


@lru_cache(maxsize=1024)
def _json_text(value: str) -> bytes:
    """A purpose as a JSON string; the same few purposes are asked about all the time."""
    return json.dumps(value).encode()


@router.get(
    "/v1/consent/export",
    summary="The consent log as JSON Lines (or CSV), for auditors; the read is audited",
    **guard(
        "consent:read",
        responses={
            200: {
                "content": {"application/jsonl": {}, "text/csv": {}},
                "description": "One record per line; devices only as keyed references",
            }
        },
    ),
)
async def export_log(
    request: Request,
    after: Annotated[str | None, Query(max_length=36)] = None,
    fmt: Annotated[Literal["jsonl", "csv"], Query(alias="format")] = "jsonl",
    purpose: Annotated[str | None, PURPOSE] = None,
) -> StreamingResponse:
    store = state_of(request).store
    details = {"kinds": list(export.EXPORT_KINDS), "after": after, "format": fmt}
    await run_in_threadpool(
        export.audit_read, store, actor(request), export.EXPORTED, details, purpose
    )
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/jsonl"
    return StreamingResponse(export.lines(store, after, fmt), media_type=media)


@router.get(
    "/v1/consent/{subject}",
    summary="A subject's choices and their records (the person's own device, or staff)",
    **public(),
)
async def subject_choices(
    request: Request, subject: str, purpose: Annotated[str | None, PURPOSE] = None
) -> dict[str, Any]:
    state = state_of(request)
    device = _device_of(request)
    staff: KeyRecord | None = None
    if subject in ("me", f"device:{device}", device) and device:
        key = await run_in_threadpool(subjects.of_device, state.store.vault, device)
    else:
        key = await run_in_threadpool(subject_key, state, subject)
        staff = await optional_key(request, "consent:read")
        if staff is None:
            raise Problem(
                401,
                "Unauthorized",
                "Send the device cookie of this subject, or a key with consent:read.",
                headers={"WWW-Authenticate": 'Bearer realm="pledge"'},
            )
    manifest = state.holder.manifest
    store = state.store

    def read() -> dict[str, Any]:
        if staff is not None:
            details = {"subject": key, "kinds": list(export.SUBJECT_KINDS)}
            export.audit_read(store, f"api:{staff.id}", export.READ, details, purpose)
        with store.reader() as session:
            rows = records.records_of(session, key)
            derived = records.derive(manifest, rows, limits_of(session, key))
            listed = [records.record_as_dict(r) for r in rows]
        return {
            "subject": key,
            "categories": derived.categories,
            "purposes": derived.consents,
            "notice_version": derived.notice_version,
            "current_notice_version": notice_ref(manifest)[1],
            "limits": {
                "restriction": sorted(derived.restricted),
                "objection": sorted(derived.objected),
            },
            "records": listed,
        }

    return await run_in_threadpool(read)


# --- the banner and the demo site ---------------------------------------------------------


@router.get(
    "/consent/banner.js",
    summary="The consent banner script",
    response_class=FileResponse,
    **public(asset("text/javascript")),
)
def banner_js() -> FileResponse:
    return FileResponse(
        STATIC / "banner.js",
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get(
    "/consent/banner.css",
    summary="The consent banner stylesheet",
    response_class=FileResponse,
    **public(asset("text/css")),
)
def banner_css() -> FileResponse:
    return FileResponse(
        STATIC / "banner.css",
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get(
    "/consent/demo",
    response_class=HTMLResponse,
    summary="A sample site with the banner and a fake analytics script",
    **public(),
)
def demo(
    request: Request,
    lang: Annotated[str | None, Query(max_length=35)] = None,
    jurisdiction: Annotated[str, Query(max_length=16)] = "eu",
) -> HTMLResponse:
    language = language_of(request, lang)
    nonce = secrets.token_urlsafe(16)
    html = render(
        "demo.html", language, nonce=nonce, jurisdiction=jurisdiction, explicit_lang=lang or ""
    )
    csp = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )
    return HTMLResponse(
        html, headers={"Content-Security-Policy": csp, "Content-Language": language}
    )
