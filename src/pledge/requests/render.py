"""Jinja rendering of the request pages and the package index, in the reader's language.

Strings live in `src/pledge/requests/locales/<lang>/LC_MESSAGES/requests.po`, compiled in
memory by the mail layer's `translations` (no `.mo` file can go stale). One environment per
language, cached, because installing translations mutates the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from pledge.i18n import translations

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "requests"
TEMPLATES = Path(__file__).parent.parent / "web" / "templates"
LANGUAGES = ("en", "nb", "nl", "de", "fr")


@lru_cache(maxsize=16)
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(lang if lang in LANGUAGES else "en", LOCALES, DOMAIN), newstyle=True
    )
    return env


def gettext(lang: str, message: str) -> str:
    return translations(lang if lang in LANGUAGES else "en", LOCALES, DOMAIN).gettext(message)


def render(name: str, lang: str, **context: Any) -> str:
    return environment(lang).get_template(name).render(lang=lang, **context)
