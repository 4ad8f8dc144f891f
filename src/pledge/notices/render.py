"""Render notices from the manifest: HTML, Markdown and plain text, in any declared language.

`view.build_view` decides what a notice says (language-neutral); this module says it in one
language and one format. Words come from three places only: the manifest's own text (used as
given, or the default language's text marked with its own `lang`), Pledge's catalogs for fixed
sentences, and Babel for dates, durations, lists and country names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, get_args

from markupsafe import Markup, escape

from pledge.errors import NotFoundError
from pledge.manifest.model import Manifest
from pledge.manifest.taxonomy import TaxonomyEntry
from pledge.manifest.types import Duration, LocalText
from pledge.notices.format import ListStyle, formatter
from pledge.notices.i18n import environment, gettext_callables, labels
from pledge.notices.view import NoticeView, PublishedVersion, build_view, change_ref

Format = Literal["html", "md", "txt"]
FORMATS: tuple[str, ...] = get_args(Format)
_TAXONOMY_TABLES = {"purpose": "uses", "category": "categories", "subject": "subjects"}
_SPACES = re.compile(r"[ \t\r\n]+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


# --- checks -----------------------------------------------------------------------------------


def check_language(manifest: Manifest, lang: str) -> None:
    """Refuse a language the manifest does not declare (its notices promise only those)."""
    if lang not in manifest.languages:
        declared = ", ".join(manifest.languages)
        raise NotFoundError(f"language '{lang}' is not declared in the manifest ({declared})")


def check_format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise NotFoundError(f"format '{fmt}' is not one of {', '.join(FORMATS)}")
    return fmt  # type: ignore[return-value]


# --- links within the static site ---------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """Where the page being rendered sits in the site (`<lang>/<name>.html`), for relative links.

    A single notice rendered on its own links as if it were in the site, so the same file can be
    dropped into a published site unchanged.
    """

    lang: str
    name: str

    def href(self, name: str, lang: str | None = None) -> str:
        lang = lang or self.lang
        if self.name == "" and self.lang == "":
            return f"{lang}/{name}.html"
        return f"{name}.html" if lang == self.lang else f"../{lang}/{name}.html"

    @property
    def root(self) -> str:
        return "index.html" if self.lang == "" else "../index.html"


SITE_ROOT = Page("", "")
_LOCALIZER_CACHE = 64
_LOCALIZERS: dict[tuple[int, str, str], Localizer] = {}


# --- words for one language ---------------------------------------------------------------------


class Localizer:
    """Manifest values as text in one language and format; the templates' only source of words.

    Text missing in the language falls back to the manifest's default language; in HTML it is
    wrapped in an element with its own `lang`, so screen readers and translators see it.
    """

    def __init__(self, manifest: Manifest, lang: str, fmt: Format) -> None:
        self.manifest = manifest
        self.lang = lang
        self.fmt = fmt
        self.formatter = formatter(lang)
        self._names: dict[tuple[str, str, bool], str] = {}

    @classmethod
    def of(cls, manifest: Manifest, lang: str, fmt: Format) -> Localizer:
        """A shared localizer, so names looked up for one notice serve the next ones too.

        Keyed by the manifest's identity; the cache holds the manifest, so an id is never
        reused while its entry lives, and the cache is small and bounded.
        """
        key = (id(manifest), lang, fmt)
        found = _LOCALIZERS.get(key)
        if found is None or found.manifest is not manifest:
            found = _LOCALIZERS[key] = cls(manifest, lang, fmt)
            while len(_LOCALIZERS) > _LOCALIZER_CACHE:
                del _LOCALIZERS[next(iter(_LOCALIZERS))]
        return found

    # manifest text
    def text(self, value: LocalText | None) -> str:
        if value is None:
            return ""
        text, used = value.get(self.lang, self.manifest.default_language)
        return self._marked(text, used)

    def unmarked(self, value: LocalText | None) -> str:
        """Manifest text where no markup may go (the page title): the fallback, unmarked."""
        return self.raw(value.text(self.lang, self.manifest.default_language)) if value else ""

    def name(self, kind: str, key: str) -> str:
        """The taxonomy name of a category, purpose (`uses`), subject or group.

        A key the manifest adds without a name reads as its nearest named ancestor, which says
        more to a reader than the dotted key itself.
        """
        memo = (kind, key, False)
        if memo not in self._names:
            entry = self._named_entry(kind, key)
            self._names[memo] = self._entry_text(entry.name if entry else None, entry, key)
        return self._names[memo]

    def description(self, kind: str, key: str) -> str:
        memo = (kind, key, True)
        if memo not in self._names:
            entry = self.manifest.taxonomy.table(kind).get(key)
            text = entry.description if entry is not None else None
            self._names[memo] = self._entry_text(text, entry, "") if text else ""
        return self._names[memo]

    def _entry_text(self, text: LocalText | None, entry: TaxonomyEntry | None, key: str) -> str:
        if text is None or entry is None:
            return self.raw(key)
        default = "en" if entry.builtin else self.manifest.default_language
        return self._marked(*text.get(self.lang, default))

    def _named_entry(self, kind: str, key: str) -> TaxonomyEntry | None:
        taxonomy = self.manifest.taxonomy
        entry = taxonomy.table(kind).get(key)
        if entry is not None and entry.name.plain != key:
            return entry
        ancestor = taxonomy.known_ancestor(kind, key)
        return taxonomy.table(kind)[ancestor] if ancestor is not None else entry

    def category(self, key: str) -> str:
        return self.name("categories", key)

    def purpose(self, key: str) -> str:
        return self.name("uses", key)

    def subject(self, key: str) -> str:
        return self.name("subjects", key)

    def group(self, key: str) -> str:
        return self.name("groups", key)

    def system(self, key: str) -> str:
        return self.text(self.manifest.systems[key].name)

    def recipient(self, key: str) -> str:
        recipient = self.manifest.recipients.get(key)
        return self.text(recipient.name) if recipient is not None else self.raw(key)

    def notice_title(self, key: str) -> str:
        return self.text(self.manifest.notices[key].title)

    def ref(self, kind: str, key: str) -> str:
        """The name of what a change is about (see `view.change_ref`)."""
        if kind in ("purpose", "category", "subject"):
            return self.name(_TAXONOMY_TABLES[kind], key)
        if kind == "recipient":
            return self.recipient(key)
        if kind == "system" and key in self.manifest.systems:
            return self.system(key)
        if kind == "program" and key in self.manifest.programs:
            return self.text(self.manifest.programs[key].name)
        if kind == "country":
            return self.country(key)
        return self.raw(key)

    def categories(self, keys: Iterable[str]) -> list[str]:
        return [self.category(k) for k in keys]

    def purposes(self, keys: Iterable[str]) -> list[str]:
        return [self.purpose(k) for k in keys]

    def subjects(self, keys: Iterable[str]) -> list[str]:
        return [self.subject(k) for k in keys]

    def systems(self, keys: Iterable[str]) -> list[str]:
        return [self.system(k) for k in keys]

    def recipients(self, keys: Iterable[str]) -> list[str]:
        return [self.recipient(k) for k in keys]

    def countries(self, codes: Iterable[str]) -> list[str]:
        return [self.country(c) for c in codes]

    # Babel
    def date(self, value: date | None) -> str:
        return self.raw(self.formatter.date(value)) if value is not None else ""

    def duration(self, value: Duration) -> str:
        return self.raw(self.formatter.duration(value))

    def country(self, code: str) -> str:
        return self.raw(self.formatter.country(code))

    def language(self, code: str) -> str:
        return self.raw(self.formatter.language(code))

    def list(self, items: Sequence[str], style: ListStyle = "standard") -> str:
        """Already formatted items joined the way the language joins them."""
        joined = self.formatter.join([str(i) for i in items], style)
        return Markup(joined) if self.fmt == "html" else joined

    # raw values and links
    def raw(self, value: str) -> str:
        """A literal value (a name, an address) made safe for the format."""
        if self.fmt == "html":
            return escape(value)
        return _MD_SPECIAL.sub(r"\\\1", value) if self.fmt == "md" else value

    def link(self, text: str, url: str) -> str:
        if self.fmt == "html":
            return Markup('<a href="{}">{}</a>').format(url, text)
        if self.fmt == "md":
            return f"[{text}](<{url}>)"
        if ":" not in url:
            return text  # a page of the site: plain text cannot follow a relative link
        return url if str(text) == url else f"{text} <{url}>"

    def url(self, url: str) -> str:
        return self.link(self.raw(url), url)

    def email(self, address: str) -> str:
        if self.fmt == "txt":
            return address
        return self.link(self.raw(address), f"mailto:{address}")

    def _marked(self, text: str, used: str) -> str:
        if self.fmt == "html":
            if used != self.lang:
                return Markup('<span lang="{}">{}</span>').format(used, text)
            return escape(text)
        return self.raw(text)


class PlainWriter:
    """Blocks of Markdown or plain text: headings, wrapped paragraphs, lists and tables."""

    def __init__(self, fmt: Format, width: int = 78) -> None:
        self.md = fmt == "md"
        self.width = width

    def h(self, level: int, text: str) -> str:
        text = str(text)
        if self.md:
            return f"{'#' * level} {text}\n\n"
        if level <= 3:
            return f"{text}\n{'=-~'[level - 1] * len(text)}\n\n"
        return f"{text}\n\n"

    def p(self, *parts: str) -> str:
        text = " ".join(str(p) for p in parts if p)
        return self._wrap(text, "", "") + "\n\n" if text else ""

    def ul(self, items: Iterable[str]) -> str:
        lines = [self._wrap(str(i), "- ", "  ") for i in items if i]
        return "\n".join(lines) + "\n\n" if lines else ""

    def ol(self, items: Iterable[str]) -> str:
        lines = [self._wrap(str(i), f"{n}. ", "   ") for n, i in enumerate(items, start=1)]
        return "\n".join(lines) + "\n\n" if lines else ""

    def strong(self, text: str) -> str:
        return f"**{text}**" if self.md else str(text)

    def table(self, caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
        rows = [[str(c) for c in row] for row in rows]
        if self.md:
            head = "| " + " | ".join(str(h) for h in headers) + " |"
            rule = "|" + "|".join("---" for _ in headers) + "|"
            body = [
                "| " + " | ".join(c.replace("\n", " ") or "–" for c in row) + " |" for row in rows
            ]
            return f"{self.strong(caption)}\n\n" + "\n".join([head, rule, *body]) + "\n\n"
        blocks = [f"{caption}\n"]
        for row in rows:
            lines = [self._wrap(row[0], "- ", "  ")]
            lines += [
                self._wrap(f"{header}: {cell}", "  ", "    ")
                for header, cell in zip(headers[1:], row[1:], strict=True)
                if cell
            ]
            blocks.append("\n".join(lines))
        return "\n".join(blocks) + "\n\n"

    def _wrap(self, text: str, first: str, rest: str) -> str:
        """Greedy word wrap for plain text; faster than `textwrap`, keeps no-break spaces."""
        if self.md:  # Markdown keeps each paragraph and item on one line
            return first + _SPACES.sub(" ", text.strip())
        if len(first) + len(text) <= self.width and "\n" not in text:
            return first + text.strip()
        lines: list[str] = []
        line, width = first, self.width
        fresh = True
        for word in _SPACES.split(text.strip()):
            if not fresh and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = rest + word
            else:
                line = line + word if fresh else f"{line} {word}"
            fresh = False
        lines.append(line)
        return "\n".join(lines)


# --- rendering ----------------------------------------------------------------------------------


def context(manifest: Manifest, lang: str, fmt: Format, page: Page, **extra: Any) -> dict[str, Any]:
    """What every template gets: the language's gettext, words, writer, links and languages."""
    return {
        **gettext_callables(lang),
        "L": labels(lang, fmt == "html"),
        "lang": lang,
        "fmt": fmt,
        "manifest": manifest,
        "org": manifest.organization,
        "loc": Localizer.of(manifest, lang, fmt),
        "out": PlainWriter(fmt) if fmt != "html" else None,
        "page": page,
        "languages": manifest.languages,
        "change_ref": change_ref,
        **extra,
    }


