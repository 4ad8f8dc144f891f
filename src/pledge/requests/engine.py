"""Execution of data subject requests against the organisation's stores (DESIGN §5).

The engine binds the manifest's traversal plan (`graph.py`) to connectors: each collection
becomes a table whose columns, types and constraints were reflected once, with one prepared
read and, for erasure, a resolved and checked strategy per field. Everything that can be
wrong with the plan (a missing table or column, a strategy that cannot fit its column) is
found then and raised as one `PlanError` before any store is touched.

Reading: level by level, one set-based query per collection (`WHERE key IN (…)`, batched by
the connector), the collections of a level in parallel on a small thread pool.

Erasure runs as steps a job can checkpoint (`plan.steps`, `run_step(step, state)`):

1. `collect` reads the graph and records, per collection, the rows to change: their keys, what
   to do, and digests of the values to mask. Rows are *the person's own* when they were
   reached from an identity or from a row of the person's own through a row that points at
   its parent; a row reached through a pointer that other rows share (an order reached from
   the person's order-contact row, while another person's contact row points at it too) is
   *shared*: of a shared row only the fields holding one of the person's identifiers are
   masked, and it is never deleted, nor is anything reached only through it.
2. `erase:<collection>`, children before parents (reflected foreign keys, references,
   `erase_after`): one transaction per collection that locks the rows, deletes or masks them,
   and masks instead of deleting a row that other rows still reference. A field is masked
   only while it still holds the value collected (its digest matches), and deleted rows stay
   deleted, so a step repeated after a crash finds nothing to do and changes nothing.
3. `verify` reads the graph again from the same identities and fetches every targeted row by
   key: the erasure is `completed` only when nothing targeted is left; otherwise `failed`, with
   the collections and fields where data remains.

What happens to a collection: rows are deleted when its `masking_strategy_override` is
`delete`, or when erasure would leave nothing but keys, references and NULLs (every other
field is personal and nulled); otherwise the personal fields are masked (`masking.py` says
with what) and `read_only` fields are kept and reported (a legal obligation or hold). A row to
delete that another row still references (a foreign key the store reports, or a dataset
reference) is masked instead, so no other person's row is broken and no cascade fires.

Known limits, by design: rows added later below a masked row are found by verification only
while some identity of the request still reaches them (give `customer_id` as well as the
e-mail address when retrying); an erasure started with another identity that still reaches
already masked rows masks their keyed hashes and random strings again (harmless: the values
stay unreadable, but it counts as a change).

No value of a person is logged or put into an exception.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from pledge.connectors.base import (
    ColumnInfo,
    Connector,
    Key,
    Reader,
    ReadSpec,
    Row,
    Schema,
    TableInfo,
    TableName,
    Writer,
    coerce,
)
from pledge.manifest.datasets import DatasetField
from pledge.manifest.model import Manifest
from pledge.requests.graph import Edge, Graph, Node, PlanError, erase_order, plan_graph
from pledge.requests.masking import (
    Fingerprints,
    Masker,
    Strategy,
    masker,
    normalise,
    problems,
    resolve,
)
from pledge.requests.report import (
    AccessResult,
    CollectionData,
    CollectionErasure,
    CollectionRectification,
    ErasureReport,
    ErasureState,
    ForwardedSystem,
    RectificationReport,
    TargetRow,
)

log = logging.getLogger("pledge.requests")

Action = Literal["delete", "mask", "none"]
ROW = "(row)"
"""Named in `left_fields` when a row that should be gone is still there."""


# --- the bound plan ------------------------------------------------------------------------


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


# --- binding -------------------------------------------------------------------------------


class _Binder:
    """Turns the graph into a `Plan` against reflected schemas, collecting every problem."""

    def __init__(self, engine: Engine, graph: Graph) -> None:
        self.engine = engine
        self.manifest = engine.manifest
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
        connector = self.engine.connectors.get(node.connection or "")
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
        found = problems(strategy, column, info, self.engine.masking_key is not None)
        if found:
            origin = "" if strategy.origin == "default" else f" (from {strategy.origin})"
            self.erasure.extend(f"{where}{origin}: {p}" for p in found)
            return None
        return Target(fld.name, pos[fld.name], masker(strategy, column, self.engine.masking_key))

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
        return _replace(b, inbound=inbound)

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
        return _replace(b, referencing=tuple(checks))

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


def _replace(b: Bound, **changes: Any) -> Bound:
    values = {f: getattr(b, f) for f in b.__dataclass_fields__}
    values.update(changes)
    return Bound(**values)


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


# --- traversal -------------------------------------------------------------------------------


@dataclass(slots=True)
class Found:
    """Rows found in one collection and, when tracked, whether each is the person's own."""

    rows: list[Row]
    own: list[bool] | None = None


