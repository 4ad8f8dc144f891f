"""Erasure strategies: which one a field gets, whether it fits the column, and applying it.

A field's strategy comes from, in this order: its own `fides_meta.masking` (or Fides'
`fides_meta.masking_strategy_override`, the same thing); its collection's
`masking_strategy_override` (unless that is `delete`, which is about rows); the system's
`masking` map for the most specific of its categories; `null_rewrite` when the column takes
NULL. A NOT NULL column with none of these cannot be erased, and planning says so.

Each strategy is checked against the column the store reports (kind, length, nullability,
uniqueness, foreign keys) when the plan is bound, so a strategy that cannot work fails before
anything is touched:

- `null_rewrite`: the column must take NULL;
- `string_rewrite`: a text column, the configured `value` (Fides' name: `rewrite_value`;
  default "erased") must fit, not a unique column;
- `random_string_rewrite`: a text column (the string is cut to the column's length);
- both take Fides' `format_preservation: {suffix: …}`, appended to what they write;
- `hash`, `hmac`: a text column of at least 64 characters; both are keyed with the masking key
  (HMAC-SHA-256; `hash` uses a key derived for hashing, so the two never collide), because an
  unkeyed hash of an e-mail address is reversed by hashing a list of addresses;
- `generalize_date`: a date or timestamp column; the value becomes 1 January of its year;
- `aes_encrypt`: not supported (the key would have to live as long as the data).

Fingerprints let erasure steps tell "still the original value" from "already masked" without
keeping the values: a keyed BLAKE2b of the value, with a salt that lives in the request state.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pledge.connectors.base import ColumnInfo, TableInfo
from pledge.manifest.datasets import Collection, DatasetField
from pledge.manifest.model import System, covers

HASH_LENGTH = 64
TEXT_KINDS = frozenset({"string"})
DATE_KINDS = frozenset({"date", "datetime"})
_ALPHABET = string.ascii_letters + string.digits
_RANDOM_LENGTH = 32
DEFAULT_REWRITE = "erased"


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


def problems(strategy: Strategy, column: ColumnInfo, table: TableInfo, has_key: bool) -> list[str]:
    """Why `strategy` cannot write into `column` (empty when it can). No values are named."""
    check = _CHECKS.get(strategy.name)
    if check is None:
        return [f"{strategy.name} is not supported here; use hmac, null_rewrite or string_rewrite"]
    found = check(strategy, column, table)
    if strategy.name in ("hash", "hmac") and not has_key:
        found.append(f"{strategy.name} needs a masking key, and the engine was given none")
    if strategy.name != "null_rewrite" and table.in_foreign_key(column.name):
        found.append(
            f"{strategy.name} would break the foreign key on {column.name}; use null_rewrite"
        )
    return found


def _text(strategy: Strategy, column: ColumnInfo) -> list[str]:
    if column.kind in TEXT_KINDS:
        return []
    return [
        f"{strategy.name} writes text but column {column.name} is {column.type_name or column.kind}"
    ]


def _check_null(strategy: Strategy, column: ColumnInfo, table: TableInfo) -> list[str]:
    if column.nullable:
        return []
    return [
        f"null_rewrite sets column {column.name} to NULL, but it is NOT NULL; give the field a "
        "fides_meta.masking strategy that writes a value (string_rewrite, hmac …)"
    ]


def _check_string(strategy: Strategy, column: ColumnInfo, table: TableInfo) -> list[str]:
    found = _text(strategy, column)
    value = rewrite_value(strategy)
    if not isinstance(value, str):
        found.append(
            "string_rewrite needs `configuration: {rewrite_value: …}` with the text to write"
        )
    elif column.length is not None and len(value) > column.length:
        found.append(
            f"string_rewrite writes {len(value)} characters, column {column.name} holds "
            f"{column.length}"
        )
    if table.is_unique(column.name):
        found.append(
            f"string_rewrite writes the same text into every row, but column {column.name} is "
            "unique; use hmac"
        )
    return found


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


def _check_random(strategy: Strategy, column: ColumnInfo, table: TableInfo) -> list[str]:
    found = _text(strategy, column)
    tail = suffix(strategy)
    if column.length is not None and len(tail) >= column.length:
        found.append(
            f"the suffix has {len(tail)} characters, column {column.name} holds {column.length}"
        )
    return found


def _check_hash(strategy: Strategy, column: ColumnInfo, table: TableInfo) -> list[str]:
    found = _text(strategy, column)
    if not found and column.length is not None and column.length < HASH_LENGTH:
        found.append(
            f"{strategy.name} writes {HASH_LENGTH} characters, column {column.name} holds "
            f"{column.length} ({column.type_name})"
        )
    return found


def _check_date(strategy: Strategy, column: ColumnInfo, table: TableInfo) -> list[str]:
    if column.kind in DATE_KINDS:
        return []
    return [
        f"generalize_date needs a date or timestamp, column {column.name} is "
        f"{column.type_name or column.kind}"
    ]


def _check_delete(strategy: Strategy, column: ColumnInfo, table: TableInfo) -> list[str]:
    return [
        "delete removes whole rows: set it as the collection's masking_strategy_override, "
        "and give the field a masking strategy"
    ]


def _check_aes(strategy: Strategy, column: ColumnInfo, table: TableInfo) -> list[str]:
    return ["aes_encrypt is not supported: erased data must not be recoverable; use hmac"]


_CHECKS: dict[str, Callable[[Strategy, ColumnInfo, TableInfo], list[str]]] = {
    "null_rewrite": _check_null,
    "string_rewrite": _check_string,
    "random_string_rewrite": _check_random,
    "hash": _check_hash,
    "hmac": _check_hash,
    "generalize_date": _check_date,
    "delete": _check_delete,
    "aes_encrypt": _check_aes,
}


# --- applying ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Masker:
    """A strategy ready to apply to one column's values."""

    strategy: Strategy
    apply: Callable[[Any], Any]
    constant: bool
    """Every row gets the same value (one set-based UPDATE can do them all)."""
    random: bool = False
    """The result differs on every call, so it cannot be compared with the value."""

    def needed(self, value: Any) -> bool:
        """Whether applying it changes `value` (NULL holds nothing, so it never needs it)."""
        if value is None:
            return False
        return self.random or self.apply(value) != value


