"""Notices rendered from the manifest: HTML, Markdown and plain text in every declared language.

`build_view` decides what a notice says; `render_notice`/`render_view` say it in one language
and format; `build_site` writes the static site; `render_collection_point` makes the short
notice for one form (P-S3).
"""

from __future__ import annotations

from pledge.notices.render import (
    FORMATS,
    render_collection_point,
    render_history,
    render_index,
    render_notice,
    render_view,
)
from pledge.notices.view import NoticeView, build_view

__all__ = [
    "FORMATS",
    "NoticeView",
    "build_view",
    "render_collection_point",
    "render_history",
    "render_index",
    "render_notice",
    "render_view",
]
