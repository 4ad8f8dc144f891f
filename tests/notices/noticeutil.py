"""Helpers for the notice tests: where the manifests are, and reading rendered HTML back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = Path(__file__).parent / "fixtures" / "tiny" / "pledge.yaml"
EXAMPLE = ROOT / "examples" / "lumen" / "pledge.yaml"
PROMISES_DOC = ROOT / "docs" / "promises.md"
LOCALES = ROOT / "src" / "pledge" / "notices" / "locales"
VOID = {"br", "meta", "link", "img", "input", "hr", "source", "wbr", "col", "area", "base"}
# Attributes a reader sees or hears: labels read by screen readers and shown in stacked tables.
READ_ATTRIBUTES = ("aria-label", "data-label", "title", "alt")


@dataclass
class Page:
    """What the tests need to know about one rendered HTML page."""

    lang: str | None = None
    text: list[str] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    promises: set[str] = field(default_factory=set)
    tables: int = 0
    captions: int = 0
    th_without_scope: int = 0
    foreign: list[tuple[str, str]] = field(default_factory=list)

    @property
    def own_text(self) -> str:
        """Everything a reader of the page's language gets, without marked fallbacks."""
        return " ".join(" ".join(self.text).split())


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[tuple[str, str | None]] = []
        self.heading: tuple[int, list[str]] | None = None
        self.in_thead = False
        self.skip = 0  # depth inside <style>, <script> or an element in another language

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.page.lang = a.get("lang")
        lang = a.get("lang")
        foreign = lang is not None and tag != "html" and lang != self.page.lang
        if tag not in VOID:
            self.stack.append((tag, lang if foreign else None))
            if foreign or tag in ("style", "script") or self.skip:
                self.skip += 1
        if a.get("id"):
            self.page.ids.add(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.page.links.append(str(a["href"]))
        if a.get("data-promises"):
            self.page.promises.update(str(a["data-promises"]).split())
        if tag == "table":
            self.page.tables += 1
        if tag == "caption":
            self.page.captions += 1
        if tag == "th" and not a.get("scope"):
            self.page.th_without_scope += 1
        if re.fullmatch(r"h[1-6]", tag):
            self.heading = (int(tag[1]), [])
        if not self.skip:
            self.page.text.extend(str(a[k]) for k in READ_ATTRIBUTES if a.get(k))

    def handle_endtag(self, tag: str) -> None:
        if self.heading and tag == f"h{self.heading[0]}":
            self.page.headings.append((self.heading[0], " ".join("".join(self.heading[1]).split())))
            self.heading = None
        while self.stack:
            name, _ = self.stack.pop()
            if self.skip:
                self.skip -= 1
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.heading is not None:
            self.heading[1].append(data)
        if self.skip:
            foreign = next((lang for _, lang in reversed(self.stack) if lang), None)
            if foreign and data.strip():
                self.page.foreign.append((foreign, data.strip()))
            return
        self.page.text.append(data)


def read_page(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page


def promise_ids(doc: Path = PROMISES_DOC) -> list[str]:
    """The promise ids (G1 … S20) listed in the first column of docs/promises.md."""
    found = re.findall(r"^\|\s*(?:P-)?([GS]\d+)\s*\|", doc.read_text(encoding="utf-8"), re.M)
    return list(dict.fromkeys(found))