def render_template(name: str, ctx: dict[str, Any]) -> str:
    html = ctx["fmt"] == "html"
    text = environment(html).get_template(name).render(ctx)
    return _tidy(text, html)


def render_view(view: NoticeView, lang: str, fmt: str = "html") -> str:
    """Notice `view` in `lang` and `fmt` (html, md or txt)."""
    check_language(view.manifest, lang)
    checked = check_format(fmt)
    ctx = context(view.manifest, lang, checked, Page(lang, view.id), view=view)
    return render_template(f"notice.{checked}", ctx)


def render_notice(
    manifest: Manifest,
    notice_id: str,
    lang: str | None = None,
    fmt: str = "html",
    history: Sequence[PublishedVersion] = (),
) -> str:
    """Notice `notice_id` in `lang` (default: the manifest's first language) and `fmt`."""
    lang = lang or manifest.default_language
    check_language(manifest, lang)
    check_format(fmt)
    return render_view(build_view(manifest, notice_id, history), lang, fmt)


def render_history(manifest: Manifest, lang: str, history: Sequence[PublishedVersion]) -> str:
    """The version history page of every notice, newest version first (P-G16)."""
    check_language(manifest, lang)
    ctx = context(manifest, lang, "html", Page(lang, "history"), history=tuple(reversed(history)))
    return render_template("history.html", ctx)


