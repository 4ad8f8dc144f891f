"""The catalogs: complete in every language, in step with the templates, placeholders intact."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from noticeutil import LOCALES, ROOT

from pledge.notices.i18n import catalog_languages, translations

TRANSLATED = ("nb", "nl", "de", "fr")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def catalog(lang: str) -> Catalog:
    with (LOCALES / lang / "LC_MESSAGES" / "pledge.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def template() -> Catalog:
    with (LOCALES / "pledge.pot").open("rb") as handle:
        return read_po(handle)


def ids(cat: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in cat if m.id}


def test_every_language_has_a_catalog() -> None:
    assert set(catalog_languages()) >= {"en", *TRANSLATED}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalog_is_complete(lang: str) -> None:
    """Every message of Pledge's own has a translation: no English leaks into the notice."""
    cat = catalog(lang)
    assert ids(cat) == ids(template()), "run pybabel update (see locales/babel.cfg)"
    for message in cat:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), f"{lang}: no translation for {message.id!r}"
        assert "fuzzy" not in message.flags, f"{lang}: fuzzy translation of {message.id!r}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_placeholders_survive_translation(lang: str) -> None:
    messages = list(catalog(lang))
    assert len(messages) > 100, f"{lang}: the catalog is empty"
    for message in messages:
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(sources[0]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, f"{lang}: {message.id!r}"
            assert "%" not in PLACEHOLDER.sub("", string).replace("%%", ""), string


def test_catalog_template_matches_the_templates(tmp_path: Path) -> None:
    """pledge.pot holds exactly the strings the templates use (re-extract and compare)."""
    fresh = tmp_path / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(LOCALES / "babel.cfg"),
            "-o",
            str(fresh),
            "--no-location",
            str(ROOT / "src" / "pledge" / "notices" / "templates"),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    with fresh.open("rb") as handle:
        extracted = ids(read_po(handle))
    assert extracted == ids(template()), "run pybabel extract (see locales/babel.cfg)"


def test_catalogs_compile_in_memory() -> None:
    nb = translations("nb")
    assert nb.gettext("Contents") == "Innhold"
    assert (
        translations("nl")
        .ngettext(
            "%(num)d smaller change to wording or settings.",
            "%(num)d smaller changes to wording or settings.",
            2,
        )
        .startswith("%(num)d kleinere wijzigingen")
    )
    assert translations("xx").gettext("Contents") == "Contents"