@dataclass(slots=True)
class _Inputs:
    match: dict[str, list[Any]]
    flags: dict[str, dict[str, bool]] | None
    shared: list[tuple[Inbound, dict[str, int], dict[str, Any]]] = field(default_factory=list)


def identity_values(identities: Mapping[str, Iterable[Any]]) -> dict[str, list[Any]]:
    """Identities as the traversal uses them: blanks dropped, e-mail also in lower case."""
    out: dict[str, list[Any]] = {}
    for kind, values in identities.items():
        found: dict[Any, None] = {}
        for v in values:
            v = v.strip() if isinstance(v, str) else v
            if v is None or v == "":
                continue
            found[v] = None
            if kind == "email" and isinstance(v, str):
                found[v.lower()] = None
        if found:
            out[kind] = list(found)
    return out


# --- the engine ---------------------------------------------------------------------------


class Engine:
    """Executes access, erasure and rectification for one manifest over its connectors."""

    def __init__(
        self,
        manifest: Manifest,
        connectors: Mapping[str, Connector],
        *,
        masking_key: bytes | None = None,
        workers: int = 4,
    ) -> None:
        self.manifest = manifest
        self.connectors = dict(connectors)
        self.masking_key = masking_key
        self.workers = max(1, workers)
        self._plan: Plan | None = None
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def open(
        cls,
        manifest: Manifest,
        env: Mapping[str, str] | None = None,
        *,
        masking_key: bytes | None = None,
        workers: int = 4,
        **options: Any,
    ) -> Engine:
        """An engine with a connector for every connection the plan needs (from `url_env`)."""
        from pledge.connectors import open_connectors

        connectors = open_connectors(manifest, env, **options)
        return cls(manifest, connectors, masking_key=masking_key, workers=workers)

    def close(self) -> None:
        """Stop the thread pool and close the connectors."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for connector in self.connectors.values():
            connector.close()

    # -- planning --------------------------------------------------------------------------

    def plan(self) -> Plan:
        """The bound plan (reflection happens once per engine)."""
        if self._plan is None:
            self._plan = _Binder(self, plan_graph(self.manifest)).bind()
        return self._plan

    def access_plan(self) -> Plan:
        plan = self.plan()
        if plan.access_problems:
            raise PlanError("the datasets do not match the stores", plan.access_problems)
        return plan

    def erasure_plan(self) -> Plan:
        """The plan with erasure checked: every problem is raised before anything is touched."""
        plan = self.access_plan()
        if plan.erasure_problems:
            raise PlanError(
                "erasure cannot be planned safely; nothing was changed", plan.erasure_problems
            )
        return plan

    # -- reading ---------------------------------------------------------------------------

    def access(self, identities: Mapping[str, Iterable[Any]]) -> AccessResult:
        """Every row of the person in every controller collection, by system and collection."""
        plan = self.access_plan()
        found = self.traverse(plan, identity_values(identities), track=False)
        data = tuple(
            CollectionData(
                b.node.system,
                b.node.dataset,
                b.node.name,
                b.spec.columns[: b.declared],
                tuple(row[: b.declared] for row in found[b.id].rows),
            )
            for b in plan.ordered()
            if found[b.id].rows
        )
        return AccessResult(data, *_context(plan.graph))

    def traverse(
        self,
        plan: Plan,
        identities: Mapping[str, Sequence[Any]],
        *,
        track: bool,
        known: Mapping[str, Sequence[TargetRow]] | None = None,
    ) -> dict[str, Found]:
        """Read the graph level by level; with `track`, tell the person's own rows from shared.

        `known` rows (verification: the rows erasure changed) are read by key as well, so rows
        added below a masked row are found although its identifiers are gone.
        """
        found: dict[str, Found] = {}
        for level in plan.levels:
            jobs: list[tuple[Bound, _Inputs]] = []
            for key in level:
                b = plan.bound[key]
                inputs = _inputs(b, found, identities, track, (known or {}).get(key, ()))
                if inputs.match:
                    jobs.append((b, inputs))
                else:
                    found[key] = Found([], [] if track else None)
            found.update(self._run(jobs, track))
        return found

    def _run(self, jobs: list[tuple[Bound, _Inputs]], track: bool) -> dict[str, Found]:
        """Read one level: per store, its collections split over up to `workers` connections.

        The first chunk runs in the calling thread, so a level of one collection (or an
        engine with one worker) costs no thread hand-off at all.
        """
        groups: dict[str, list[tuple[Bound, _Inputs]]] = {}
        for job in jobs:
            groups.setdefault(job[0].connector.key, []).append(job)
        chunks: list[list[tuple[Bound, _Inputs]]] = []
        for group in groups.values():
            n = min(self.workers, len(group))
            chunks.extend(group[i::n] for i in range(n))
        if not chunks:
            return {}
        futures = [self._executor().submit(self._read_chunk, c, track) for c in chunks[1:]]
        out = self._read_chunk(chunks[0], track)
        for future in futures:
            out.update(future.result())
        return out

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pledge-dsr")
        return self._pool

    def _read_chunk(self, chunk: list[tuple[Bound, _Inputs]], track: bool) -> dict[str, Found]:
        with chunk[0][0].connector.session() as reader:
            return {b.id: self._read(b, inputs, reader, track) for b, inputs in chunk}

    def _read(self, b: Bound, inputs: _Inputs, reader: Reader, track: bool) -> Found:
        if inputs.shared:
            _settle_shared(b, inputs, reader)
        rows = reader.read(b.spec, inputs.match)
        if not track or inputs.flags is None:
            return Found(rows)
        flags = [(b.pos[col], values) for col, values in inputs.flags.items()]
        own = [any(values.get(normalise(row[p]), False) for p, values in flags) for row in rows]
        return Found(rows, own)

    # -- erasure ---------------------------------------------------------------------------

    def start(self, identities: Mapping[str, Iterable[Any]]) -> ErasureState:
        """A new erasure's state; the plan is checked first (PlanError, nothing touched)."""
        plan = self.erasure_plan()
        return ErasureState(identity_values(identities), secrets.token_hex(16), plan.digest)

    def run_step(self, step: Step, state: ErasureState) -> ErasureState:
        """Run one step and return the new state; a step already done changes nothing."""
        plan = self.erasure_plan()
        if state.plan != plan.digest:
            raise PlanError(
                "the manifest or the stores changed since this erasure started; start it again"
            )
        if step.id in state.done:
            return state
        if step.kind != "collect" and state.targets is None:
            raise PlanError(f"step '{step.id}' needs the collect step first")
        new = state.copy()
        if step.kind == "collect":
            self._collect(plan, new)
        elif step.kind == "erase":
            assert step.node is not None
            _erase_step(plan.bound[step.node], new)
        else:
            self._verify(plan, new)
        new.done.append(step.id)
        return new

    def erase(self, identities: Mapping[str, Iterable[Any]]) -> ErasureReport:
        """All steps in one go (the job layer runs them one by one instead)."""
        state = self.start(identities)
        for step in self.erasure_plan().steps:
            state = self.run_step(step, state)
        return self.report(state)

    def _collect(self, plan: Plan, state: ErasureState) -> None:
        found = self.traverse(plan, state.identities, track=True)
        prints = Fingerprints(bytes.fromhex(state.salt))
        identifying = _identifying(plan, found, state.identities, prints)
        state.identifying = sorted(identifying)
        state.targets = {}
        for b in plan.ordered():
            got = found[b.id]
            state.found[b.id] = sum(1 for own in got.own or () if own)
            if b.action != "none":
                state.targets[b.id] = _targets(b, got, prints, identifying)
        log.info("erasure collected %d rows to change", sum(map(len, state.targets.values())))

    def _verify(self, plan: Plan, state: ErasureState) -> None:
        found = self.traverse(plan, state.identities, track=True, known=state.targets)
        prints = Fingerprints(bytes.fromhex(state.salt))
        identifying = set(state.identifying)
        left: dict[str, dict[str, Any]] = {}
        for b in plan.ordered():
            if b.action == "none":
                continue
            rows, fields = _left(
                b, found[b.id], (state.targets or {}).get(b.id, []), prints, identifying
            )
            if rows:
                left[b.id] = {"rows": rows, "fields": sorted(fields)}
                log.warning("erasure verification: %d rows left in %s", rows, b.id)
        state.left = left
        state.status = "failed" if left else "completed"

    def report(self, state: ErasureState) -> ErasureReport:
        """The report of an erasure so far: counts and field names, never values."""
        plan = self.plan()
        collections = [_collection_report(b, state) for b in plan.ordered()]
        kept = [c for c in collections if c.action != "none" or (c.kept_fields and c.rows_found)]
        return ErasureReport(state.status, kept, *_context(plan.graph))

    # -- rectification ---------------------------------------------------------------------

    def rectify(
        self, identities: Mapping[str, Iterable[Any]], corrections: Mapping[str, Any]
    ) -> RectificationReport:
        """Apply corrections {category or field: new value} to the fields that hold them.

        The person's own rows get every matching field; a shared row only the fields that hold
        one of the person's identifiers. Values never appear in messages or logs.
        """
        plan = self.access_plan()
        fields, unmatched = _correction_fields(plan, corrections)
        ids = identity_values(identities)
        found = self.traverse(plan, ids, track=True)
        prints = Fingerprints(secrets.token_bytes(16))
        # Only the identifiers the person gave: another address found in their rows (a work
        # e-mail) is not the one they asked to correct.
        identifying = {prints.loose(v) for values in ids.values() for v in values}
        strict = _identifier_categories(plan)
        out = []
        for key, changes in fields.items():
            b = plan.bound[key]
            exact = {f.name for f in b.node.fields if strict & set(f.data_categories or ())}
            rows, count = _rectify(b, found[key], changes, exact, prints, identifying)
            out.append(
                CollectionRectification(
                    b.node.system, b.node.dataset, b.node.name, rows, count, tuple(changes)
                )
            )
        log.info("rectification changed %d fields", sum(c.fields_changed for c in out))
        return RectificationReport(out, unmatched, _context(plan.graph)[0])


