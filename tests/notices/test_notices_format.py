"""Dates, durations, lists and country names come out of Babel in each language's own words."""

from __future__ import annotations

from datetime import date

import pytest

from pledge.manifest.types import Duration
from pledge.notices.format import formatter

LANGS = ("en", "nb", "nl", "de", "fr")


@pytest.mark.parametrize(
    ("lang", "iso", "words"),
    [
        ("en", "P3Y", "3 years"),
        ("nb", "P3Y", "3 år"),
        ("nl", "P3Y", "3 jaar"),
        ("de", "P3Y", "3 Jahre"),
        ("en", "P13M", "13 months"),
        ("nb", "P13M", "13 måneder"),
        ("nl", "P13M", "13 maanden"),
        ("en", "P1M", "1 month"),
        ("en", "P35D", "35 days"),
        ("nb", "P35D", "35 dager"),
        ("nb", "P1D", "1 dag"),
        ("nl", "P30D", "30 dagen"),
        ("nl", "PT12H", "12 uur"),
        ("en", "P2W", "2 weeks"),
        ("en", "P1Y6M", "1 year and 6 months"),
        ("nb", "P1Y6M", "1 år og 6 måneder"),
        ("nl", "P1Y6M", "1 jaar en 6 maanden"),
        ("en", "PT24H", "24 hours"),
    ],
)
def test_durations_read_as_plain_words(lang: str, iso: str, words: str) -> None:
    assert formatter(lang).duration(Duration(iso)) == words


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("iso", ["P1D", "P30D", "PT1H", "PT24H", "P1W", "P1Y", "P45D"])
def test_no_language_falls_back_to_unit_ids(lang: str, iso: str) -> None:
    """CLDR data is partial for some locales (nl days); the words must still be words."""
    text = formatter(lang).duration(Duration(iso))
    assert "duration" not in text
    assert text[0].isdigit()


def test_units_are_kept_as_written() -> None:
    """A notice says what the manifest says: 13 months is not "1 year and 1 month"."""
    assert formatter("en").duration(Duration("P13M")) == "13 months"
    assert formatter("en").duration(Duration("P14D")) == "14 days"


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "May 1, 2024"), ("nb", "1. mai 2024"), ("nl", "1 mei 2024"), ("de", "1. Mai 2024")],
)
def test_dates_in_the_locale_long_form(lang: str, text: str) -> None:
    assert formatter(lang).date(date(2024, 5, 1)) == text


@pytest.mark.parametrize(
    ("lang", "joined", "alternatives"),
    [
        ("en", "a, b, and c", "a, b, or c"),
        ("nb", "a, b og c", "a, b eller c"),
        ("nl", "a, b en c", "a, b of c"),
    ],
)
def test_lists_join_as_the_language_does(lang: str, joined: str, alternatives: str) -> None:
    f = formatter(lang)
    assert f.join(["a", "b", "c"]) == joined
    assert f.join(["a", "b", "c"], "or") == alternatives
    assert f.join(["a"]) == "a"
    assert f.join([]) == ""


@pytest.mark.parametrize(
    ("lang", "name"), [("en", "United States"), ("nb", "USA"), ("nl", "Verenigde Staten")]
)
def test_country_names_from_the_locale(lang: str, name: str) -> None:
    assert formatter(lang).country("US") == name


def test_language_names_are_their_own() -> None:
    assert formatter("en").language("nb") == "Norsk bokmål"
    assert formatter("nl").language("en") == "English"
