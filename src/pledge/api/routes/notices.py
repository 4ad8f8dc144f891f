"""The rendered notices, in the language the reader asks for, and `/.well-known/gpc.json`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from pledge.api.auth import public
from pledge.api.negotiate import choose_language
from pledge.api.pages import NoticePages, Rendered
from pledge.api.schemas import ProblemDocument
from pledge.api.state import state_of

router = APIRouter(tags=["notices"])
_LANG = Query(
    max_length=35,
    description="Language code; default from Accept-Language, else the manifest's first. "
    "An undeclared language gets the default (see Content-Language).",
)
_HTML = {"content": {"text/html": {}}, "description": "The page"}


def pages_of(request: Request) -> NoticePages:
    pages = request.app.state.notice_pages
    assert isinstance(pages, NoticePages)
    return pages


def language_of(request: Request, lang: str | None) -> str:
    available = state_of(request).holder.manifest.languages
    return choose_language(available, lang, request.headers.get("accept-language"))


def send_page(request: Request, page: Rendered) -> Response:
    headers = {
        "Content-Language": page.language,
        "Vary": "Accept-Language",
        "ETag": page.etag,
        "Cache-Control": "public, max-age=60",
    }
    if page.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(page.text, media_type=page.media_type, headers=headers)


@router.get(
    "/notices/",
    response_class=Response,
    summary="The list of notices and their languages",
    **public(responses={200: _HTML}),
)
def notice_index(request: Request, lang: Annotated[str | None, _LANG] = None) -> Response:
    return send_page(request, pages_of(request).index(language_of(request, lang)))


@router.get(
    "/notices/{notice_id}",
    response_class=Response,
    summary="One notice, rendered in the negotiated language (`history`: every version)",
    **public(
        responses={
            200: {
                "content": {"text/html": {}, "text/markdown": {}, "text/plain": {}},
                "description": "The notice",
            },
            304: {"description": "Not modified (If-None-Match)"},
            404: {"model": ProblemDocument, "description": "No such notice"},
        }
    ),
)
def notice(
    request: Request,
    notice_id: Annotated[str, Path(min_length=1, max_length=100)],
    lang: Annotated[str | None, _LANG] = None,
    format: Annotated[Literal["html", "md", "txt"], Query()] = "html",
) -> Response:
    pages, language = pages_of(request), language_of(request, lang)
    if notice_id == "history" and notice_id not in pages.manifest.notices:
        return send_page(request, pages.version_history(language))
    return send_page(request, pages.notice(notice_id, language, format))


@router.get(
    "/.well-known/gpc.json",
    summary="Whether Global Privacy Control is honoured (GPC specification)",
    **public(responses={200: {"description": '{"gpc": true, "lastUpdate": "YYYY-MM-DD"}'}}),
)
def gpc_json(request: Request) -> JSONResponse:
    return JSONResponse(pages_of(request).gpc(), headers={"Cache-Control": "public, max-age=300"})
