"""GET /privacy: the privacy centre's front page, its stylesheet, and what its pages share.

The centre's pages are HTML for people, so their errors are pages too: `PageRoute` turns the
public rate limit's 429 into a short page in the reader's language instead of a problem
document (the limit itself is the same `public()` one every public route has).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from pledge.api.auth import Responses, public
from pledge.api.pages import CENTRE, centre_of, with_query
from pledge.api.problems import Problem, asset
from pledge.api.routes.notices import language_of, pages_of, send_page
from pledge.api.state import state_of
from pledge.requests.render import STYLESHEET, STYLESHEET_PATH, render

HTML: Responses = {200: {"content": {"text/html": {}}, "description": "The page"}}
#: Pages with a form or a person's request: never kept by a browser or a proxy. Their
#: addresses may hold a status token, so the referrer stays on this site; there it lets the
#: browser send a real `Origin` with the forms, which the form guard checks.
PRIVATE = {
    "Cache-Control": "no-store",
    "Vary": "Accept-Language, Cookie",
    "Referrer-Policy": "same-origin",
}


def message_page(request: Request, lang: str, kind: str, back: str, status: int) -> HTMLResponse:
    """A short page saying what happened and where to go on (invalid link, expired form …)."""
    manifest = state_of(request).holder.manifest
    centre = centre_of(manifest, lang, lambda code: with_query(back.split("?")[0], code))
    html = render("privacy/message.html", lang, centre=centre, kind=kind, back=back)
    headers = {**PRIVATE, "Content-Language": lang}
    return HTMLResponse(html, status_code=status, headers=headers)


class PageRoute(APIRoute):
    """A route whose 429 (rate limit) is a page in the reader's language, with Retry-After."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Problem as exc:
                if exc.status != 429:
                    raise
                lang = language_of(request, request.query_params.get("lang"))
                page = message_page(request, lang, "slow_down", with_query(CENTRE, lang), 429)
                page.headers.update(exc.headers or {})
                return page

        return page_handler


router = APIRouter(tags=["privacy centre"], route_class=PageRoute)


@router.get(
    CENTRE,
    response_class=Response,
    summary="The privacy centre: notices in every language, choices, rights and contact",
    **public(responses=HTML),
)
def privacy_centre(
    request: Request, lang: Annotated[str | None, Query(max_length=35)] = None
) -> Response:
    return send_page(request, pages_of(request).privacy_centre(language_of(request, lang)))


@router.get(
    STYLESHEET_PATH,
    summary="The privacy centre's stylesheet",
    response_class=FileResponse,
    **public(asset("text/css")),
)
def stylesheet() -> FileResponse:
    return FileResponse(
        STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/", include_in_schema=False, **public())
def root() -> RedirectResponse:
    """The service's front door is the privacy centre."""
    return RedirectResponse(CENTRE, status_code=307)
