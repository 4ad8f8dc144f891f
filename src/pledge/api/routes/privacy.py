"""GET /privacy: the privacy centre's front page (notices and how to reach the team for now)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from pledge.api.auth import public
from pledge.api.routes.notices import language_of, pages_of, send_page

router = APIRouter(tags=["notices"])


@router.get(
    "/privacy",
    response_class=Response,
    summary="The privacy centre: every notice in every language",
    **public(responses={200: {"content": {"text/html": {}}, "description": "The page"}}),
)
def privacy_centre(
    request: Request, lang: Annotated[str | None, Query(max_length=35)] = None
) -> Response:
    return send_page(request, pages_of(request).privacy_centre(language_of(request, lang)))


@router.get("/", include_in_schema=False, **public())
def root() -> RedirectResponse:
    """The service's front door is the privacy centre."""
    return RedirectResponse("/privacy", status_code=307)
