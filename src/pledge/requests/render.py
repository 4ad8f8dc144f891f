"""Jinja rendering of the privacy centre's pages and the package index, in the reader's language.

Strings live in `src/pledge/requests/locales/<lang>/LC_MESSAGES/requests.po`, compiled in
memory by `pledge.i18n` (no `.mo` file can go stale). One environment per language, cached,
because installing translations mutates the environment. Dates, durations, countries and
language names come from `pledge.notices.format` (CLDR), so the centre and the notices write
them alike.

The consent pages share the centre's layout: `install_centre` gives their environment the same
filters and stylesheet, and `chained` lets the layout's words come from this catalog.
"""

from __future__ import annotations

import gettext as gettext_module
import hashlib
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pledge.i18n import translations
from pledge.manifest.types import Duration
from pledge.notices.format import formatter
from pledge.templating import bytecode_cache

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "requests"
TEMPLATES = Path(__file__).parent.parent / "web" / "templates"
STATIC = Path(__file__).parent.parent / "web" / "static" / "privacy"
STYLESHEET = STATIC / "centre.css"
STYLESHEET_PATH = "/privacy/centre.css"
LANGUAGES = ("en", "nb", "nl", "de", "fr")


def N_(message: str) -> str:
    """Mark `message` for the catalog; it is translated where it is shown."""
    return message


def catalog(lang: str) -> gettext_module.NullTranslations:
    """This domain's translations for `lang` (English words for a language we do not write)."""
    return translations(lang if lang in LANGUAGES else "en", LOCALES, DOMAIN)


def gettext(lang: str, message: str) -> str:
    return catalog(lang).gettext(message)


@cache
def stylesheet_href() -> str:
    """The stylesheet's URL with a digest of its content, so a new release is never stale."""
    digest = hashlib.sha256(STYLESHEET.read_bytes()).hexdigest()[:12]
    return f"{STYLESHEET_PATH}?v={digest}"


def _day(value: date | datetime | str) -> date:
    """The calendar day of a date, a moment or an ISO 8601 text (as data.json holds it)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def install_centre(env: Environment, lang: str) -> None:
    """The filters and globals every privacy-centre template may use, in `lang`."""
    fmt = formatter(lang)
    env.globals["stylesheet"] = stylesheet_href()
    env.filters["date"] = lambda value: fmt.date(_day(value))
    env.filters["duration"] = lambda iso: fmt.duration(Duration(str(iso)))
    env.filters["country"] = fmt.country
    env.filters["endonym"] = fmt.language
    env.filters["words"] = fmt.join
    env.filters["number"] = lambda n: format_decimal(n, locale=fmt.locale)


class Chained(gettext_module.NullTranslations):
    """Several catalogs as one: the first that translates a message wins."""

    def __init__(self, *parts: gettext_module.NullTranslations) -> None:
        super().__init__()
        self._parts = parts

    def gettext(self, message: str) -> str:
        for part in self._parts:
            found = part.gettext(message)
            if found != message:
                return found
        return message

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        for part in self._parts:
            found = part.ngettext(msgid1, msgid2, n)
            if found not in (msgid1, msgid2):
                return found
        return msgid1 if n == 1 else msgid2


def chained(first: gettext_module.NullTranslations, lang: str) -> Chained:
    """`first`, then this catalog: for templates that extend the centre's layout."""
    return Chained(first, catalog(lang))


@lru_cache(maxsize=16)
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        bytecode_cache=bytecode_cache(),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(catalog(lang), newstyle=True)  # type: ignore[attr-defined]
    install_centre(env, lang)
    return env


def render(name: str, lang: str, **context: Any) -> str:
    return environment(lang).get_template(name).render(lang=lang, **context)
