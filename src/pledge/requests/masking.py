"""Erasure strategies against the real columns, applying them, and fingerprints.

Which strategy a field gets and what each strategy writes is the manifest's masking table
(`pledge.manifest.masking`), which lint checks against the datasets too. Here each strategy is
also checked against the column the store reports (kind, length, nullability, uniqueness,
foreign keys) when the plan is bound, so a strategy that cannot work fails before anything is
touched:

- `null_rewrite`: the column must take NULL (it is also the default when the column does);
- `string_rewrite`: a text column, the configured `value` (default "erased") must fit, not a
  unique column;
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pledge.connectors.base import ColumnInfo, TableInfo
from pledge.manifest.masking import Strategy, misfit, rewrite_value, suffix

TEXT_KINDS = frozenset({"string"})
DATE_KINDS = frozenset({"date", "datetime"})
_ALPHABET = string.ascii_letters + string.digits
_RANDOM_LENGTH = 32


def problems(strategy: Strategy, column: ColumnInfo, table: TableInfo, has_key: bool) -> list[str]:
    """Why `strategy` cannot write into `column` (empty when it can). No values are named."""
    kind = column.type_name or column.kind
    found = [why for _, why in misfit(strategy, _holds(column), kind, column.length, _at(column))]
    if strategy.name == "null_rewrite" and not column.nullable:
        found.append(
            f"null_rewrite sets column {column.name} to NULL, but it is NOT NULL; give the field "
            "a fides_meta.masking strategy that writes a value (string_rewrite, hmac …)"
        )
    if strategy.name == "string_rewrite" and table.is_unique(column.name):
        found.append(
            f"string_rewrite writes the same text into every row, but column {column.name} is "
            "unique; use hmac"
        )
    if strategy.name in ("hash", "hmac") and not has_key:
        found.append(f"{strategy.name} needs a masking key, and the engine was given none")
    if strategy.name != "null_rewrite" and table.in_foreign_key(column.name):
        found.append(
            f"{strategy.name} would break the foreign key on {column.name}; use null_rewrite"
        )
    return found


def _holds(column: ColumnInfo) -> Literal["text", "date", "other"]:
    if column.kind in TEXT_KINDS:
        return "text"
    return "date" if column.kind in DATE_KINDS else "other"


def _at(column: ColumnInfo) -> str:
    return f"column {column.name}"


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
