"""Value types of the manifest: localised text, ISO 8601 durations, country and language codes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import cache
from typing import Annotated, Any

from pydantic import AfterValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

LANG_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
KEY_PATTERN = r"^[a-z0-9][a-z0-9_\-]*(\.[a-z0-9][a-z0-9_\-]*)*$"

LangCode = Annotated[
    str, Field(pattern=LANG_PATTERN, description="BCP 47 language tag, e.g. en, nb, nl")
]
Key = Annotated[
    str, Field(pattern=KEY_PATTERN, description="a dotted key, e.g. user.contact.email")
]


class LocalText:
    """Human-facing text: one string (in the manifest's first language) or one per language."""

    __slots__ = ("by_lang", "plain")

    def __init__(self, value: str | Mapping[str, str]) -> None:
        self.plain: str | None = value if isinstance(value, str) else None
        self.by_lang: dict[str, str] = {} if isinstance(value, str) else dict(value)

    def get(self, lang: str, default_lang: str) -> tuple[str, str]:
        """The text in `lang`, else in `default_lang`; returns (text, language actually used)."""
        if lang in self.by_lang:
            return self.by_lang[lang], lang
        if self.plain is not None:
            return self.plain, default_lang
        if default_lang in self.by_lang:
            return self.by_lang[default_lang], default_lang
        first = next(iter(self.by_lang.items()))
        return first[1], first[0]

    def text(self, lang: str, default_lang: str) -> str:
        return self.get(lang, default_lang)[0]

    def has(self, lang: str, default_lang: str) -> bool:
        return lang in self.by_lang or (self.plain is not None and lang == default_lang)

    def missing(self, langs: Iterable[str]) -> list[str]:
        langs = list(langs)
        return [lang for lang in langs if not self.has(lang, langs[0] if langs else lang)]

    def dump(self) -> str | dict[str, str]:
        return self.plain if self.plain is not None else dict(self.by_lang)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalText) and self.dump() == other.dump()

    def __hash__(self) -> int:
        return hash(repr(self.dump()))

    def __repr__(self) -> str:
        return f"LocalText({self.dump()!r})"

    @classmethod
    def _validate(cls, value: Any) -> LocalText:
        if isinstance(value, LocalText):
            return value
        if isinstance(value, dict):
            if not value:
                raise ValueError("text map is empty; give a string or {lang: text}")
            for lang, text in value.items():
                if not isinstance(lang, str) or not re.match(LANG_PATTERN, lang):
                    raise ValueError(f"'{lang}' is not a language code (expected e.g. en, nb, nl)")
                if not isinstance(text, str) or not text.strip():
                    raise ValueError(f"text for language '{lang}' must be a non-empty string")
        elif not isinstance(value, str) or not value.strip():
            raise ValueError("expected a non-empty string or a map {lang: text}")
        return cls(value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v.dump()),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "description": "Text in the manifest's first language, or a map {language: text}.",
            "oneOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "patternProperties": {LANG_PATTERN: {"type": "string", "minLength": 1}},
                    "additionalProperties": False,
                    "minProperties": 1,
                },
            ],
        }


_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class Duration:
    """An ISO 8601 duration such as P3Y, P13M, P30D or PT24H, kept exactly as calendar units."""

    __slots__ = ("days", "hours", "iso", "minutes", "months", "seconds", "years")

    def __init__(self, iso: str) -> None:
        match = _DURATION.match(iso)
        if not match:
            raise ValueError(
                f"'{iso}' is not an ISO 8601 duration (expected e.g. P3Y, P13M, P30D, PT24H)"
            )
        parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
        self.iso = iso
        self.years = parts["years"]
        self.months = parts["months"]
        self.days = parts["days"] + 7 * parts["weeks"]
        self.hours = parts["hours"]
        self.minutes = parts["minutes"]
        self.seconds = parts["seconds"]

    @property
    def approx_days(self) -> float:
        """Length in days, using mean month and year lengths; for comparing durations only."""
        return (
            self.years * 365.2425
            + self.months * 30.436875
            + self.days
            + (self.hours * 3600 + self.minutes * 60 + self.seconds) / 86400
        )

    def add_to(self, when: datetime) -> datetime:
        """Calendar addition: months and years keep the day, clamped to the month's last day."""
        month_index = when.month - 1 + self.months + 12 * self.years
        year, month = when.year + month_index // 12, month_index % 12 + 1
        day = min(when.day, _month_length(year, month))
        moved = when.replace(year=year, month=month, day=day)
        return moved + timedelta(
            days=self.days, hours=self.hours, minutes=self.minutes, seconds=self.seconds
        )

    def __add__(self, other: Duration) -> Duration:
        """The two periods as one, unit by unit (P1M + P2M = P3M, not P1M then P2M)."""
        date_part = "".join(
            f"{n}{unit}"
            for n, unit in (
                (self.years + other.years, "Y"),
                (self.months + other.months, "M"),
                (self.days + other.days, "D"),
            )
            if n
        )
        time_part = "".join(
            f"{n}{unit}"
            for n, unit in (
                (self.hours + other.hours, "H"),
                (self.minutes + other.minutes, "M"),
                (self.seconds + other.seconds, "S"),
            )
            if n
        )
        iso = "P" + date_part + (f"T{time_part}" if time_part else "")
        return Duration(iso if iso != "P" else "P0D")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and self.approx_days == other.approx_days

    def __lt__(self, other: Duration) -> bool:
        return self.approx_days < other.approx_days

    def __le__(self, other: Duration) -> bool:
        return self.approx_days <= other.approx_days

    def __hash__(self) -> int:
        return hash(self.approx_days)

    def __str__(self) -> str:
        return self.iso

    def __repr__(self) -> str:
        return f"Duration({self.iso!r})"

    @classmethod
    def _validate(cls, value: Any) -> Duration:
        if isinstance(value, Duration):
            return value
        if not isinstance(value, str):
            raise ValueError("expected an ISO 8601 duration string such as P3Y or P30D")
        return cls(value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v.iso),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": _DURATION.pattern, "description": "ISO 8601 duration"}


def _month_length(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, from Babel's CLDR territory list."""
    from babel import Locale

    territories: list[str] = [str(code) for code in Locale("en").territories]
    return frozenset(code for code in territories if len(code) == 2 and code.isalpha()) - {
        "EU",
        "EZ",
        "UN",
        "QO",
        "XA",
        "XB",
        "XK",
        "ZZ",
    }


def _check_country(code: str) -> str:
    if code not in country_codes():
        hint = " (use upper case)" if code.upper() in country_codes() else ""
        raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 country code{hint}")
    return code


CountryCode = Annotated[
    str,
    Field(
        description="ISO 3166-1 alpha-2 country code", json_schema_extra={"pattern": "^[A-Z]{2}$"}
    ),
    AfterValidator(_check_country),
]


def _check_place(code: str) -> str:
    country, _, region = code.partition("-")
    _check_country(country)
    if region and (country != "US" or not re.fullmatch(r"[A-Z]{2}", region)):
        raise ValueError(
            f"'{code}' is neither a country code (NO) nor a US state (US-CA, ISO 3166-2)"
        )
    return code


PlaceCode = Annotated[
    str,
    Field(
        description="ISO 3166-1 alpha-2 country code, or a US state as ISO 3166-2 (US-CA)",
        json_schema_extra={"pattern": "^[A-Z]{2}(-[A-Z]{2})?$"},
    ),
    AfterValidator(_check_place),
]
