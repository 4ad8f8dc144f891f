"""The masking table: which erasure strategy a field gets, and what each strategy needs.

A field's strategy comes from, in this order: its own `fides_meta.masking`; its collection's
`masking_strategy_override` (unless that is `delete`, which is about rows); the system's
`masking` map for the most specific of its categories. (The engine adds `null_rewrite` when
the column takes NULL; only the database knows that.)

`NEEDS` says what each strategy writes, so lint (against a field's declared `data_type` and
`length`) and the engine (against the reflected column) refuse the same strategies with the
same words: a plan `pledge check` accepts cannot fail on anything the datasets already say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pledge.manifest.datasets import Collection, DatasetField
from pledge.manifest.model import System, covers

HASH_LENGTH = 64
"""Hex characters of a SHA-256 digest: what hash and hmac write."""
DEFAULT_REWRITE = "erased"


@dataclass(frozen=True, slots=True)
class Needs:
    """What a strategy writes, so whether a column can take it."""

    writes: Literal["null", "text", "date", "rows"]
    length: int | None = None
    """Characters it always writes (hash, hmac)."""
    refused: str | None = None
    """Why Pledge never applies it."""


NEEDS: dict[str, Needs] = {
    "null_rewrite": Needs("null"),
    "string_rewrite": Needs("text"),
    "random_string_rewrite": Needs("text"),
    "hash": Needs("text", HASH_LENGTH),
    "hmac": Needs("text", HASH_LENGTH),
    "generalize_date": Needs("date"),
    "delete": Needs("rows"),
    "aes_encrypt": Needs(
        "text", refused="aes_encrypt is not supported: erased data must not be recoverable"
    ),
}
STRATEGIES: tuple[str, ...] = tuple(NEEDS)
TEXT_TYPES = frozenset({"string", "string[]"})
"""Dataset `data_type`s that hold text."""
DATE_TYPES = frozenset({"date", "datetime"})


@dataclass(frozen=True, slots=True)
class Strategy:
    """A resolved strategy for one field, and where it came from (for messages)."""

    name: str
    configuration: Mapping[str, Any] = field(default_factory=dict)
    origin: str = "default"


def resolve(fld: DatasetField, collection: Collection, system: System) -> Strategy | None:
    """The strategy of an erasable field, or None if nothing gives it one (see module doc)."""
    own = fld.meta.masking or fld.meta.masking_strategy_override
    if own is not None:
        where = "masking_strategy_override" if fld.meta.masking_strategy_override else "masking"
        return Strategy(own.strategy, own.configuration, f"the field's fides_meta.{where}")
    override = collection.meta.masking_strategy_override
    if override is not None and override.strategy != "delete":
        return Strategy(override.strategy, override.configuration, "masking_strategy_override")
    best: tuple[int, str] | None = None
    for category in fld.data_categories or ():
        for key in system.masking:
            if covers(key, category) and (best is None or len(key) > best[0]):
                best = (len(key), key)
    if best is not None:
        return Strategy(system.masking[best[1]], {}, f"the system's masking of '{best[1]}'")
    return None


def rewrite_value(strategy: Strategy) -> Any:
    """The text string_rewrite writes: its `value` or Fides' `rewrite_value`, or DEFAULT_REWRITE
    (a system's `masking` map names strategies without configuration), then the suffix."""
    config = strategy.configuration
    value = config.get("value", config.get("rewrite_value", DEFAULT_REWRITE))
    return value + suffix(strategy) if isinstance(value, str) else value


def suffix(strategy: Strategy) -> str:
    """Fides' `format_preservation: {suffix: …}`: text kept at the end of a rewritten value."""
    preserve = strategy.configuration.get("format_preservation")
    found = preserve.get("suffix") if isinstance(preserve, dict) else None
    return found if isinstance(found, str) else ""


Fault = Literal["strategy", "data_type", "length", "configuration"]


def misfit(
    strategy: Strategy,
    holds: Literal["text", "date", "other"] | None,
    kind: str,
    length: int | None,
    where: str,
) -> list[tuple[Fault, str]]:
    """Why `strategy` cannot write into `where` ("column x", "the field"), which holds values
    of family `holds` (None: not known) named `kind`, at most `length` characters.

    Each reason comes with what is at fault, so lint can point at it. Nullability, uniqueness
    and foreign keys are the database's to tell (the engine checks them).
    """
    needs = NEEDS.get(strategy.name)
    if needs is None:
        return [("strategy", f"'{strategy.name}' is not a masking strategy")]
    if needs.refused is not None:
        return [("strategy", needs.refused + "; use hmac")]
    if needs.writes == "rows":
        return [
            (
                "strategy",
                "delete removes whole rows: set it as the collection's masking_strategy_override, "
                "and give the field a masking strategy",
            )
        ]
    found: list[tuple[Fault, str]] = []
    if needs.writes == "text" and holds not in (None, "text"):
        found.append(("data_type", f"{strategy.name} writes text but {where} holds {kind}"))
    if needs.writes == "date" and holds not in (None, "date"):
        found.append(
            ("data_type", f"generalize_date needs a date or timestamp but {where} holds {kind}")
        )
    written = needs.length
    if strategy.name == "string_rewrite":
        value = rewrite_value(strategy)
        if not isinstance(value, str):
            text = "string_rewrite needs `configuration: {value: …}` with the text to write"
            found.append(("configuration", text))
        written = len(value) if isinstance(value, str) else None
    if not found and written is not None and length is not None and length < written:
        found.append(
            ("length", f"{strategy.name} writes {written} characters but {where} holds {length}")
        )
    return found


def declared(data_type: str | None) -> Literal["text", "date", "other"] | None:
    """The family of a dataset `data_type` (None when the dataset does not say)."""
    if data_type is None:
        return None
    return "text" if data_type in TEXT_TYPES else "date" if data_type in DATE_TYPES else "other"