def _context(graph: Graph) -> tuple[tuple[ForwardedSystem, ...], tuple[str, ...], tuple[str, ...]]:
    forwarded = tuple(
        ForwardedSystem(f.system, f.controller, f.contact_field) for f in graph.forwarded
    )
    return forwarded, graph.manual, tuple(u.node for u in graph.unreachable)


# --- traversal helpers ----------------------------------------------------------------------


def _inputs(
    b: Bound,
    found: Mapping[str, Found],
    identities: Mapping[str, Sequence[Any]],
    track: bool,
    known: Sequence[TargetRow] = (),
) -> _Inputs:
    """The value lists a collection is read with, and (tracked) whose each value is."""
    match: dict[str, dict[Any, None]] = {}
    flags: dict[str, dict[str, bool]] | None = {} if track else None
    inputs = _Inputs({}, flags)
    if known and len(b.key) == 1:
        match[b.key[0]] = dict.fromkeys(t.key[0] for t in known)
        if flags is not None:
            mine = flags.setdefault(b.key[0], {})
            for t in known:
                n = normalise(t.key[0])
                mine[n] = mine.get(n, False) or t.mode != "shared"
    for seed in b.node.seeds:
        values = identities.get(seed.identity)
        if values:
            match.setdefault(seed.field, {}).update(dict.fromkeys(values))
            if flags is not None:
                flags.setdefault(seed.field, {}).update((normalise(v), True) for v in values)
    for inb in b.inbound:
        parent = found.get(inb.edge.source)
        if parent is not None and parent.rows:
            _follow(inb, parent, match.setdefault(inb.edge.target_field, {}), inputs)
    inputs.match = {col: list(values) for col, values in match.items() if values}
    return inputs


