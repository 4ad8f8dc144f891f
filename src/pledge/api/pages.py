"""Notices and the other public pages as the running service serves them.

The notice renderer links pages as a static site (`../nb/general.html`); here the same
templates get a `ServedPage` whose links point at this service (`/notices/general?lang=nb`).
Rendered pages are cached per manifest digest and notice history, so a reload or a newly
published version is served at once and nothing else is rendered twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from pledge.errors import NotFoundError, PledgeError
from pledge.manifest.model import Manifest
from pledge.manifest_holder import ManifestHolder
from pledge.notices.gpc import gpc_resource
from pledge.notices.render import (
    Page,
    check_format,
    check_language,
    context,
    render_template,
)
from pledge.notices.versions import history_path, load_history
from pledge.notices.view import build_view

log = logging.getLogger("pledge.api.pages")
NOTICES = "/notices"
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}
_CACHE_SIZE = 256


@dataclass(frozen=True)
class ServedPage(Page):
    """Links between pages of the running service instead of a static site's files."""

    def href(self, name: str, lang: str | None = None) -> str:
        code = quote(lang or self.lang, safe="")
        if name == "index":
            return f"{NOTICES}/?lang={code}"
        return f"{NOTICES}/{quote(name, safe='')}?lang={code}"

    @property
    def root(self) -> str:
        return f"{NOTICES}/?lang={quote(self.lang, safe='')}" if self.lang else f"{NOTICES}/"


@dataclass(frozen=True)
class Rendered:
    """A page ready to send: its text, media type, language and entity tag."""

    text: str
    media_type: str
    language: str
    etag: str


class NoticePages:
    """Renders (and caches) the notice pages of the manifest a holder currently has."""

    def __init__(self, holder: ManifestHolder) -> None:
        self.holder = holder
        self._cache: OrderedDict[tuple[str, ...], Rendered] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def manifest(self) -> Manifest:
        return self.holder.manifest

    def _history_key(self) -> str:
        try:
            stat = history_path(self.holder.path).stat()
        except OSError:
            return "-"
        return f"{stat.st_mtime_ns}:{stat.st_size}"

    def history(self) -> Sequence[Any]:
        """Published notice versions; none (and a log line) when the history is unreadable."""
        try:
            return load_history(self.holder.path)
        except PledgeError as exc:
            log.warning("serving notices without their version history: %s", exc)
            return ()

    def _cached(
        self, key: tuple[str, ...], lang: str, fmt: str, render: Callable[[], str]
    ) -> Rendered:
        full = (self.manifest.digest, self._history_key(), *key)
        with self._lock:
            hit = self._cache.get(full)
            if hit is not None:
                self._cache.move_to_end(full)
                return hit
        text = render()
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
        page = Rendered(text, MEDIA_TYPES[fmt], lang, etag)
        with self._lock:
            self._cache[full] = page
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return page

    def notice(self, notice_id: str, lang: str, fmt: str = "html") -> Rendered:
        """Notice `notice_id` in `lang`; NotFoundError for an undeclared notice or format."""
        manifest = self.manifest
        if notice_id not in manifest.notices:
            raise NotFoundError(f"there is no notice '{notice_id}'; see {NOTICES}/ for the list")
        checked = check_format(fmt)
        check_language(manifest, lang)

        def render() -> str:
            view = build_view(manifest, notice_id, self.history())
            ctx = context(manifest, lang, checked, ServedPage(lang, notice_id), view=view)
            return render_template(f"notice.{checked}", ctx)

        return self._cached(("notice", notice_id, lang, checked), lang, checked, render)

    def index(self, lang: str) -> Rendered:
        manifest = self.manifest
        check_language(manifest, lang)

        def render() -> str:
            ctx = context(manifest, lang, "html", ServedPage(lang, "index"))
            return render_template("index.html", ctx)

        return self._cached(("index", lang), lang, "html", render)

    def version_history(self, lang: str) -> Rendered:
        manifest = self.manifest
        check_language(manifest, lang)

        def render() -> str:
            history = tuple(reversed(self.history()))
            ctx = context(manifest, lang, "html", ServedPage(lang, "history"), history=history)
            return render_template("history.html", ctx)

        return self._cached(("history", lang), lang, "html", render)

    def gpc(self) -> dict[str, Any]:
        return gpc_resource(self.manifest, self.history())

    def privacy_centre(self, lang: str) -> Rendered:
        return self._cached(("privacy", lang), lang, "html", lambda: _privacy_html(self, lang))


