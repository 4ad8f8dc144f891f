"""Translations of Pledge's own notice strings, and the Jinja environments that use them.

The `.po` catalogs in `locales/<lang>/LC_MESSAGES/pledge.po` are the source of truth and the
only translation files in the repository: they are compiled in memory when first needed, so a
catalog edit takes effect without a build step and no stale `.mo` file can ship.

Templates are compiled once per output kind (HTML or plain text) and shared by every language:
the language-specific `gettext` callables are passed in with each render, which keeps
rendering five languages about as cheap as rendering one.
"""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from pledge import i18n
from pledge.templating import bytecode_cache

DOMAIN = "pledge"
SOURCE_LANGUAGE = "en"
LOCALES = Path(__file__).parent / "locales"


def catalog_languages() -> tuple[str, ...]:
    """Languages with a catalog (English, the source language, needs none but has one)."""
    return tuple(sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")))


def translations(lang: str) -> gettext_module.NullTranslations:
    """The compiled catalog of `lang`; English source strings when there is none."""
    return i18n.translations(lang, LOCALES, DOMAIN)


@cache
def gettext_callables(lang: str) -> dict[str, Callable[..., Any]]:
    """`gettext` and `ngettext` for templates, in Jinja's "newstyle" form.

    Newstyle means `_("Kept for %(period)s", period=…)`: the translation is formatted with the
    keyword arguments, and in HTML the translation counts as markup while the arguments are
    escaped, so a translated sentence may wrap a link made elsewhere.
    """
    catalog = translations(lang)

    @pass_context
    def gettext(context: Context, message: str, **variables: Any) -> str:
        text: str = catalog.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        text: str = catalog.ngettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return {"gettext": gettext, "ngettext": ngettext}


@cache
def environment(html: bool) -> Environment:
    """The template environment for HTML (autoescaped) or for Markdown and plain text."""
    env = Environment(
        bytecode_cache=bytecode_cache(),
        loader=PackageLoader("pledge.notices", "templates"),
        autoescape=html,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        auto_reload=False,
    )
    # `{% trans %}` blocks then pass their variables to gettext, as `_()` calls do.
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    env.filters["pick"] = _pick
    return env


@cache
def labels(lang: str, html: bool) -> Any:
    """`_labels.jinja` evaluated once per language and output kind: the words for manifest
    values (legal bases, sources, rights …), shared by every render in that language."""
    template = environment(html).get_template("_labels.jinja")
    return template.make_module(vars=gettext_callables(lang))


@cache
def ropa_words(lang: str) -> Any:
    """`_ropa.jinja` evaluated once per language: the record of processing's headings and
    fixed phrases, in the language of the authority it is for."""
    template = environment(False).get_template("_ropa.jinja")
    return template.make_module(vars=gettext_callables(lang))


def _pick(key: Any, table: dict[Any, Any]) -> Any:
    """`keys | map("pick", labels)`: each key's label, or the key itself when it has none."""
    return table.get(key, key)
