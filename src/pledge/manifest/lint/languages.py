"""Lint rules: every human-facing text exists in each language the notices are published in.

The walk visits only model fields whose type can hold text (worked out once per model class),
so a manifest with hundreds of systems is checked in a few milliseconds.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from functools import cache
from typing import Any

from pydantic import BaseModel

from pledge.manifest.findings import Finding
from pledge.manifest.lint import Context, rule
from pledge.manifest.lint.references import suggest
from pledge.manifest.source import Path
from pledge.manifest.types import LocalText


def _may_hold_text(annotation: Any) -> bool:
    """Whether a field annotation can contain a LocalText (models are assumed to)."""
    if annotation is LocalText:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_may_hold_text(arg) for arg in typing.get_args(annotation))


@cache
def _text_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    return tuple(name for name, info in cls.model_fields.items() if _may_hold_text(info.annotation))


def texts(value: object, path: Path = ()) -> Iterator[tuple[Path, LocalText]]:
    """Every LocalText inside a validated model, with its YAML path."""
    if isinstance(value, LocalText):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in _text_fields(type(value)):
            yield from texts(getattr(value, name), (*path, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from texts(item, (*path, key))
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from texts(item, (*path, i))


@rule("missing-translation", "warning", "a text missing in one of the manifest's languages")
def missing_translation(ctx: Context) -> Iterator[Finding]:
    languages = ctx.manifest.languages
    default = languages[0]
    for path, text in texts(ctx.manifest):
        missing = [lang for lang in languages if not text.has(lang, default)]
        if missing:
            shown = text.get(missing[0], default)[1]
            yield ctx.finding(
                "missing-translation",
                path,
                f"text has no {', '.join(missing)} version; readers get the {shown} text",
                "give a map with every language, e.g. {"
                + ", ".join(f"{lang}: …" for lang in languages)
                + "}",
            )


@rule("undeclared-language", "warning", "a text in a language the manifest does not publish")
def undeclared_language(ctx: Context) -> Iterator[Finding]:
    languages = ctx.manifest.languages
    for path, text in texts(ctx.manifest):
        for lang in text.by_lang:
            if lang not in languages:
                yield ctx.finding(
                    "undeclared-language",
                    (*path, lang),
                    f"text in '{lang}', which is not among `languages:` "
                    f"({', '.join(languages)}), so no notice shows it",
                    suggest(lang, languages) or f"add '{lang}' to `languages:` or remove it",
                    key=True,
                )
