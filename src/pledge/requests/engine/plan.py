"""The bound plan: the traversal graph tied to reflected tables, as `binding` builds it.

A `Plan` holds one `Bound` per collection (its read, how rows reach it, what erasure does to
it) and the erasure's checkpointable `Step`s. Everything here is immutable once bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pledge.connectors.base import Connector, Key, ReadSpec, Row, TableInfo, TableName
from pledge.manifest.graph import Edge, Graph, Node
from pledge.requests.masking import Masker, normalise

Action = Literal["delete", "mask", "none"]


@dataclass(frozen=True, slots=True)
class Target:
    """A field erasure masks, at its position in the collection's read."""

    name: str
    pos: int
    masker: Masker


@dataclass(frozen=True, slots=True)
class Inbound:
    """An edge into a collection, with the position of the source field in the source's read."""

    edge: Edge
    source_pos: int
    source_table: TableName
    source_connector: Connector


@dataclass(frozen=True, slots=True)
class RefCheck:
    """Rows of `table.columns` (any store) that point at this collection's columns `target`."""

    connector: Connector
    table: TableName
    columns: tuple[str, ...]
    target_pos: tuple[int, ...]
    self_reference: bool


@dataclass(frozen=True)
class Bound:
    """One collection bound to its table: what to read, how to reach it, how to erase it."""

    node: Node
    connector: Connector
    info: TableInfo
    spec: ReadSpec
    declared: int
    """The first `declared` columns of `spec` are the dataset's fields (what access returns)."""
    pos: Mapping[str, int]
    key: tuple[str, ...]
    inbound: tuple[Inbound, ...]
    identity_pos: tuple[int, ...]
    action: Action
    targets: tuple[Target, ...]
    kept: tuple[str, ...]
    referencing: tuple[RefCheck, ...] = ()

    @property
    def id(self) -> str:
        return self.node.id

    @property
    def table(self) -> TableName:
        return self.spec.table

    def target(self, name: str) -> Target:
        return next(t for t in self.targets if t.name == name)

    def key_of(self, row: Row) -> Key:
        return tuple(row[self.pos[k]] for k in self.key)


@dataclass(frozen=True, slots=True)
class Step:
    """One checkpointable unit of an erasure."""

    id: str
    kind: Literal["collect", "erase", "verify"]
    node: str | None = None


@dataclass(frozen=True)
class Plan:
    """The graph bound to the stores; `steps` is the erasure's sequence of steps."""

    graph: Graph
    bound: Mapping[str, Bound]
    levels: tuple[tuple[str, ...], ...]
    order: tuple[str, ...]
    steps: tuple[Step, ...]
    digest: str
    access_problems: tuple[str, ...] = ()
    erasure_problems: tuple[str, ...] = ()

    def ordered(self) -> Iterable[Bound]:
        for level in self.levels:
            for key in level:
                yield self.bound[key]


def nkey(key: Sequence[Any]) -> tuple[str, ...]:
    """A row key as rows from different reads are matched by: each value normalised."""
    return tuple(normalise(v) for v in key)
