"""The privacy centre's choices page, marketing preferences and one-click unsubscribe.

`/privacy/unsubscribe?token=…`: GET only shows a page with a button (link scanners prefetch
GETs, so a GET never unsubscribes); POST unsubscribes — with the RFC 8058 body
`List-Unsubscribe=One-Click` from a mail client, or from the page's form — without login,
and doing it again changes nothing.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from pledge.api.auth import Responses, public
from pledge.api.routes.notices import language_of
from pledge.api.state import state_of
from pledge.consent import banner, marketing, records
from pledge.consent.ids import vault_subject
from pledge.consent.pages import render
from pledge.consent.service import service_for

router = APIRouter(tags=["privacy centre"])
_TOKEN = Query(max_length=400)
_HTML: Responses = {200: {"content": {"text/html": {}}, "description": "The page"}}


def _subject(request: Request, token: str | None) -> str | None:
    if not token:
        return None
    return marketing.read_token(state_of(request).store.vault, token)


def _marketing_state(request: Request, subject_id: str) -> dict[str, bool]:
    manifest = state_of(request).holder.manifest
    derived = service_for(state_of(request).store).derived(manifest, vault_subject(subject_id))
    return {
        p: derived.consents.get(p, not manifest.purposes[p].is_consent)
        for p in marketing.marketing_purposes(manifest)
    }


def _choices_page(
    request: Request, lang: str, token: str | None, subject_id: str | None, saved: bool = False
) -> str:
    manifest = state_of(request).holder.manifest
    items = []
    if subject_id:
        items = [
            {"id": p, "name": manifest.purpose_name(p, lang), "on": on}
            for p, on in _marketing_state(request, subject_id).items()
        ]
    programmes = [
        {
            "name": manifest.text(p.name, lang),
            "description": manifest.text(p.description, lang),
            "how": manifest.text(p.how_to_change, lang),
        }
        for p in manifest.programs.values()
    ]
    dnt = banner.config(manifest, lang, "global")["dnt"]["statement"]
    return render(
        "choices.html",
        lang,
        token=token if subject_id else None,
        invalid=bool(token) and not subject_id,
        marketing=items,
        programmes=programmes,
        dnt=dnt,
        saved=saved,
        jurisdiction="global",
    )


def _record(request: Request, subject_id: str, purposes: dict[str, bool], mechanism: str) -> None:
    state = state_of(request)
    manifest = state.holder.manifest
    choice = records.NewChoice(
        subject=vault_subject(subject_id),
        mechanism=mechanism,
        jurisdiction="global",
        language=language_of(request, None),
        collector="visitor",
        purposes=purposes,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    service_for(state.store).record(manifest, choice, state.settings.public_url.rstrip("/"))


@router.get(
    "/privacy/choices",
    response_class=HTMLResponse,
    summary="Privacy choices",
    **public(responses=_HTML),
)
async def choices_page(
    request: Request,
    token: Annotated[str | None, _TOKEN] = None,
    lang: Annotated[str | None, Query(max_length=35)] = None,
) -> HTMLResponse:
    language = language_of(request, lang)
    subject_id = await run_in_threadpool(_subject, request, token)
    html = await run_in_threadpool(_choices_page, request, language, token, subject_id)
    return HTMLResponse(html, status_code=200 if subject_id or not token else 403)


@router.post(
    "/privacy/choices",
    response_class=HTMLResponse,
    summary="Save marketing preferences (signed link, no login)",
    **public(responses=_HTML),
)
async def save_choices(
    request: Request,
    token: Annotated[str, _TOKEN],
    lang: Annotated[str | None, Query(max_length=35)] = None,
) -> HTMLResponse:
    language = language_of(request, lang)
    subject_id = await run_in_threadpool(_subject, request, token)
    if subject_id is None:
        html = await run_in_threadpool(_choices_page, request, language, token, None)
        return HTMLResponse(html, status_code=403)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    wanted = set(form.get("purpose", []))
    manifest = state_of(request).holder.manifest
    purposes = {p: p in wanted for p in marketing.marketing_purposes(manifest)}

    def save() -> str:
        if purposes != _marketing_state(request, subject_id):
            _record(request, subject_id, purposes, "custom")
        return _choices_page(request, language, token, subject_id, saved=True)

    return HTMLResponse(await run_in_threadpool(save))


@router.get(
    "/privacy/unsubscribe",
    response_class=HTMLResponse,
    summary="Unsubscribe confirmation page (never unsubscribes on GET)",
    **public(responses=_HTML),
)
async def unsubscribe_page(
    request: Request,
    token: Annotated[str, _TOKEN],
    lang: Annotated[str | None, Query(max_length=35)] = None,
) -> HTMLResponse:
    language = language_of(request, lang)
    subject_id = await run_in_threadpool(_subject, request, token)
    html = render("unsubscribe.html", language, token=token, invalid=subject_id is None, done=False)
    return HTMLResponse(html, status_code=200 if subject_id else 403)


@router.post(
    "/privacy/unsubscribe",
    response_class=HTMLResponse,
    summary="One-click unsubscribe (RFC 8058), idempotent, no login",
    **public(responses=_HTML),
)
async def unsubscribe(
    request: Request,
    token: Annotated[str, _TOKEN],
    lang: Annotated[str | None, Query(max_length=35)] = None,
) -> HTMLResponse:
    language = language_of(request, lang)
    subject_id = await run_in_threadpool(_subject, request, token)
    if subject_id is None:
        html = render("unsubscribe.html", language, token=token, invalid=True, done=False)
        return HTMLResponse(html, status_code=403)
    manifest = state_of(request).holder.manifest
    off = dict.fromkeys(marketing.marketing_purposes(manifest), False)

    def work() -> None:
        if any(_marketing_state(request, subject_id).values()):
            _record(request, subject_id, off, "withdrawal")

    await run_in_threadpool(work)
    html = render("unsubscribe.html", language, token=token, invalid=False, done=True)
    return HTMLResponse(html)