def render_index(manifest: Manifest, lang: str | None = None) -> str:
    """The index of notices and languages: the site's root (no `lang`) or one language's."""
    shown = lang or manifest.default_language
    check_language(manifest, shown)
    page = Page(lang, "index") if lang else SITE_ROOT
    return render_template("index.html", context(manifest, shown, "html", page))


def render_collection_point(
    manifest: Manifest,
    system: str,
    lang: str | None = None,
    notice_id: str | None = None,
    base_url: str = "",
) -> str:
    """A just-in-time notice for a form of `system`: what, why, legal basis, required (P-S3)."""
    lang = lang or manifest.default_language
    check_language(manifest, lang)
    found = manifest.systems.get(system)
    if found is None:
        known = ", ".join(manifest.systems) or "none"
        raise NotFoundError(f"system '{system}' is not declared in the manifest (known: {known})")
    notice = notice_id or _notice_for(manifest, system)
    if notice is not None and notice not in manifest.notices:
        raise NotFoundError(f"notice '{notice}' is not declared in the manifest")
    collects = [c for c in found.collects if c.source == "direct"] or list(found.collects)
    items = [
        {
            "collect": c,
            "bases": _unique(
                manifest.purposes[p].legal_basis for p in c.purposes if p in manifest.purposes
            ),
        }
        for c in collects
    ]
    href = f"{base_url}{lang}/{notice}.html" if notice is not None else None
    ctx = context(manifest, lang, "html", Page(lang, ""), items=items, href=href)
    return render_template("jit.html", ctx)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _notice_for(manifest: Manifest, system: str) -> str | None:
    """The first notice (not a cookie notice) whose scope includes `system`."""
    for key, notice in manifest.notices.items():
        if notice.kind != "cookies" and system in manifest.systems_of_notice(key):
            return key
    return None


def _tidy(text: str, html: bool) -> str:
    """No trailing spaces and at most one blank line in a row; one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    if html:
        tidy = re.sub(r"\n\s*\n", "\n", tidy)
    return tidy + "\n"
