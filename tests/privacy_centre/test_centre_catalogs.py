"""The centre's catalogs: the strings the templates use, each translated in every language."""

from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po

from pledge.i18n import available_languages
from pledge.requests.render import DOMAIN, LOCALES, TEMPLATES, catalog

LANGUAGES = ("en", "nb", "nl", "de", "fr")
TRANSLATED = ("nb", "nl", "de", "fr")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
#: Spelled alike in English and the language (names, international words, punctuation only).
ALIKE = {"Status", "Privacy team", "Language", "%(system)s: %(what)s."}


def used() -> set[str]:
    """Every msgid the centre's templates and the package's modules use, as Babel extracts them."""
    found: set[str] = set()
    options = {"**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    for folder in ("privacy", "requests"):
        for _, _, message, _, _ in extract_from_dir(
            str(TEMPLATES / folder),
            [("**.html", "jinja2.ext:babel_extract")],
            options_map=options,
        ):
            found.add(message if isinstance(message, str) else message[0])
    for module in ("package.py", "readable.py", "summary.py"):
        for _, message, _, _ in extract_from_file("python", str(LOCALES.parent / module)):
            found.add(message if isinstance(message, str) else message[0])
    return found


def po(lang: str) -> Catalog:
    with (LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def ids(cat: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in cat if m.id}


def test_every_language_has_a_catalog() -> None:
    assert set(available_languages(LOCALES, DOMAIN)) == set(LANGUAGES)
    assert not list(LOCALES.rglob("*.mo")), "ship the .po sources only"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_has_exactly_the_strings_in_use(lang: str) -> None:
    wanted, have = used(), ids(po(lang))
    assert not wanted - have, f"{lang}: not in the catalog (re-extract, see babel.cfg)"
    assert not have - wanted, f"{lang}: obsolete strings"
    with (LOCALES / "requests.pot").open("rb") as handle:
        assert ids(read_po(handle)) == wanted


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_string_is_translated_with_its_placeholders(lang: str) -> None:
    problems = []
    for message in po(lang):
        if not message.id:
            continue
        msgid, text = str(message.id), str(message.string or "")
        if message.fuzzy or not text.strip():
            problems.append(f"untranslated or fuzzy: {msgid!r}")
        elif set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(msgid)):
            problems.append(f"placeholders differ: {msgid!r} → {text!r}")
        elif text == msgid and msgid not in ALIKE:
            problems.append(f"left in English: {msgid!r}")
    assert not problems, f"{lang}:\n" + "\n".join(problems)


def test_catalogs_compile_in_memory() -> None:
    expected = {
        "en": "Privacy centre",
        "nb": "Personvernsenter",
        "nl": "Privacycentrum",
        "de": "Datenschutzcenter",
        "fr": "Espace confidentialité",
    }
    for lang, text in expected.items():
        assert catalog(lang).gettext("Privacy centre") == text
    assert catalog("sv").gettext("Privacy centre") == "Privacy centre"
