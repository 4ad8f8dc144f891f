"""Locale-aware formatting of dates, durations, lists and country names through Babel (CLDR).

Notices must read naturally in every language, so nothing here is hand-written per language:
"P3Y" becomes "3 years", "3 år" or "3 jaar" from CLDR's unit patterns, dates and lists follow
the locale's own conventions, and country names come from the locale's territory names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Literal

from babel import Locale
from babel.dates import format_date
from babel.lists import format_list
from babel.units import format_unit

from pledge.manifest.types import Duration

ListStyle = Literal["standard", "or", "unit"]

# Calendar units of a duration, largest first, with their CLDR unit ids.
_UNITS: tuple[tuple[str, str], ...] = (
    ("years", "duration-year"),
    ("months", "duration-month"),
    ("weeks", "duration-week"),
    ("days", "duration-day"),
    ("hours", "duration-hour"),
    ("minutes", "duration-minute"),
    ("seconds", "duration-second"),
)
_LIST_CACHE = 4096
# Where CLDR's word is correct but not what a notice says: Norwegian CLDR counts days as "døgn"
# (24-hour periods); notices and the law speak of "dager".
_UNIT_WORDS: dict[tuple[str, str], dict[str, str]] = {
    ("nb", "duration-day"): {"one": "{0} dag", "other": "{0} dager"},
    ("nn", "duration-day"): {"one": "{0} dag", "other": "{0} dagar"},
}
_WEEKS = re.compile(r"(\d+)W")


class Formatter:
    """Formats values for one language; obtain it with `formatter(lang)` (cached)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = Locale.parse(lang, sep="-")
        # Notices repeat the same periods and lists; Babel's formatting is the costly part.
        self._durations: dict[str, str] = {}
        self._lists: dict[tuple[tuple[str, ...], str], str] = {}

    def date(self, value: date) -> str:
        """A date in the locale's long form ("1 May 2024", "1. mai 2024")."""
        return format_date(value, format="long", locale=self.locale)

    def duration(self, value: Duration) -> str:
        """An ISO duration as plain words: P13M → "13 months", P1Y6M → "1 year and 6 months".

        The units are kept as written (P13M is not turned into a year and a month, P35D stays
        35 days), because a notice must say exactly what the manifest declares.
        """
        found = self._durations.get(value.iso)
        if found is None:
            parts = [self._unit(amount, unit) for amount, unit in self._amounts(value) if amount]
            found = self.join(parts) if parts else self._unit(0, "duration-day")
            self._durations[value.iso] = found
        return found

    def join(self, items: Sequence[str], style: ListStyle = "standard") -> str:
        """Items joined as the locale does ("a, b and c", "a, b og c")."""
        if not items:
            return ""
        if len(items) == 1:
            return items[0]
        key = (tuple(items), style)
        found = self._lists.get(key)
        if found is None:
            found = format_list(list(items), style=style, locale=self.locale)
            if len(self._lists) < _LIST_CACHE:
                self._lists[key] = found
        return found

    def country(self, code: str) -> str:
        """The locale's name of an ISO 3166-1 country, or the code when CLDR has none."""
        name: str | None = self.locale.territories.get(code)
        return name or code

    def language(self, code: str) -> str:
        """The name of a language in that language itself, for language switchers."""
        return _endonym(code)

    def _amounts(self, value: Duration) -> list[tuple[int, str]]:
        # `Duration` folds weeks into days; the ISO text still says which the author wrote.
        written = _WEEKS.search(value.iso.partition("T")[0])
        weeks = int(written.group(1)) if written else 0
        days = value.days - 7 * weeks
        amounts = {
            "years": value.years,
            "months": value.months,
            "weeks": weeks,
            "days": days,
            "hours": value.hours,
            "minutes": value.minutes,
            "seconds": value.seconds,
        }
        return [(amounts[field], unit) for field, unit in _UNITS]

    def _unit(self, amount: int, unit: str) -> str:
        """CLDR's long unit pattern, else the short one where a locale's long data is partial.

        Babel does not fall back between lengths: for some locales (nl days and hours) the
        long patterns hold only the "per" form and Babel would print the unit id itself.
        """
        override = _UNIT_WORDS.get((self.locale.language, unit))
        if override is not None:
            return override[self.locale.plural_form(amount)].format(amount)
        text: str = format_unit(amount, unit, length="long", locale=self.locale)
        if unit in text:
            text = format_unit(amount, unit, length="short", locale=self.locale)
        return text


@cache
def _endonym(code: str) -> str:
    try:
        own = Locale.parse(code, sep="-")
    except (ValueError, LookupError):
        return code
    name = own.get_display_name(own) or code
    return name[:1].upper() + name[1:]


@cache
def formatter(lang: str) -> Formatter:
    """The formatter of `lang`, shared (Babel's locale data is loaded once per language)."""
    return Formatter(lang)
