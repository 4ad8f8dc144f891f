"""The OpenAPI document and a script-free page that describes it (CSP allows no CDN scripts)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from pledge.api.auth import public
from pledge.api.pages import docs_html

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False, **public())
def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse, **public())
def docs_page(request: Request) -> HTMLResponse:
    return HTMLResponse(docs_html(request.app.openapi()))
