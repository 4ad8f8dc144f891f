"""The country (and US state) a postal address names, so the organisation's own law is known.

A manifest that does not say which law applies falls back to the law of the organisation's
country. Only the end of the address is read: its last line, or the last comma-separated part
of a one-line address, matched against the country names of the address's language and
English. A two-letter state before a ZIP code (`CA 94000`) gives the US state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from pledge.manifest.types import LocalText, country_codes

# Names people write that CLDR does not list as a country's name.
_ALIASES = {
    "usa": "US",
    "u.s.a": "US",
    "u.s": "US",
    "united states of america": "US",
    "vs": "US",  # Dutch: Verenigde Staten
    "uk": "GB",
    "u.k": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "holland": "NL",
}
_US_STATE = re.compile(r"\b([A-Z]{2})\s+\d{5}(?:-\d{4})?\b")


def country_of_address(
    postal: LocalText, languages: Sequence[str] = ()
) -> tuple[str, str | None] | None:
    """(country, US state or None) named at the end of `postal`, in any of its languages.

    A plain string may be in any of `languages` (the manifest's), or English.
    """
    versions = [(lang, postal.plain) for lang in (*languages, "en")] if postal.plain else []
    versions.extend(postal.by_lang.items())
    for lang, text in versions:
        country = _country(_last_part(text), lang)
        if country is not None:
            return country, _us_state(text) if country == "US" else None
    return None


def _last_part(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return last.rsplit(",", 1)[-1].strip().rstrip(".")


def _country(name: str, lang: str) -> str | None:
    folded = name.casefold()
    return _ALIASES.get(folded) or _names(lang).get(folded) or _names("en").get(folded)


def _us_state(text: str) -> str | None:
    if "california" in text.casefold():
        return "CA"
    found = _US_STATE.findall(text)
    return found[-1] if found else None


@cache
def _names(lang: str) -> dict[str, str]:
    """Country names in `lang` (CLDR), case-folded, to their ISO 3166-1 alpha-2 codes."""
    from babel import Locale, UnknownLocaleError

    try:
        territories = Locale.parse(lang.replace("-", "_")).territories
    except (UnknownLocaleError, ValueError):
        return {}
    return {
        str(name).casefold(): str(code)
        for code, name in territories.items()
        if code in country_codes()
    }
