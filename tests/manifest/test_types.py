"""Value types: durations add like a calendar, texts fall back visibly, codes are checked."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from pledge.manifest.types import CountryCode, Duration, LocalText


@pytest.mark.parametrize(
    ("iso", "start", "expected"),
    [
        ("P1M", datetime(2024, 1, 31), datetime(2024, 2, 29)),  # leap year month end
        ("P1M", datetime(2023, 1, 31), datetime(2023, 2, 28)),
        ("P3Y", datetime(2020, 2, 29), datetime(2023, 2, 28)),
        ("P13M", datetime(2024, 5, 15), datetime(2025, 6, 15)),
        ("P30D", datetime(2024, 12, 15), datetime(2025, 1, 14)),
        ("PT24H", datetime(2024, 3, 1, 12), datetime(2024, 3, 2, 12)),
        ("P1Y2M3DT4H", datetime(2024, 1, 1), datetime(2025, 3, 4, 4)),
    ],
)
def test_duration_adds_calendar_units(iso: str, start: datetime, expected: datetime) -> None:
    assert Duration(iso).add_to(start) == expected


@pytest.mark.parametrize("bad", ["", "P", "3Y", "P3", "PT", "P1.5Y", "p3y", "P3Q"])
def test_duration_rejects_non_iso(bad: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        Duration(bad)


def test_durations_compare_by_length() -> None:
    assert Duration("P13M") > Duration("P1Y")
    assert Duration("P2Y") == Duration("P24M")
    assert Duration("P30D") < Duration("P1M")


def test_local_text_falls_back_to_default_language_and_says_so() -> None:
    text = LocalText({"en": "Hello", "nb": "Hei"})
    assert text.get("nb", "en") == ("Hei", "nb")
    assert text.get("nl", "en") == ("Hello", "en")
    assert text.missing(["en", "nb", "nl"]) == ["nl"]
    plain = LocalText("Hello")
    assert plain.get("nb", "en") == ("Hello", "en")
    assert plain.missing(["en", "nb"]) == ["nb"]


@pytest.mark.parametrize("bad", ["", "  ", {}, {"english": "x"}, {"en": ""}, 3, ["x"]])
def test_local_text_rejects_bad_values(bad: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(LocalText).validate_python(bad)


def test_country_codes_are_iso_3166() -> None:
    adapter = TypeAdapter(CountryCode)
    assert adapter.validate_python("IN") == "IN"
    with pytest.raises(ValidationError, match="upper case"):
        adapter.validate_python("us")
    with pytest.raises(ValidationError, match="not an ISO 3166-1"):
        adapter.validate_python("XX")
