"""The connector interface: how request execution reads and changes an organisation's store.

Execution (`pledge.requests.engine`) talks to every store through this interface, so later
connectors (files, HTTP, manual tasks) plug in without touching the engine. The interface is
set-based on purpose: one call reads every row of a collection that matches a set of values,
one call deletes or rewrites a set of rows. A connector that cannot do better than row by row
still offers the same calls; the engine never loops over rows against a store.

Nothing here carries personal data into messages: errors name the connection, table and
column, never a value, and never a URL.
"""

from __future__ import annotations

import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, Literal, Protocol

from pledge.errors import ConnectorConfigError as ConnectorConfigError  # re-exported
from pledge.errors import ConnectorError as ConnectorError  # re-exported

ColumnKind = Literal[
    "string",
    "integer",
    "float",
    "decimal",
    "boolean",
    "date",
    "datetime",
    "time",
    "uuid",
    "binary",
    "json",
    "other",
]
Row = tuple[Any, ...]
Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class TableName:
    """A table, optionally inside a schema (a Fides dataset's `fides_meta.namespace.schema`)."""

    name: str
    schema: str | None = None

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """What the store says about a column: enough to tell whether a value can be written."""

    name: str
    kind: ColumnKind
    nullable: bool
    length: int | None = None
    type_name: str = ""


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """`table.columns` references `target.target_columns` (a constraint the store enforces)."""

    table: TableName
    columns: tuple[str, ...]
    target: TableName
    target_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A reflected table: columns, primary key, foreign keys and unique column sets."""

    name: TableName
    columns: Mapping[str, ColumnInfo]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()

    def is_unique(self, column: str) -> bool:
        """Whether `column` alone must be unique (primary key or a one-column constraint)."""
        return self.primary_key == (column,) or (column,) in self.unique

    def in_foreign_key(self, column: str) -> bool:
        return any(column in fk.columns for fk in self.foreign_keys)


@dataclass(frozen=True)
class Schema:
    """Every table of a store that the connector can see, reflected once."""

    tables: Mapping[TableName, TableInfo] = field(default_factory=dict)

    def table(self, name: TableName) -> TableInfo | None:
        return self.tables.get(name)

    @cached_property
    def _referencing(self) -> dict[TableName, tuple[ForeignKey, ...]]:
        found: dict[TableName, list[ForeignKey]] = {}
        for info in self.tables.values():
            for fk in info.foreign_keys:
                found.setdefault(fk.target, []).append(fk)
        return {k: tuple(v) for k, v in found.items()}

    def referencing(self, name: TableName) -> tuple[ForeignKey, ...]:
        """Foreign keys of any table (itself included) that point at `name`."""
        return self._referencing.get(name, ())


@dataclass(frozen=True, slots=True)
class ReadSpec:
    """Which columns of which table a read returns, in this order."""

    table: TableName
    columns: tuple[str, ...]
    key: tuple[int, ...] = ()
    """Positions in `columns` that identify a row; rows read in several batches are
    deduplicated on them (on the whole row when empty)."""


class Reader(Protocol):
    """Set-based reads on one connection of a store."""

    def read(
        self,
        spec: ReadSpec,
        match: Mapping[str, Collection[Any]],
        *,
        lock: bool = False,
        fold: Collection[str] = (),
    ) -> list[Row]:
        """Rows where any column of `match` holds one of its values (batched, deduplicated).

        Values a column cannot hold (text for an integer column) simply match nothing. With
        `lock`, rows are locked for the rest of the transaction where the store can. Text
        columns named in `fold` (e-mail identities) match regardless of letter case: a row
        matches when its value, lower-cased (`pledge.identities.match_key`), is one of the
        values lower-cased, whatever the column's collation says.
        """
        ...

    def fetch(
        self,
        spec: ReadSpec,
        key_columns: tuple[str, ...],
        keys: Collection[Key],
        *,
        lock: bool = False,
    ) -> list[Row]:
        """Rows whose key (one or several columns) is one of `keys`."""
        ...

    def count(self, table: TableName, column: str, values: Collection[Any]) -> dict[Any, int]:
        """How many rows hold each of `values` in `column` (values held by none are left out)."""
        ...

    def referenced(
        self,
        table: TableName,
        columns: tuple[str, ...],
        values: Collection[Key],
        exclude: tuple[tuple[str, ...], Collection[Key]] | None = None,
    ) -> set[Key]:
        """Which `values` (tuples over `columns`) some row still holds.

        `exclude` = (key columns, keys) leaves those rows out: a self-reference from a row that
        is being deleted with its target does not keep the target.
        """
        ...


class Writer(Reader, Protocol):
    """Reads and writes inside one transaction."""

    def delete(self, table: TableName, key_columns: tuple[str, ...], keys: Sequence[Key]) -> int:
        """Delete the rows with these keys; returns how many were deleted."""
        ...

    def update(
        self,
        table: TableName,
        key_columns: tuple[str, ...],
        changes: Sequence[tuple[Key, Mapping[str, Any]]],
    ) -> int:
        """Set the given columns of each keyed row; returns how many rows were changed."""
        ...


class Connector(ABC):
    """One store (a database, a file tree, an API) that requests are executed against."""

    key: str
    """The manifest's connection key; names the store in messages and reports."""
    kind: str
    """The connection type (postgres, mysql, sqlite …)."""

    @abstractmethod
    def introspect(self) -> Schema:
        """The store's tables, columns and constraints, reflected once and cached."""

    @abstractmethod
    def session(self) -> AbstractContextManager[Reader]:
        """A connection for several reads in a row (no transaction is held open)."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Writer]:
        """One transaction: committed when the block ends, rolled back if it raises."""

    def read(
        self, spec: ReadSpec, match: Mapping[str, Collection[Any]], fold: Collection[str] = ()
    ) -> list[Row]:
        """Rows of `spec.table` matching `match` (see `Reader.read`), on a fresh connection."""
        with self.session() as reader:
            return reader.read(spec, match, fold=fold)

    def erase(self, table: TableName, key_columns: tuple[str, ...], keys: Sequence[Key]) -> int:
        """Delete rows by key in a transaction of their own."""
        with self.transaction() as tx:
            return tx.delete(table, key_columns, keys)

    def update(
        self,
        table: TableName,
        key_columns: tuple[str, ...],
        changes: Sequence[tuple[Key, Mapping[str, Any]]],
    ) -> int:
        """Rewrite columns of keyed rows in a transaction of their own."""
        with self.transaction() as tx:
            return tx.update(table, key_columns, changes)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; the connector must not be used afterwards."""


def chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """`values` in slices of at most `size` (an IN list per slice)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- values -------------------------------------------------------------------------------

_INT = re.compile(r"[+-]?\d+")


def coerce(kind: ColumnKind, value: Any) -> Any:
    """`value` as the column kind can compare it, or None when the column cannot hold it.

    Identity values arrive as text; values followed from another store may be of another
    type. A value that cannot match (text for an integer column) is dropped instead of making
    the database raise.
    """
    if value is None:
        return None
    converter = _COERCE.get(kind)
    if converter is None:
        return value
    try:
        return converter(value)
    except (ValueError, TypeError, InvalidOperation, AttributeError):
        return None


def _to_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and _INT.fullmatch(v.strip()):
        return int(v)
    if isinstance(v, Decimal) and v == v.to_integral_value():
        return int(v)
    return None


def _to_str(v: Any) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, int | uuid.UUID | Decimal) and not isinstance(v, bool):
        return str(v)
    return None


def _to_number(v: Any) -> Any:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float | Decimal):
        return v
    return Decimal(str(v).strip()) if isinstance(v, str) else None


def _to_uuid(v: Any) -> uuid.UUID | None:
    return v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))


def _to_date(v: Any) -> date | None:
    if isinstance(v, datetime):
        return None
    if isinstance(v, date):
        return v
    return date.fromisoformat(v) if isinstance(v, str) else None


def _to_datetime(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v
    return datetime.fromisoformat(v) if isinstance(v, str) else None


def _to_bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


_COERCE: dict[str, Callable[[Any], Any]] = {
    "integer": _to_int,
    "string": _to_str,
    "float": _to_number,
    "decimal": _to_number,
    "uuid": _to_uuid,
    "date": _to_date,
    "datetime": _to_datetime,
    "boolean": _to_bool,
}