def _follow(inb: Inbound, parent: Found, values: dict[Any, None], inputs: _Inputs) -> None:
    p = inb.source_pos
    if inputs.flags is None or parent.own is None:
        for row in parent.rows:
            if row[p] is not None:
                values[row[p]] = None
        return
    flags = inputs.flags.setdefault(inb.edge.target_field, {})
    counts: dict[str, int] = {}
    raw: dict[str, Any] = {}
    for row, own in zip(parent.rows, parent.own, strict=True):
        v = row[p]
        if v is None:
            continue
        values[v] = None
        n = normalise(v)
        if inb.edge.pointer == "target":  # the new rows point at the parent: theirs if it is
            flags[n] = flags.get(n, False) or own
        else:  # the parent points at the new rows: others may point at them too
            flags.setdefault(n, False)
            if own:
                counts[n] = counts.get(n, 0) + 1
                raw[n] = v
    if counts:
        inputs.shared.append((inb, counts, raw))


def _settle_shared(b: Bound, inputs: _Inputs, reader: Reader) -> None:
    """A row the person's rows point at is theirs only if no other row points at it."""
    assert inputs.flags is not None
    for inb, counts, raw in inputs.shared:
        total = _count(inb, list(raw.values()), reader, b.connector)
        flags = inputs.flags[inb.edge.target_field]
        for n, mine in counts.items():
            if total.get(n, 0) <= mine:
                flags[n] = True