def _privacy_html(pages: NoticePages, lang: str) -> str:
    """The privacy centre's first page: the notices, and how to reach the privacy team."""
    manifest = pages.manifest
    org = manifest.organization
    rows = []
    for key, notice in manifest.notices.items():
        links = Markup(" · ").join(
            Markup('<a href="{}" lang="{}" hreflang="{}">{}</a>').format(
                ServedPage(code, key).href(key), code, code, code
            )
            for code in manifest.languages
        )
        title = manifest.text(notice.title, lang)
        rows.append(Markup("<li><strong>{}</strong><br>{}</li>").format(title, links))
    contact = org.contact.email
    reach = (
        Markup('<p>Or write to <a href="mailto:{0}">{0}</a>.</p>').format(contact)
        if contact
        else Markup("")
    )
    return str(
        Markup(_PRIVACY).format(
            lang=lang,
            org=escape(org.name),
            notices=Markup("\n").join(rows),
            reach=reach,
            index=ServedPage(lang, "index").href("index"),
            choices=f"/privacy/choices?lang={lang}",
        )
    )


_PRIVACY = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Privacy centre – {org}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem;
  line-height: 1.6; color: #1b1f24; }}
a {{ color: #0a56a3; }}
li {{ margin: 0.5rem 0; }}
.note {{ background: #f3f6f9; border-left: 4px solid #0a56a3; padding: 0.5rem 1rem; }}
</style>
</head>
<body>
<main>
<h1>Privacy centre – {org}</h1>
<h2>Our privacy notices</h2>
<ul>
{notices}
</ul>
<p><a href="{index}">All notices</a></p>
<h2>Your choices</h2>
<p><a href="{choices}">Cookies, programmes and marketing: see and change your choices</a></p>
<h2>Your rights</h2>
<div class="note">
<p>You may ask for a copy of your data, a correction or an erasure. A form on this page
comes in the next release; until then requests are taken through the API
(<code>POST /v1/requests</code>, see <a href="/docs">/docs</a>).</p>
{reach}
</div>
</main>
</body>
</html>
"""


def docs_html(openapi: dict[str, Any]) -> str:
    """A script-free page describing every operation of the OpenAPI document."""
    info = openapi.get("info", {})
    sections = []
    for path, operations in sorted(openapi.get("paths", {}).items()):
        for method, op in operations.items():
            if not isinstance(op, dict):
                continue
            if op.get("x-pledge-public"):
                who = Markup("<span class=public>public</span>")
            else:
                who = Markup("needs <code>{}</code>").format(op.get("x-pledge-permission", "?"))
            params = Markup(", ").join(
                Markup("<code>{}</code> ({})").format(p.get("name"), p.get("in"))
                for p in op.get("parameters", [])
            )
            responses = Markup(", ").join(
                Markup("<code>{}</code>").format(code) for code in op.get("responses", {})
            )
            sections.append(
                Markup(
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td>"
                    "<td>{}</td><td>{}</td><td>{}</td></tr>"
                ).format(
                    method.upper(),
                    path,
                    op.get("summary", ""),
                    who,
                    params or "–",
                    responses,
                )
            )
    return str(
        Markup(_DOCS).format(
            title=info.get("title", "API"),
            version=info.get("version", ""),
            rows=Markup("\n").join(sections),
        )
    )


_DOCS = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} {version} – API</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1b1f24; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; vertical-align: top; padding: 0.35rem 0.6rem;
  border-bottom: 1px solid #d5dbe1; }}
.public {{ color: #1e6b3a; font-weight: 600; }}
</style>
</head>
<body>
<h1>{title} {version}</h1>
<p>The machine-readable description is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1);
load it into any OpenAPI client. Routes that are not public need an API key:
<code>Authorization: Bearer plg_…</code> or <code>X-API-Key: plg_…</code>. Errors are
RFC 9457 problem documents (<code>application/problem+json</code>).</p>
<table>
<thead><tr><th>Method</th><th>Path</th><th>What</th><th>Who</th><th>Parameters</th>
<th>Answers</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""
