"""Gettext catalogs compiled in memory from `.po` files, for every part of Pledge.

We ship only the `.po` sources: translators edit them, reviewers read them in diffs, and no
compiled `.mo` file can drift out of date with its source. Babel compiles a catalog when a
language is first asked for; the result is cached for the life of the process. Each part
(notices, mail, consent, requests) keeps its own catalog folder and domain.
"""

from __future__ import annotations

import gettext
from collections.abc import Collection
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from pledge.errors import ConfigError

SOURCE_LANGUAGE = "en"


def compile_po(path: Path, lang: str) -> gettext.GNUTranslations:
    """Read one `.po` file and turn it into translations without touching the disk.

    Fuzzy entries are left out, so a translation a translator marked as unsure falls back to
    English instead of being shown to people.
    """
    try:
        with path.open("rb") as source:
            catalog = read_po(source, locale=lang, domain=path.stem)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read this translation catalog ({exc})") from exc
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def available_languages(locales_dir: Path, domain: str) -> list[str]:
    """The languages that have a catalog for `domain`, sorted."""
    return sorted(p.parent.parent.name for p in locales_dir.glob(f"*/LC_MESSAGES/{domain}.po"))


@lru_cache(maxsize=128)
def translations(lang: str, locales_dir: Path, domain: str) -> gettext.NullTranslations:
    """The translations for `lang` (a variant such as `nb-NO` uses `nb`); English without one."""
    for candidate in dict.fromkeys((lang, lang.split("-")[0])):
        path = locales_dir / candidate / "LC_MESSAGES" / f"{domain}.po"
        if path.is_file():
            return compile_po(path, candidate)
    return gettext.NullTranslations()


def resolve_language(lang: str | None, supported: Collection[str]) -> str:
    """The language to use: `lang` if supported (`nb-NO` → `nb`, `no` → `nb`), else English.

    A person who asked in a language we do not write still gets text they can most likely
    read, instead of an error.
    """
    if not lang:
        return SOURCE_LANGUAGE
    candidate = lang.strip().replace("_", "-").lower()
    if candidate in supported:
        return candidate
    base = candidate.split("-", 1)[0]
    if base == "no":  # Norwegian without a written standard: Bokmål is what most people read
        base = "nb"
    return base if base in supported else SOURCE_LANGUAGE