def _count(inb: Inbound, values: list[Any], reader: Reader, connector: Connector) -> dict[str, int]:
    """Rows of the source collection per value of the pointer field (normalised values)."""

    def run(r: Reader) -> dict[str, int]:
        out: dict[str, int] = {}
        for value, n in r.count(inb.source_table, inb.edge.source_field, values).items():
            out[normalise(value)] = out.get(normalise(value), 0) + n
        return out

    if inb.source_connector is connector:
        return run(reader)
    with inb.source_connector.session() as other:
        return run(other)


def _identifying(
    plan: Plan,
    found: Mapping[str, Found],
    identities: Mapping[str, Sequence[Any]],
    prints: Fingerprints,
) -> set[str]:
    """Digests of the person's identifiers: the request's, and identity fields of own rows.

    What erasure writes (a keyed hash of the e-mail address, a fixed text) is left out: an
    own row erased before may hold it, and it must not make every erased row look like data
    that is still there.
    """
    raw: dict[str, Any] = {}
    for values in identities.values():
        raw.update((normalise(v), v) for v in values)
    for b in plan.ordered():
        got = found.get(b.id)
        if got is None or not b.identity_pos:
            continue
        for row, own in zip(got.rows, got.own or (), strict=False):
            if own:
                raw.update(
                    (normalise(row[p]), row[p]) for p in b.identity_pos if row[p] is not None
                )
    maskers = {
        (t.masker.strategy.name, repr(t.masker.strategy.configuration)): t.masker
        for b in plan.ordered()
        for t in b.targets
        if not t.masker.random and t.masker.strategy.name != "null_rewrite"
    }
    written = {
        normalise(out)
        for v in raw.values()
        for m in maskers.values()
        if (out := m.apply(v)) is not None and out != v
    }
    return {prints.loose(v) for n, v in raw.items() if n not in written}


