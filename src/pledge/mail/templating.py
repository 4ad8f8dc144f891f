"""Jinja2 environments that render one message template as plain text and as HTML.

Each message kind has one template in `templates/messages/`; it is rendered twice, once with
the `text/` layout and macros and once with the `html/` ones (the templates name them through
the `layout` and `macros` globals), so the two alternatives always say the same thing. The
HTML environment autoescapes every context value; the text one does not need to (plain text
cannot run anything). Translations are installed per environment, one environment per
language and format, so rendering is safe from many threads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from babel.dates import format_date, format_time, get_datetime_format
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, Template

from pledge.mail.i18n import translations
from pledge.templating import bytecode_cache

TEMPLATES_DIR = Path(__file__).parent / "templates"
Format = Literal["text", "html"]
LAYOUTS: dict[Format, str] = {"text": "layout.txt", "html": "layout.html"}
MACROS: dict[Format, str] = {"text": "macros.txt", "html": "macros.html"}
SIGNATURE_DELIMITER = "-- "  # RFC 3676 §4.3: mail clients fold or grey out what follows


@lru_cache(maxsize=32)
def environment(lang: str, fmt: Format) -> Environment:
    """The environment for one language and format (built once, then shared)."""
    env = Environment(
        bytecode_cache=bytecode_cache(),
        loader=ChoiceLoader(
            [
                FileSystemLoader(TEMPLATES_DIR / fmt),
                FileSystemLoader(TEMPLATES_DIR / "messages"),
                FileSystemLoader(TEMPLATES_DIR / "common"),
            ]
        ),
        autoescape=fmt == "html",
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["date"] = lambda value: _format_date(value, lang)
    env.globals["lang"] = lang
    env.globals["layout"] = LAYOUTS[fmt]
    env.globals["macros"] = MACROS[fmt]
    return env


def _format_date(value: date | datetime, lang: str) -> str:
    """A date as people of `lang` write it ("23. november 2026").

    A moment gets its time to the minute in UTC, said so: we do not know the reader's zone,
    and a link that expires "at 12:00" must not be read as local time.
    """
    locale = lang.replace("-", "_")
    day = format_date(value, format="long", locale=locale)
    if not isinstance(value, datetime):
        return day
    clock = format_time(value, format="short", tzinfo=UTC, locale=locale) + " UTC"
    pattern = str(get_datetime_format("long", locale=locale)).replace("'", "")
    return pattern.replace("{1}", day).replace("{0}", clock)


def render(name: str, lang: str, fmt: Format, context: Mapping[str, Any]) -> str:
    """The whole message body of template `name` in one format."""
    template = environment(lang, fmt).get_template(name)
    body = template.render(context)
    return _tidy_text(body) if fmt == "text" else body


def render_block(name: str, block: str, lang: str, context: Mapping[str, Any]) -> str:
    """One block of a template as plain text on one line (used for the subject)."""
    template: Template = environment(lang, "text").get_template(name)
    rendered = "".join(template.blocks[block](template.new_context(dict(context))))
    return " ".join(rendered.split())


def _tidy_text(body: str) -> str:
    """No trailing spaces (but the signature delimiter's), at most one empty line in a row."""
    lines = [line if line == SIGNATURE_DELIMITER else line.rstrip() for line in body.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
