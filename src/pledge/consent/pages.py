"""Server-rendered consent pages (choices, unsubscribe, the demo site) in the reader's language.

No inline script on these pages (the CSP forbids it); the demo page's fake analytics script
is inert `text/plain` until the banner activates it with the page's nonce.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from pledge.consent.banner import catalog

TEMPLATES = Path(__file__).parents[1] / "web" / "templates" / "consent"


@lru_cache(maxsize=8)
def _environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(catalog(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(template: str, lang: str, **context: Any) -> str:
    return _environment(lang).get_template(template).render(lang=lang, **context)