# --- erasure helpers ---------------------------------------------------------------------------


def _targets(b: Bound, got: Found, prints: Fingerprints, identifying: set[str]) -> list[TargetRow]:
    out = []
    for row, own in zip(got.rows, got.own or (), strict=True):
        if own:
            fields = {
                t.name: prints.exact(row[t.pos]) for t in b.targets if t.masker.needed(row[t.pos])
            }
            if b.action == "delete" or fields:
                out.append(
                    TargetRow(b.key_of(row), "delete" if b.action == "delete" else "mask", fields)
                )
            continue
        fields = {
            t.name: prints.exact(v)
            for t in b.targets
            if (v := row[t.pos]) is not None
            and prints.loose(v) in identifying
            and t.masker.needed(v)
        }
        if fields:
            out.append(TargetRow(b.key_of(row), "shared", fields))
    return out


def _nkey(key: Sequence[Any]) -> tuple[str, ...]:
    return tuple(normalise(v) for v in key)


def _erase_step(b: Bound, state: ErasureState) -> None:
    """One collection in one transaction; repeating it finds nothing to do (module doc)."""
    rows = (state.targets or {}).get(b.id, [])
    outcome = dict.fromkeys(
        ("rows_deleted", "rows_masked", "rows_shared", "rows_kept_referenced", "fields_changed"), 0
    )
    if rows:
        prints = Fingerprints(bytes.fromhex(state.salt))
        with b.connector.transaction() as tx:
            _erase_rows(b, rows, tx, prints, outcome)
    state.outcomes[b.id] = outcome
    log.info(
        "erased %s: %d deleted, %d masked, %d shared, %d kept (referenced)",
        b.id,
        outcome["rows_deleted"],
        outcome["rows_masked"],
        outcome["rows_shared"],
        outcome["rows_kept_referenced"],
    )


def _erase_rows(
    b: Bound, rows: list[TargetRow], tx: Writer, prints: Fingerprints, outcome: dict[str, int]
) -> None:
    current = {
        _nkey(b.key_of(r)): r for r in tx.fetch(b.spec, b.key, [t.key for t in rows], lock=True)
    }
    doomed = [
        (t, current[_nkey(t.key)]) for t in rows if t.mode == "delete" and _nkey(t.key) in current
    ]
    kept = _still_referenced(b, doomed, tx)
    deletions: list[Key] = []
    changes: list[tuple[Key, dict[str, Any]]] = []
    for t in rows:
        k = _nkey(t.key)
        row = current.get(k)
        if t.mode == "delete" and k not in kept:
            outcome["rows_deleted"] += 1
            if row is not None:
                deletions.append(b.key_of(row))
            continue
        if row is None:
            continue
        changes.append((b.key_of(row), _mask_row(b, t, row, prints)))
        outcome["fields_changed"] += len(t.fields)
        outcome["rows_shared" if t.mode == "shared" else "rows_masked"] += 1
        outcome["rows_kept_referenced"] += t.mode == "delete"
    tx.delete(b.table, b.key, deletions)
    tx.update(b.table, b.key, [c for c in changes if c[1]])


def _mask_row(b: Bound, t: TargetRow, row: Row, prints: Fingerprints) -> dict[str, Any]:
    """New values for the fields that still hold what was collected (others are done)."""
    out: dict[str, Any] = {}
    for name, digest in t.fields.items():
        target = b.target(name)
        value = row[target.pos]
        if value is not None and prints.exact(value) == digest:
            new = target.masker.apply(value)
            if new != value:
                out[name] = new
    return out


