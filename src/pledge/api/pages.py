"""Notices and the other public pages as the running service serves them.

The notice renderer links pages as a static site (`../nb/general.html`); here the same
templates get a `ServedPage` whose links point at this service (`/notices/general?lang=nb`).
Rendered pages are cached per manifest digest and notice history, so a reload or a newly
published version is served at once and nothing else is rendered twice.

The privacy centre's front page is rendered here too, from `web/templates/privacy/` in the
centre's catalog; `centre_of` gives every centre page (and the request pages) its layout.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup

from pledge.errors import NotFoundError, PledgeError
from pledge.manifest.jurisdictions import RIGHT_KINDS
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
from pledge.policy import rights_offered
from pledge.requests.render import render as render_centre

log = logging.getLogger("pledge.api.pages")
NOTICES = "/notices"
CENTRE = "/privacy"
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


@dataclass(frozen=True)
class LanguageLink:
    """One entry of the language switcher."""

    code: str
    href: str
    current: bool


@dataclass(frozen=True)
class Centre:
    """What the privacy centre's layout shows on every page: who, in which languages, whom
    to write to."""

    org_name: str
    contact_email: str | None
    languages: tuple[LanguageLink, ...]


def with_query(path: str, lang: str, **params: str) -> str:
    """`path?lang=…&…`, encoded: every link of the centre keeps the reader's language."""
    return f"{path}?{urlencode({'lang': lang, **params})}"


def centre_of(manifest: Manifest, lang: str, href_for: Callable[[str], str]) -> Centre:
    """The layout's context; `href_for(code)` is this page in another language."""
    links = tuple(LanguageLink(c, href_for(c), c == lang) for c in manifest.languages)
    org = manifest.organization
    return Centre(org.name, org.contact.email, links)


def centre_jurisdictions(manifest: Manifest) -> list[str]:
    """The jurisdictions a person may say they live in; `global` covers everywhere else."""
    return list(dict.fromkeys([*manifest.jurisdictions, "global"]))


def rights_anywhere(manifest: Manifest) -> list[str]:
    """Every right offered under at least one jurisdiction, in the order of the law's list:
    the request kinds the form takes, and the rights used elsewhere (choices, contact)."""
    offered = {k for j in centre_jurisdictions(manifest) for k in rights_offered(manifest, j)}
    return [k for k in RIGHT_KINDS if k in offered]


def _org_facts(manifest: Manifest, lang: str) -> dict[str, str | None]:
    org = manifest.organization
    authority = org.supervisory_authority
    dispute = org.dispute_resolution
    return {
        "dispute_name": manifest.text(dispute.name, lang) if dispute else None,
        "dispute_url": dispute.url if dispute else None,
        "contact_name": manifest.text(org.contact.name, lang) or None,
        "contact_email": org.contact.email,
        "contact_postal": manifest.text(org.contact.postal, lang) or None,
        "dpo_name": (manifest.text(org.dpo.name, lang) or None) if org.dpo else None,
        "dpo_email": org.dpo.email if org.dpo else None,
        "authority_name": manifest.text(authority.name, lang) if authority else None,
        "authority_url": authority.url if authority else None,
    }


def _privacy_html(pages: NoticePages, lang: str) -> str:
    """The privacy centre's front page: notices in every language, choices, rights, contact."""
    manifest = pages.manifest
    notices = [
        {
            "title": manifest.text(notice.title, lang),
            "href": ServedPage(lang, key).href(key),
            "languages": [
                {"code": code, "href": ServedPage(code, key).href(key)}
                for code in manifest.languages
                if code != lang
            ],
        }
        for key, notice in manifest.notices.items()
    ]
    return render_centre(
        "privacy/index.html",
        lang,
        centre=centre_of(manifest, lang, lambda code: with_query(CENTRE, code)),
        notices=notices,
        notices_href=ServedPage(lang, "index").href("index"),
        rights=rights_anywhere(manifest),
        org=_org_facts(manifest, lang),
    )


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
