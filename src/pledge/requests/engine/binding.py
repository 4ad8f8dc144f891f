"""Binding: the manifest's dataset graph turned into a `Plan` against the stores.

Each collection becomes a table whose columns, types and constraints were reflected once, with
one prepared read and, for erasure, a resolved and checked strategy per field. Everything that
can be wrong with the plan (a missing table or column, a strategy that cannot fit its column)
is found then and raised as one `PlanError` before any store is touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

from pledge.connectors.base import ColumnInfo, Connector, ReadSpec, Schema, TableInfo, TableName
from pledge.manifest.datasets import DatasetField
from pledge.manifest.graph import Graph, Node, erase_order
from pledge.manifest.masking import Strategy, resolve
from pledge.manifest.model import Manifest
from pledge.requests.engine.plan import Action, Bound, Inbound, Plan, RefCheck, Step, Target
from pledge.requests.masking import masker, problems


class Binder:
    """Turns the graph into a `Plan` against reflected schemas, collecting every problem."""

    def __init__(
        self,
        manifest: Manifest,
        connectors: Mapping[str, Connector],
        masking_key: bytes | None,
        graph: Graph,
    ) -> None:
        self.manifest = manifest
        self.connectors = connectors
        self.masking_key = masking_key
        self.graph = graph
        self.access: list[str] = []
        self.erasure: list[str] = []
        self.schemas: dict[str, Schema] = {}

    def bind(self) -> Plan:
        bound: dict[str, Bound] = {}
        for node in self.graph.ordered():
            found = self._bind(node)
            if found is not None:
                bound[node.id] = found
        bound = {k: self._with_inbound(b, bound) for k, b in bound.items()}
        bound = {k: self._with_references(b, bound) for k, b in bound.items()}
        levels = tuple(tuple(k for k in level if k in bound) for level in self.graph.levels)
        order = tuple(k for k in erase_order(self.graph, self._fk_pairs(bound)) if k in bound)
        steps = (
            Step("collect", "collect"),
            *(Step(f"erase:{k}", "erase", k) for k in order if bound[k].action != "none"),
            Step("verify", "verify"),
        )
        return Plan(
            self.graph,
            bound,
            levels,
            order,
            steps,
            _digest(self.graph, bound, order),
            tuple(self.access),
            tuple(self.erasure),
        )

    def _schema(self, connector: Connector) -> Schema:
        if connector.key not in self.schemas:
            self.schemas[connector.key] = connector.introspect()
        return self.schemas[connector.key]

    def _bind(self, node: Node) -> Bound | None:
        connector = self.connectors.get(node.connection or "")
        if connector is None:
            self.access.append(
                f"{node.id}: system '{node.system}' has no open connector for connection "
                f"'{node.connection}'"
            )
            return None
        schema = self._schema(connector)
        name = TableName(node.name, node.schema)
        info = schema.table(name)
        if info is None:
            self.access.append(f"{node.id}: connection '{connector.key}' has no table {name}")
            return None
        declared = [f.name for f in node.fields]
        missing = [c for c in declared if c not in info.columns]
        if missing:
            self.access.append(
                f"{node.id}: table {name} has no column {', '.join(missing)} "
                "(the dataset and the table disagree)"
            )
            return None
        return self._bound(node, connector, schema, info, declared)

    def _bound(
        self, node: Node, connector: Connector, schema: Schema, info: TableInfo, declared: list[str]
    ) -> Bound:
        key = tuple(f.name for f in node.fields if f.meta.primary_key) or info.primary_key
        extra = [*key, *(c for fk in schema.referencing(info.name) for c in fk.target_columns)]
        columns = tuple(dict.fromkeys([*declared, *extra]))
        pos = {c: i for i, c in enumerate(columns)}
        spec = ReadSpec(info.name, columns, tuple(pos[k] for k in key))
        action, targets, kept = self._erasure(node, info, pos, key)
        if action != "none" and not key:
            self.erasure.append(
                f"{node.id}: table {info.name} has no primary key, so erased rows cannot be "
                "addressed; mark the key field with fides_meta.primary_key"
            )
        identity = tuple(pos[f.name] for f in node.fields if f.meta.identity)
        return Bound(
            node,
            connector,
            info,
            spec,
            len(declared),
            pos,
            key,
            (),
            identity,
            action,
            targets,
            kept,
        )

    def _erasure(
        self, node: Node, info: TableInfo, pos: Mapping[str, int], key: tuple[str, ...]
    ) -> tuple[Action, tuple[Target, ...], tuple[str, ...]]:
        targets: list[Target] = []
        kept: list[str] = []
        for fld in node.fields:
            if fld.name in key or fld.meta.primary_key:
                if fld.meta.masking is not None:
                    self.erasure.append(
                        f"{node.id}.{fld.name} is a primary key; masking it would break references"
                    )
                continue
            personal = self._personal(fld)
            if fld.meta.read_only:
                kept.extend([fld.name] if personal else [])
            elif personal or fld.meta.masking is not None:
                target = self._target(node, fld, info.columns[fld.name], info, pos)
                targets.extend([target] if target else [])
        return self._action(node, info, key, targets), tuple(targets), tuple(kept)

    def _personal(self, fld: DatasetField) -> bool:
        personal = self.graph.personal
        return any(personal.get(c, True) for c in fld.data_categories or ())

    def _target(
        self,
        node: Node,
        fld: DatasetField,
        column: ColumnInfo,
        info: TableInfo,
        pos: Mapping[str, int],
    ) -> Target | None:
        system = self.manifest.systems[node.system]
        strategy = resolve(fld, node.collection, system)
        if strategy is None and column.nullable:
            strategy = Strategy("null_rewrite")
        where = f"{node.id}.{fld.name}"
        if strategy is None:
            self.erasure.append(
                f"{where}: column {column.name} is NOT NULL and no masking strategy is given; "
                "add fides_meta.masking to the field or the system's `masking` for its category"
            )
            return None
        found = problems(strategy, column, info, self.masking_key is not None)
        if found:
            origin = "" if strategy.origin == "default" else f" (from {strategy.origin})"
            self.erasure.extend(f"{where}{origin}: {p}" for p in found)
            return None
        return Target(fld.name, pos[fld.name], masker(strategy, column, self.masking_key))

    @staticmethod
    def _action(
        node: Node, info: TableInfo, key: tuple[str, ...], targets: Sequence[Target]
    ) -> Action:
        """delete: the collection says so, or erasure would leave nothing but keys and NULLs."""
        override = node.collection.meta.masking_strategy_override
        if override is not None and override.strategy == "delete":
            return "delete"
        if not targets:
            return "none"
        nulls = {t.name for t in targets if t.masker.strategy.name == "null_rewrite"}
        rest = [
            f.name
            for f in node.fields
            if f.name not in key
            and not f.meta.references
            and not info.in_foreign_key(f.name)
            and f.name not in nulls
        ]
        return "mask" if rest else "delete"

    def _with_inbound(self, b: Bound, bound: Mapping[str, Bound]) -> Bound:
        inbound = tuple(
            Inbound(
                e,
                bound[e.source].pos[e.source_field],
                bound[e.source].table,
                bound[e.source].connector,
            )
            for e in b.node.inbound
            if e.source in bound
            and e.target_field in b.pos
            and e.source_field in bound[e.source].pos
        )
        return replace(b, inbound=inbound)

    def _with_references(self, b: Bound, bound: Mapping[str, Bound]) -> Bound:
        """Who may still point at a row of `b`: reflected foreign keys and dataset references."""
        schema = self._schema(b.connector)
        checks = [
            RefCheck(
                b.connector,
                fk.table,
                fk.columns,
                tuple(b.pos[c] for c in fk.target_columns),
                fk.table == b.table,
            )
            for fk in schema.referencing(b.table)
            if all(c in b.pos for c in fk.target_columns)
        ]
        covered = {(c.connector.key, c.table, c.columns) for c in checks}
        edges = [inb.edge for x in bound.values() for inb in x.inbound]
        for e in edges:
            child = bound.get(e.child)
            if e.parent != b.id or child is None or child.id == b.id:
                continue
            child_field, parent_field = (
                (e.target_field, e.source_field)
                if e.pointer == "target"
                else (e.source_field, e.target_field)
            )
            key = (child.connector.key, child.table, (child_field,))
            if key not in covered and parent_field in b.pos:
                covered.add(key)
                checks.append(
                    RefCheck(
                        child.connector, child.table, (child_field,), (b.pos[parent_field],), False
                    )
                )
        return replace(b, referencing=tuple(checks))

    def _fk_pairs(self, bound: Mapping[str, Bound]) -> list[tuple[str, str]]:
        """(child, parent) collection pairs from the reflected foreign keys of each store."""
        by_table = {(b.connector.key, b.table): k for k, b in bound.items()}
        pairs = []
        for k, b in bound.items():
            for fk in b.info.foreign_keys:
                parent = by_table.get((b.connector.key, fk.target))
                if parent is not None and parent != k:
                    pairs.append((k, parent))
        return pairs


def _digest(graph: Graph, bound: Mapping[str, Bound], order: Sequence[str]) -> str:
    h = hashlib.sha256(graph.digest.encode())
    for k in order:
        b = bound[k]
        h.update(
            repr(
                (k, b.spec, b.key, b.action, [(t.name, t.masker.strategy) for t in b.targets])
            ).encode()
        )
    return h.hexdigest()[:32]
