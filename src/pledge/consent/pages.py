"""Server-rendered consent pages (choices, unsubscribe, the demo site) in the reader's language.

No inline script on these pages (the CSP forbids it); the demo page's fake analytics script
is inert `text/plain` until the banner activates it with the page's nonce. The choices and
unsubscribe pages extend the privacy centre's layout (`privacy/layout.html`), so the whole
centre looks the same: its filters come from `install_centre`, and its own words from the
centre's catalog after this one.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from pledge.consent.banner import catalog
from pledge.requests.render import TEMPLATES as WEB_TEMPLATES
from pledge.requests.render import chained, install_centre

TEMPLATES = WEB_TEMPLATES / "consent"


@lru_cache(maxsize=8)
def _environment(lang: str) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(WEB_TEMPLATES)]),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(chained(catalog(lang), lang), newstyle=True)  # type: ignore[attr-defined]
    install_centre(env, lang)
    return env


def render(template: str, lang: str, **context: Any) -> str:
    return _environment(lang).get_template(template).render(lang=lang, **context)