def _still_referenced(
    b: Bound, doomed: list[tuple[TargetRow, Row]], tx: Writer
) -> set[tuple[str, ...]]:
    """Keys of rows to delete that some other row still points at: they are masked instead."""
    kept: set[tuple[str, ...]] = set()
    if not doomed:
        return kept
    for check in b.referencing:
        by_value: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        values = []
        for t, row in doomed:
            value = tuple(row[p] for p in check.target_pos)
            if any(v is None for v in value):
                continue
            by_value.setdefault(_nkey(value), []).append(_nkey(t.key))
            values.append(value)
        if not values:
            continue
        exclude = (b.key, [b.key_of(row) for _, row in doomed]) if check.self_reference else None
        hits = _referenced(check, values, exclude, tx, b.connector)
        for hit in hits:
            kept.update(by_value.get(_nkey(hit), ()))
    return kept


def _referenced(
    check: RefCheck,
    values: list[Key],
    exclude: tuple[tuple[str, ...], list[Key]] | None,
    tx: Writer,
    connector: Connector,
) -> set[Key]:
    if check.connector is connector:
        return tx.referenced(check.table, check.columns, values, exclude)
    with check.connector.session() as reader:
        return reader.referenced(check.table, check.columns, values, exclude)


def _left(
    b: Bound, got: Found, targets: list[TargetRow], prints: Fingerprints, identifying: set[str]
) -> tuple[int, set[str]]:
    """How many rows still hold what erasure targeted, and in which fields."""
    by_key = {_nkey(t.key): t for t in targets}
    rows: dict[tuple[str, ...], tuple[Row, bool | None]] = {
        _nkey(b.key_of(row)): (row, own) for row, own in zip(got.rows, got.own or (), strict=True)
    }
    # Single-column keys were read by the traversal itself (`known`); a key it did not find
    # is gone. Composite keys are fetched here.
    missing = [t.key for k, t in by_key.items() if k not in rows] if len(b.key) > 1 else []
    if missing:
        with b.connector.session() as reader:
            for row in reader.fetch(b.spec, b.key, missing):
                rows.setdefault(_nkey(b.key_of(row)), (row, None))
    count = 0
    fields: set[str] = set()
    for k, (row, own) in rows.items():
        left = _left_in_row(b, row, own, by_key.get(k), prints, identifying)
        if left:
            count += 1
            fields |= left
    return count, fields


def _left_in_row(
    b: Bound,
    row: Row,
    own: bool | None,
    target: TargetRow | None,
    prints: Fingerprints,
    identifying: set[str],
) -> set[str]:
    holding = {
        t.name
        for t in b.targets
        if (v := row[t.pos]) is not None and prints.loose(v) in identifying and t.masker.needed(v)
    }
    if target is None:
        if not own:
            return holding
        needed = {t.name for t in b.targets if t.masker.needed(row[t.pos])}
        if b.action == "delete" and (needed or not b.targets):
            return {ROW}
        return holding | needed
    unchanged = {
        name
        for name, digest in target.fields.items()
        if (v := row[b.target(name).pos]) is not None
        and prints.exact(v) == digest
        and b.target(name).masker.needed(v)
    }
    if target.mode == "delete" and not b.targets:
        unchanged.add(ROW)  # nothing to mask: the row itself (a link) is what must go
    return unchanged | holding