def masker(strategy: Strategy, column: ColumnInfo, key: bytes | None) -> Masker:
    """The function for a strategy that `problems` accepted for `column`."""
    name = strategy.name
    if name == "null_rewrite":
        return Masker(strategy, lambda v: None, True)
    if name == "string_rewrite":
        text = str(rewrite_value(strategy))
        return Masker(strategy, lambda v: text, True)
    if name == "random_string_rewrite":
        tail = suffix(strategy)
        length = max(_random_length(strategy, column, len(tail)), 0)
        return Masker(
            strategy,
            lambda v: "".join(secrets.choice(_ALPHABET) for _ in range(length)) + tail,
            False,
            random=True,
        )
    if name in ("hash", "hmac"):
        return Masker(strategy, _keyed(name, key or b""), False)
    if name == "generalize_date":
        return Masker(strategy, generalize_date, False)
    raise ValueError(f"no masker for strategy {name}")


def _random_length(strategy: Strategy, column: ColumnInfo, tail: int = 0) -> int:
    wanted = strategy.configuration.get("length")
    length = wanted if isinstance(wanted, int) and wanted > 0 else _RANDOM_LENGTH
    return min(length, column.length - tail) if column.length else length


def _keyed(name: str, key: bytes) -> Callable[[Any], str]:
    secret = (
        hmac.new(key, b"pledge.masking.hash", hashlib.sha256).digest() if name == "hash" else key
    )

    def digest(value: Any) -> str:
        return hmac.new(secret, str(value).encode("utf-8"), hashlib.sha256).hexdigest()

    return digest


def generalize_date(value: Any) -> Any:
    """1 January of the value's year (midnight for timestamps, time zone kept)."""
    if isinstance(value, datetime):
        return value.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if isinstance(value, date):
        return value.replace(month=1, day=1)
    return value


# --- fingerprints --------------------------------------------------------------------------


class Fingerprints:
    """Keyed digests of values: compare without keeping them (salt from the request state)."""

    __slots__ = ("_salt",)

    def __init__(self, salt: bytes) -> None:
        self._salt = salt

    def exact(self, value: Any) -> str:
        """Digest of the value as stored (type included): unchanged ⇔ same digest."""
        return self._digest(b"x", _canonical(value))

    def loose(self, value: Any) -> str:
        """Digest of the normalised value: how identities are matched (case-insensitive)."""
        return self._digest(b"n", normalise(value))

    def _digest(self, tag: bytes, text: str) -> str:
        h = hashlib.blake2b(key=self._salt, digest_size=16)
        h.update(tag)
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.hexdigest()


def _canonical(value: Any) -> str:
    if isinstance(value, datetime | date):
        return f"{type(value).__name__}:{value.isoformat()}"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes:" + bytes(value).hex()
    return f"{type(value).__name__}:{value!r}"


def normalise(value: Any) -> str:
    """How values from different stores are compared: text without case, numbers as text.

    A value read as 42 in one store and '42' in another is the same key; MySQL matches
    e-mail addresses without regard to case, so the engine must too.
    """
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)
