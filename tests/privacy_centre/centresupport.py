"""Helpers of the privacy centre's tests: the Lumen example served with its demo databases,
the forms' tokens, and the visible text of a page (to look for English that should not be)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from consentsupport import lumen_copy
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pledge.api.app import create_app
from pledge.api.settings import ApiSettings
from pledge.config import Settings
from pledge.demo import SEED, Person, make_people, prepare_databases
from pledge.manifest.model import Manifest
from pledge.manifest_holder import ManifestHolder
from pledge.requests.tables import DataRequest
from pledge.store.db import Store
from pledge.store.migrations import upgrade

LANGUAGES = ("en", "nb", "nl", "de", "fr")
PEOPLE = 24
UNKNOWN = "nobody.at.all@unknown.example.org"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Centre:
    """The service over the Lumen example, with its product databases full of demo people."""

    app: FastAPI
    client: TestClient
    store: Store
    holder: ManifestHolder
    manifest_path: Path

    @property
    def manifest(self) -> Manifest:
        return self.holder.manifest

    def requests_stored(self) -> int:
        with self.store.reader() as session:
            return int(session.scalar(select(func.count()).select_from(DataRequest)) or 0)

    def form(self, lang: str = "en", **params: str) -> tuple[str, str]:
        """The request form's HTML and its token (the client keeps the cookie)."""
        page = self.client.get("/privacy/requests", params={"lang": lang, **params})
        assert page.status_code == 200, page.text
        return page.text, csrf_of(page.text)

    def submit(self, lang: str = "en", **fields: str) -> httpx.Response:
        """Fill in and send the request form as a browser would (no redirects followed)."""
        _, token = self.form(lang)
        data = {"csrf": token, "lang": lang, "jurisdiction": "eu", "language": lang, **fields}
        return self.client.post("/privacy/requests", data=data, follow_redirects=False)

    def post_code(self, location: str, code: str, lang: str = "en") -> httpx.Response:
        """Enter `code` on the code page at `location` (a request's page)."""
        return self._post(location, "verify", lang, code=code)

    def post_resend(self, location: str, lang: str = "en") -> httpx.Response:
        """Press "send a new code" on the code page at `location`."""
        return self._post(location, "resend", lang)

    def _post(self, location: str, action: str, lang: str, **fields: str) -> httpx.Response:
        request_id, token = ids_of(location)
        page = self.client.get(location)
        data = {"csrf": csrf_of(page.text), "token": token, "lang": lang, **fields}
        return self.client.post(
            f"/privacy/requests/{request_id}/{action}", data=data, follow_redirects=False
        )


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def ids_of(location: str) -> tuple[str, str]:
    """The request id and status token in the address of a request's page."""
    parts = urlsplit(location)
    return parts.path.rsplit("/", 1)[1], parse_qs(parts.query)["token"][0]


def known_person(country: str = "NO") -> Person:
    """A demo person of the given company country: present in the product databases."""
    return next(p for p in make_people(PEOPLE, SEED) if p.company.country == country)


def build_centre(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    api_settings: ApiSettings,
    public_url: str = "http://testserver",
) -> Iterator[Centre]:
    """A Lumen copy, its demo databases (env set), a migrated store, the app and a client."""
    path = lumen_copy(tmp_path / "lumen")
    holder = ManifestHolder(str(path))
    for db in prepare_databases(holder.manifest, tmp_path / "demo", PEOPLE, SEED):
        monkeypatch.setenv(db.url_env, db.url)
    settings = Settings(data_dir=tmp_path / "data", manifest=path, public_url=public_url)
    store = Store(settings)
    upgrade(store)
    store.vault  # noqa: B018  (opened at start, as the API and the worker do)
    app = create_app(settings, store, holder, api_settings=api_settings)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Centre(app, client, store, holder, path)
    finally:
        store.dispose()


# --- what a page says ---------------------------------------------------------------------------


class _Text(HTMLParser):
    """Visible text in the page's own language: no script or style, nothing marked `lang=` as
    another language (the language switcher's endonyms), attribute text that people read."""

    _SKIP = frozenset({"script", "style", "title"})
    _VOID = frozenset({"input", "br", "meta", "link", "img", "hr", "source", "wbr"})

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang
        self.stack: list[tuple[str, bool]] = []
        self.parts: list[str] = []

    def _hidden(self) -> bool:
        return any(hidden for _, hidden in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        other = found.get("lang") not in (None, self.lang) and tag != "html"
        if tag in self._VOID:
            if not other and not self._hidden():
                for name in ("placeholder", "alt", "aria-label", "title"):
                    if found.get(name):
                        self.parts.append(str(found[name]))
            return
        if not other and not self._hidden() and found.get("aria-label"):
            self.parts.append(str(found["aria-label"]))
        self.stack.append((tag, other or tag in self._SKIP))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._hidden() and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str, lang: str) -> str:
    parser = _Text(lang)
    parser.feed(html)
    return " ".join(parser.parts)


def same_but_ids(first: str, second: str, *values: str) -> tuple[str, str]:
    """Both pages with the given per-request values (ids, tokens, references) blanked."""
    for value in values:
        first = first.replace(value, "…")
        second = second.replace(value, "…")
    masked = [
        re.sub(r'name="csrf" value="[^"]+"', 'name="csrf" value=""', p) for p in (first, second)
    ]
    masked = [re.sub(r"R-[A-Z0-9]{4}-[A-Z0-9]{4}", "R-…", p) for p in masked]
    return masked[0], masked[1]