def _collection_report(b: Bound, state: ErasureState) -> CollectionErasure:
    outcome = state.outcomes.get(b.id, {})
    left = (state.left or {}).get(b.id, {})
    found = state.found.get(b.id, 0)
    verified = "verify" in state.done
    if left:
        status: Literal["pending", "erased", "nothing_found", "failed"] = "failed"
    elif not verified:
        status = "pending"
    else:
        status = "erased" if found or outcome.get("fields_changed") else "nothing_found"
    return CollectionErasure(
        b.node.system,
        b.node.dataset,
        b.node.name,
        b.action,
        rows_found=found,
        fields=tuple(t.name for t in b.targets),
        kept_fields=b.kept,
        left_rows=int(left.get("rows", 0)),
        left_fields=tuple(left.get("fields", ())),
        status=status,
        **outcome,
    )


# --- rectification helpers ----------------------------------------------------------------


def _correction_fields(
    plan: Plan, corrections: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], tuple[str, ...]]:
    """Per collection, {field: new value} for every correction key; PlanError if one won't fit."""
    out: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    issues: list[str] = []
    for b in plan.ordered():
        for fld in b.node.fields:
            key = _correction_key(b, fld, corrections)
            if key is None:
                continue
            used.add(key)
            column = b.info.columns[fld.name]
            value, issue = _fit(corrections[key], column)
            if issue:
                issues.append(f"{b.id}.{fld.name} (correction '{key}'): {issue}")
            else:
                out.setdefault(b.id, {})[fld.name] = value
    if issues:
        raise PlanError("the corrections cannot be applied; nothing was changed", issues)
    return out, tuple(k for k in corrections if k not in used)


def _correction_key(b: Bound, fld: DatasetField, corrections: Mapping[str, Any]) -> str | None:
    if fld.meta.primary_key or fld.meta.read_only or fld.name in b.key:
        return None
    for key in (f"{b.id}.{fld.name}", f"{b.node.name}.{fld.name}"):
        if key in corrections:
            return key
    return next((c for c in fld.data_categories or () if c in corrections), None)


def _fit(value: Any, column: ColumnInfo) -> tuple[Any, str | None]:
    """The value as the column stores it, or why it cannot be stored (the value unnamed)."""
    if value is None:
        return None, None if column.nullable else f"column {column.name} is NOT NULL"
    coerced = coerce(column.kind, value)
    if coerced is None:
        return None, f"the corrected value is not a valid {column.kind} for column {column.name}"
    if column.length is not None and isinstance(coerced, str) and len(coerced) > column.length:
        return None, f"the corrected value is longer than the {column.length} characters allowed"
    return coerced, None


def _identifier_categories(plan: Plan) -> set[str]:
    """Categories of identity fields (e-mail …): such a field in another row may name someone
    else (the agent who answered a ticket), so it is corrected only where it holds the
    person's own identifier."""
    return {
        c
        for b in plan.ordered()
        for f in b.node.fields
        if f.meta.identity
        for c in f.data_categories or ()
    }


def _rectify(
    b: Bound,
    got: Found,
    changes: Mapping[str, Any],
    exact: set[str],
    prints: Fingerprints,
    identifying: set[str],
) -> tuple[int, int]:
    """Apply the corrections to one collection in one transaction: (rows, fields) changed.

    The person's own rows get every correction, except that fields in `exact` (identifier
    categories) change only where they hold one of the person's identifiers; shared rows
    change only there too.
    """
    own_of = {
        _nkey(b.key_of(row)): bool(own) for row, own in zip(got.rows, got.own or (), strict=True)
    }
    if not own_of or not b.key:
        return 0, 0
    rows = fields = 0
    with b.connector.transaction() as tx:
        updates = []
        keys = [b.key_of(row) for row in got.rows]
        for row in tx.fetch(b.spec, b.key, keys, lock=True):
            own = own_of.get(_nkey(b.key_of(row)), False)
            new = {}
            for name, value in changes.items():
                current = row[b.pos[name]]
                holds = current is not None and prints.loose(current) in identifying
                if current != value and (holds or (own and name not in exact)):
                    new[name] = value
            if new:
                updates.append((b.key_of(row), new))
                rows += 1
                fields += len(new)
        tx.update(b.table, b.key, updates)
    return rows, fields
