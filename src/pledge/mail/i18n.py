"""The mail catalog (`locales/<lang>/LC_MESSAGES/mail.po`), through `pledge.i18n`."""

from __future__ import annotations

import gettext
from pathlib import Path

from pledge import i18n

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "mail"
SOURCE_LANGUAGE = i18n.SOURCE_LANGUAGE


def available_languages() -> list[str]:
    return i18n.available_languages(LOCALES_DIR, DOMAIN)


def translations(lang: str) -> gettext.NullTranslations:
    return i18n.translations(lang, LOCALES_DIR, DOMAIN)


def resolve_language(lang: str | None) -> str:
    """The language a mail is written in: the asked one if we have it, else English."""
    return i18n.resolve_language(lang, available_languages())
