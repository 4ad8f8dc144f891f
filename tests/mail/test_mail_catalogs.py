"""Every fixed string of every mail is translated into every language we write."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from pledge.mail.i18n import LOCALES_DIR, available_languages, translations
from pledge.mail.templating import TEMPLATES_DIR

LANGUAGES = ("en", "nb", "nl", "de", "fr")
TRANSLATED = ("nb", "nl", "de", "fr")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def template_messages() -> dict[str | tuple[str, ...], str]:
    """Msgids used by the templates (as Jinja's i18n extension sees them), with a location."""
    found: dict[str | tuple[str, ...], str] = {}
    extracted = extract_from_dir(
        str(TEMPLATES_DIR),
        [("**.txt", "jinja2.ext:babel_extract"), ("**.html", "jinja2.ext:babel_extract")],
        options_map={"**.txt": {"trimmed": "true"}, "**.html": {"trimmed": "true"}},
    )
    for filename, lineno, message, _comments, _context in extracted:
        found.setdefault(message, f"{filename}:{lineno}")
    return found


def catalog(lang: str) -> Catalog:
    with (LOCALES_DIR / lang / "LC_MESSAGES" / "mail.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def msgids(cat: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in cat if m.id}


def texts(value: object) -> tuple[str, ...]:
    """A msgid or msgstr as a tuple of strings (plural entries have several)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v or "") for v in value)
    return ("",)


def test_we_write_the_five_languages() -> None:
    assert set(available_languages()) == set(LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_has_exactly_the_template_strings(lang: str) -> None:
    wanted = template_messages()
    have = msgids(catalog(lang))
    missing = {k: v for k, v in wanted.items() if k not in have}
    assert not missing, f"{lang}: strings not in the catalog (re-extract): {missing}"
    assert not have - set(wanted), f"{lang}: obsolete strings: {have - set(wanted)}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_string_is_translated_with_the_same_placeholders(lang: str) -> None:
    problems = []
    for message in catalog(lang):
        if not message.id:
            continue
        ids, strings = texts(message.id), texts(message.string)
        if message.fuzzy or not all(s.strip() for s in strings):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
            continue
        expected = set(PLACEHOLDER.findall(ids[0]))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != expected:
                problems.append(f"placeholders differ: {ids[0]!r} → {text!r}")
    assert not problems, f"{lang}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_are_not_left_in_english(lang: str) -> None:
    """A few strings may be spelled alike ("E-mail", "Service"); whole sentences may not."""
    same = [
        m.id
        for m in catalog(lang)
        if isinstance(m.id, str)
        and m.id == m.string
        and " " in PLACEHOLDER.sub("", m.id).strip(": ")
    ]
    assert not same, f"{lang}: copied from English: {same}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_compiles_in_memory(lang: str) -> None:
    compiled = translations(lang)
    expected = {"en": "Hello,", "nb": "Hei,", "nl": "Hallo,", "de": "Guten Tag,", "fr": "Bonjour,"}
    assert compiled.gettext("Hello,") == expected[lang]


def test_no_compiled_catalogs_are_shipped() -> None:
    assert not list(Path(LOCALES_DIR).rglob("*.mo"))
