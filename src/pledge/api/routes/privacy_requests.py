"""The privacy centre's request pages: ask, confirm with the mailed code, follow the status.

Plain HTML forms, no script, posting to the service functions `POST /v1/requests` uses, so a
request made here is the same request. The pages answer alike for every address (intake makes
a request and mails a code whether or not the person is known), and a bad link, id or token
gets one "link not valid" page.

The forms are unauthenticated, so each carries a form guard (`pledge.api.formguard`).
Bad input comes back as the same form with the error next to its field (422), nothing stored.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from pledge.api.auth import public
from pledge.api.formguard import Guard, form_is_genuine, guard_of, with_cookie
from pledge.api.pages import centre_jurisdictions, centre_of, with_query
from pledge.api.routes.notices import language_of
from pledge.api.routes.privacy import HTML, PRIVATE, PageRoute, message_page
from pledge.api.state import AppState, state_of
from pledge.errors import NotFoundError
from pledge.manifest.model import Manifest
from pledge.policy import objectable_purposes
from pledge.requests import package, service, verification
from pledge.requests.render import render
from pledge.requests.service import Intake, RequestError

REQUESTS = "/privacy/requests"
DETAILS_LIMIT = 5000
VALUE_LIMIT = 500
EMAIL_LIMIT = 320
FIXES = 3
#: Form fields read at most: the request's own, plus one checkbox per purpose objected to.
MAX_FIELDS = 200
#: The name of an objection checkbox: `object:<purpose>`.
OBJECT = "object:"
#: Names under which a hand-made post could slip in another identity; the form proves only
#: the e-mail address (by its code), so any of these is refused beside the e-mail field.
_IDENTITY_FIELDS = ("phone", "user_id", "customer_id")
_IDENTITY_PREFIXES = ("identity", "identities")
_ID = Path(min_length=1, max_length=36)
_TOKEN = Query(max_length=100)
_LANG = Query(max_length=35)

router = APIRouter(tags=["privacy centre"], route_class=PageRoute)


@dataclass(frozen=True)
class FieldError:
    """What is wrong with a field (a code the template puts into words) and where it is."""

    code: str
    target: str
    limit: int = 0
    minutes: int = 0


Errors = dict[str, FieldError]


@dataclass
class Values:
    """The form as the person filled it in, to show it again with the errors."""

    language: str
    kind: str = ""
    email: str = ""
    details: str = ""
    fixes: list[tuple[str, str]] = field(default_factory=lambda: [("", "")] * FIXES)
    objections: list[str] = field(default_factory=list)


def _send(request: Request, html: str, lang: str, status: int, guard: Guard | None) -> Response:
    headers = {**PRIVATE, "Content-Language": lang}
    return with_cookie(request, HTMLResponse(html, status_code=status, headers=headers), guard)


async def _read_form(request: Request) -> dict[str, str]:
    """The urlencoded body, first value of each field (the body size is limited upstream)."""
    text = (await request.body()).decode("utf-8", "replace")
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        return {}
    return {name: values[0] for name, values in parsed.items()}


def _expired(request: Request, lang: str, guard: Guard, back: str) -> Response:
    """The answer to a form that is not this site's: 400, nothing done, a new cookie.

    400, not 403: public routes never answer "forbidden" (a key would not help), and the
    request is simply not a complete form of ours."""
    page = message_page(request, lang, "form_expired", back, 400)
    return with_cookie(request, page, guard)


# --- the form -------------------------------------------------------------------------------


def correctable(manifest: Manifest, lang: str) -> list[dict[str, str]]:
    """The categories the form offers to correct, by name in `lang`."""
    items = []
    for category in service.correctable_categories(manifest):
        entry = manifest.category(category)
        items.append({"key": category, "name": entry.name.text(lang, "en") if entry else category})
    return sorted(items, key=lambda item: item["name"].casefold())


def objectable(manifest: Manifest, lang: str) -> list[dict[str, str]]:
    """The purposes the objection part of the form offers, by name in `lang`."""
    items = [
        {"key": key, "name": manifest.purpose_name(key, lang)}
        for key in objectable_purposes(manifest)
    ]
    return sorted(items, key=lambda item: item["name"].casefold())


def _where(manifest: Manifest, jurisdiction: str | None, country: str | None) -> str:
    """The jurisdiction to show the rights of: asked for, from the country, else the first."""
    choices = centre_jurisdictions(manifest)
    if jurisdiction in choices:
        return str(jurisdiction)
    if country:
        return service.resolve_jurisdiction(manifest, Intake(kind="", email="", country=country))
    return choices[0]


def _form_page(
    request: Request,
    lang: str,
    where: str,
    values: Values,
    errors: Errors,
    status: int,
) -> Response:
    manifest = state_of(request).holder.manifest
    guard = guard_of(request)
    html = render(
        "privacy/request_form.html",
        lang,
        centre=centre_of(manifest, lang, lambda c: with_query(REQUESTS, c, jurisdiction=where)),
        where=where,
        jurisdictions=centre_jurisdictions(manifest),
        kinds=service.offered_kinds(manifest, where),
        languages=manifest.languages,
        correctable=correctable(manifest, lang),
        objectable=objectable(manifest, lang),
        values=values,
        errors=errors,
        csrf=guard.token,
        limits={"details": DETAILS_LIMIT, "value": VALUE_LIMIT},
    )
    return _send(request, html, lang, status, guard)


def _check_kind(manifest: Manifest, form: dict[str, str], errors: Errors) -> tuple[str, str]:
    """The jurisdiction and the kind asked for; errors when either does not fit."""
    choices = centre_jurisdictions(manifest)
    where = form.get("jurisdiction", "")
    if where not in choices:
        errors["jurisdiction"] = FieldError("where_invalid", "where")
        where = choices[0]
    kinds = service.offered_kinds(manifest, where)
    kind = form.get("kind", "")
    target = f"kind-{kinds[0]}" if kinds else "where"
    if not kind:
        errors["kind"] = FieldError("kind_missing", target)
    elif kind not in kinds:
        errors["kind"] = FieldError("kind_not_offered", target)
    return where, kind


def _check_email(email: str, form: dict[str, str], errors: Errors) -> None:
    if not email:
        errors["email"] = FieldError("email_missing", "email")
        return
    try:
        service.check_address(email[: EMAIL_LIMIT + 1])
    except service.AddressError:
        errors["email"] = FieldError("email_invalid", "email")
        return
    if _other_identities(form):
        errors["email"] = FieldError("identity_unproven", "email")


def _other_identities(form: dict[str, str]) -> list[str]:
    """Fields of the post that name another identity (never part of our form)."""
    return [
        name
        for name, value in form.items()
        if value.strip() and (name in _IDENTITY_FIELDS or name.startswith(_IDENTITY_PREFIXES))
    ]


_FIX_FIELDS = {f"fix-{n}-{part}" for n in range(1, FIXES + 1) for part in ("field", "value")}


def _check_fixes(values: Values, offered: set[str], errors: Errors) -> dict[str, str]:
    """The corrections {category: new value} of a rectification; errors for half-filled rows,
    and for none at all (unless the details say what to correct)."""
    fixes: dict[str, str] = {}
    for n, (category, value) in enumerate(values.fixes, start=1):
        name = f"fix-{n}"
        if (value and not category) or (category and category not in offered):
            errors[f"{name}-field"] = FieldError("correction_field_missing", f"{name}-field")
        elif category and not value:
            errors[f"{name}-value"] = FieldError("correction_value_missing", f"{name}-value")
        elif len(value) > VALUE_LIMIT:
            errors[f"{name}-value"] = FieldError("too_long", f"{name}-value", VALUE_LIMIT)
        elif category:
            fixes[category] = value
    if not fixes and not values.details and not errors.keys() & _FIX_FIELDS:
        errors["corrections"] = FieldError(
            "corrections_missing", "fix-1-field" if offered else "details"
        )
    return fixes


def check_form(
    manifest: Manifest, form: dict[str, str], lang: str
) -> tuple[str, Values, Errors, dict[str, str]]:
    """Where, the values to show again, the errors in page order, and the corrections."""
    errors: Errors = {}
    where, kind = _check_kind(manifest, form, errors)
    chosen = form.get("language", "")
    values = Values(
        language=chosen if chosen in manifest.languages else lang,
        kind=kind,
        email=form.get("email", "").strip(),
        details=form.get("details", "").strip(),
        fixes=[
            (form.get(f"fix-{n}-field", ""), form.get(f"fix-{n}-value", "").strip())
            for n in range(1, FIXES + 1)
        ],
    )
    _check_email(values.email, form, errors)
    fixes: dict[str, str] = {}
    if kind == "rectification":
        offered = {item["key"] for item in correctable(manifest, lang)}
        fixes = _check_fixes(values, offered, errors)
    if kind == "objection":
        # None chosen objects to every purpose listed, as the form's hint says.
        values.objections = [p for p in objectable_purposes(manifest) if form.get(OBJECT + p)]
    if len(values.details) > DETAILS_LIMIT:
        errors["details"] = FieldError("too_long", "details", DETAILS_LIMIT)
    return where, values, errors, fixes


def _ready(request: Request) -> AppState:
    """The app state, with the vault opened outside any transaction (it may write once)."""
    state = state_of(request)
    state.store.vault  # noqa: B018
    return state


@router.get(
    REQUESTS,
    response_class=HTMLResponse,
    summary="The request form: the rights offered where the person lives",
    **public(responses=HTML),
)
def request_form(
    request: Request,
    lang: Annotated[str | None, _LANG] = None,
    jurisdiction: Annotated[str | None, Query(max_length=16)] = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
) -> Response:
    language = language_of(request, lang)
    where = _where(state_of(request).holder.manifest, jurisdiction, country)
    return _form_page(request, language, where, Values(language=language), {}, 200)


@router.post(
    REQUESTS,
    response_class=HTMLResponse,
    status_code=303,
    summary="Send the request form (then: the code page)",
    **public(responses={**HTML, 422: {"description": "The form again, with its errors"}}),
)
async def submit_request(request: Request) -> Response:
    form = await _read_form(request)
    return await run_in_threadpool(_submit, request, form)


def _submit(request: Request, form: dict[str, str]) -> Response:
    lang = language_of(request, form.get("lang") or None)
    if not form_is_genuine(request, form):
        return _expired(request, lang, guard_of(request), with_query(REQUESTS, lang))
    state = _ready(request)
    manifest = state.holder.manifest
    where, values, errors, fixes = check_form(manifest, form, lang)
    if errors:
        return _form_page(request, lang, where, values, errors, 422)
    intake = Intake(
        kind=values.kind,
        email=values.email,
        jurisdiction=where,
        language=values.language,
        details=values.details or None,
        corrections=fixes,
        purposes=tuple(values.objections),
        channel="web",
    )
    try:
        with state.store.transaction() as session:
            done = service.submit(
                session, manifest, intake, actor="subject", public_url=state.settings.public_url
            )
    except service.AddressError:
        errors = {"email": FieldError("email_invalid", "email")}
        return _form_page(request, lang, where, values, errors, 422)
    except service.UnprovenIdentity:
        errors = {"email": FieldError("identity_unproven", "email")}
        return _form_page(request, lang, where, values, errors, 422)
    except RequestError:
        errors = {"kind": FieldError("kind_not_offered", "where")}
        return _form_page(request, lang, where, values, errors, 422)
    return RedirectResponse(_status_href(done.id, done.token, lang), status_code=303)


# --- confirming and following a request ---------------------------------------------------


def _status_href(request_id: str, token: str, lang: str, **extra: str) -> str:
    return with_query(f"{REQUESTS}/{request_id}", lang, token=token, **extra)


@dataclass(frozen=True)
class Found:
    """A request found by its status token: what the pages may show of it."""

    facts: dict[str, Any]
    link: package.LinkState | None


def _find(request: Request, request_id: str, token: str) -> Found | None:
    """The request if the token is its status token; None for any bad id or token."""
    with state_of(request).store.reader() as session:
        try:
            req = service.by_token(session, request_id, token)
        except NotFoundError:
            return None
        link = None
        if req.state == "completed" and req.kind in ("access", "portability"):
            link = package.link_state(session, req.id)
        return Found(service.describe(req), link)


def _invalid(request: Request, lang: str) -> Response:
    return message_page(request, lang, "invalid_link", with_query(REQUESTS, lang), 404)


def _request_page(
    request: Request,
    found: Found,
    token: str,
    lang: str,
    *,
    errors: Errors | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    """The code page while the request waits for its code, else the status page."""
    manifest = state_of(request).holder.manifest
    facts = found.facts
    centre = centre_of(manifest, lang, lambda c: _status_href(facts["id"], token, c))
    if facts["state"] != "unverified":
        link = None
        if found.link is not None:
            link = {**asdict(found.link), "expired": found.link.expired()}
        html = render("privacy/request_status.html", lang, centre=centre, req=facts, link=link)
        return _send(request, html, lang, status, None)
    guard = guard_of(request)
    html = render(
        "privacy/request_code.html",
        lang,
        centre=centre,
        req=facts,
        token=token,
        csrf=guard.token,
        errors=errors or {},
        notice=notice,
        minutes=int(verification.CODE_TTL.total_seconds() // 60),
        digits=verification.CODE_DIGITS,
        purge_days=service.UNVERIFIED_TTL_DAYS,
    )
    return _send(request, html, lang, status, guard)


@router.get(
    REQUESTS + "/{request_id}",
    response_class=HTMLResponse,
    summary="A request's page: the code form until it is confirmed, then its status",
    **public(responses={**HTML, 404: {"description": "The link is not valid"}}),
)
def request_page(
    request: Request,
    request_id: Annotated[str, _ID],
    token: Annotated[str, _TOKEN] = "",
    lang: Annotated[str | None, _LANG] = None,
    sent: Annotated[bool, Query()] = False,
) -> Response:
    found = _find(request, request_id, token)
    if found is None:
        return _invalid(request, language_of(request, lang))
    language = language_of(request, lang or found.facts["language"])
    return _request_page(request, found, token, language, notice="resent" if sent else None)


_OUTCOMES = {
    "wrong": (400, "code_wrong"),
    "expired": (400, "code_expired"),
    "locked": (429, "code_locked"),
}


@router.post(
    REQUESTS + "/{request_id}/verify",
    response_class=HTMLResponse,
    status_code=303,
    summary="Confirm a request with the mailed code (then: the status page)",
    **public(responses={**HTML, 400: {"description": "The code page, with the error"}}),
)
async def verify_request(request: Request, request_id: Annotated[str, _ID]) -> Response:
    form = await _read_form(request)
    return await run_in_threadpool(_verify, request, request_id, form)


def _verify(request: Request, request_id: str, form: dict[str, str]) -> Response:
    lang = language_of(request, form.get("lang") or None)
    token = form.get("token", "")
    back = _status_href(request_id, token, lang)
    if not form_is_genuine(request, form):
        return _expired(request, lang, guard_of(request), back)
    found = _find(request, request_id, token)
    if found is None:
        return _invalid(request, lang)
    code = re.sub(r"[\s-]", "", form.get("code", ""))[:32]
    if not code:
        errors = {"code": FieldError("code_missing", "code")}
        return _request_page(request, found, token, lang, errors=errors, status=400)
    state = _ready(request)
    with state.store.transaction() as session:
        result = service.verify(session, state.holder.manifest, request_id, code)
    if result.outcome not in _OUTCOMES:  # ok, or confirmed meanwhile
        return RedirectResponse(back, status_code=303)
    status, message = _OUTCOMES[result.outcome]
    minutes = int(verification.LOCKOUT.total_seconds() // 60)
    errors = {"code": FieldError(message, "code", minutes=minutes)}
    return _request_page(request, found, token, lang, errors=errors, status=status)


@router.post(
    REQUESTS + "/{request_id}/resend",
    response_class=HTMLResponse,
    status_code=303,
    summary="Send a new code for a request (then: the code page)",
    **public(responses={**HTML, 429: {"description": "No more codes for now"}}),
)
async def resend_code(request: Request, request_id: Annotated[str, _ID]) -> Response:
    form = await _read_form(request)
    return await run_in_threadpool(_resend, request, request_id, form)


def _resend(request: Request, request_id: str, form: dict[str, str]) -> Response:
    lang = language_of(request, form.get("lang") or None)
    token = form.get("token", "")
    if not form_is_genuine(request, form):
        return _expired(request, lang, guard_of(request), _status_href(request_id, token, lang))
    state = _ready(request)
    try:
        with state.store.transaction() as session:
            service.resend_code(session, state.holder.manifest, request_id, token)
    except NotFoundError:
        return _invalid(request, lang)
    except RequestError:
        found = _find(request, request_id, token)
        if found is None:
            return _invalid(request, lang)
        errors = {"code": FieldError("resend_refused", "code")}
        return _request_page(request, found, token, lang, errors=errors, status=429)
    return RedirectResponse(_status_href(request_id, token, lang, sent="1"), status_code=303)
