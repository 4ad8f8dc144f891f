"""The mailed download link: a page with a button, so only a person's click spends the link.

Mail scanners and link previews open every link in a mail (a GET) before the person does; a
link that downloaded on GET would be spent by them. So the GET is a page in the person's
language that spends nothing, and its button posts the form (with the centre's form guard)
that redeems the token and sends the zip, an audited read (`request.read`). A used, expired or
unknown link gets a page saying how to get a new one, never an API error.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from pledge.api.auth import public
from pledge.api.formguard import Guard, form_is_genuine, guard_of
from pledge.api.pages import centre_of, with_query
from pledge.api.routes.notices import language_of
from pledge.api.routes.privacy import HTML, PageRoute
from pledge.api.routes.privacy_requests import REQUESTS, _expired, _read_form, _ready, _send
from pledge.api.routes.requests import package_response
from pledge.api.state import state_of
from pledge.requests import package
from pledge.requests.render import render

DOWNLOAD = package.DOWNLOAD_PAGE + "{token}"
_TOKEN = Path(min_length=10, max_length=100)
_LANG = Query(max_length=35)

router = APIRouter(tags=["privacy centre"], route_class=PageRoute)

PAGE: dict[str, Any] = {"content": {"text/html": {}}}
"""Every answer of these routes is a page in the person's language, errors too."""


def _page(
    request: Request,
    token: str,
    lang: str | None,
    link: package.Link | None,
    *,
    state: str,
    guard: Guard | None = None,
) -> Response:
    """The link's page in the person's language (the request's, unless they chose one)."""
    language = language_of(request, lang or (link.language if link else None))
    manifest = state_of(request).holder.manifest
    here = package.DOWNLOAD_PAGE + token
    centre = centre_of(manifest, language, lambda code: with_query(here, code))
    html = render(
        "privacy/download.html",
        language,
        centre=centre,
        state=state,
        reference=link.reference if link else None,
        expires=link.state.expires_at if link else None,
        csrf=guard.token if guard else "",
        request_href=with_query(REQUESTS, language),
    )
    status = {"ready": 200, "unknown": 404}.get(state, 410)
    return _send(request, html, language, status, guard)


def _state_of(link: package.Link | None) -> str:
    if link is None:
        return "unknown"
    if link.state.downloaded_at is not None:
        return "spent"
    return "expired" if link.state.expired() else "ready"


def _peek(request: Request, token: str) -> package.Link | None:
    with state_of(request).store.reader() as session:
        return package.peek(session, token)


@router.get(
    DOWNLOAD,
    response_class=HTMLResponse,
    summary="A mailed download link: the page whose button downloads (opening it spends nothing)",
    **public(
        responses={
            **HTML,
            404: {**PAGE, "description": "Unknown link: a page saying how to get a new one"},
            410: {**PAGE, "description": "Used or expired: a page saying how to get a new one"},
        }
    ),
)
def download_page(
    request: Request,
    token: Annotated[str, _TOKEN],
    lang: Annotated[str | None, _LANG] = None,
) -> Response:
    link = _peek(request, token)
    state = _state_of(link)
    guard = guard_of(request) if state == "ready" else None
    return _page(request, token, lang, link, state=state, guard=guard)


@router.post(
    DOWNLOAD,
    response_class=Response,
    summary="Download an access package: the download page's button (single use)",
    **public(
        responses={
            200: {"content": {"application/zip": {}}, "description": "The package"},
            400: {**PAGE, "description": "The form is not this site's or has expired: a page"},
            404: {**PAGE, "description": "Unknown link: a page saying how to get a new one"},
            410: {**PAGE, "description": "Used or expired: a page saying how to get a new one"},
        }
    ),
)
async def download(request: Request, token: Annotated[str, _TOKEN]) -> Response:
    form = await _read_form(request)
    return await run_in_threadpool(_download, request, token, form)


def _download(request: Request, token: str, form: dict[str, str]) -> Response:
    lang = form.get("lang") or None
    if not form_is_genuine(request, form):
        link = _peek(request, token)
        language = language_of(request, lang or (link.language if link else None))
        back = with_query(package.DOWNLOAD_PAGE + token, language)
        return _expired(request, language, guard_of(request), back)
    try:
        with _ready(request).store.transaction() as session:
            req, content = package.redeem(session, token)
    except package.DownloadRefused:
        link = _peek(request, token)
        state = _state_of(link)
        # spent by another click between our look and the redeem: say so
        return _page(request, token, lang, link, state="spent" if state == "ready" else state)
    return package_response(req.reference, content)
