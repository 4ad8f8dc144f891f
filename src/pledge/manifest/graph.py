"""The dataset graph: collections, the references between them, and the order requests walk them.

Lint, the request planner, forwarding and the demo all ask this module, so `pledge check` and a
request cannot disagree about what an identity reaches, in which order, or whether a cycle
leaves nothing to read first. A request starts at the identity fields (`fides_meta.identity`:
email, phone, user_id …) of every collection of every controller system, and follows
`fides_meta.references`:

- `direction: from` on field F of collection C, naming D.G: C.F takes its values from D.G, so
  C is reached from D by `C.F IN (values of D.G)`; C holds the pointer (C is D's child);
- `direction: to`: the reverse, D is reached from C by `D.G IN (values of C.F)`; C holds the
  pointer, so other rows of C may point at the same D row (D may be shared);
- no direction: either way. Such a link is oriented away from the identity (the side reached
  first feeds the other; on a tie the referenced side feeds the referencing one), and never so
  that it closes a cycle.

The result is a DAG in topological levels: every collection of a level depends only on earlier
levels, so a level's collections can be read in parallel. `after` (collection or dataset)
adds ordering without data flow. Collections no identity reaches are reported, not guessed at;
`skip_processing` collections are left out; processor systems are never part of the plan, they
are reported as forwarded to their controller (P-S14).

`survey` looks at every dataset of every system without raising and lists the cycles (lint
reports them at their line); `build_graph` refuses the ones a request would meet. The plan is
pure data, derived from the manifest alone and cached by its digest, so a request pays nothing
for planning. Checks against the real tables (columns, types, NOT NULL) happen when the engine
binds the plan to its connectors.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pledge.errors import PlanError as PlanError  # re-exported: raised and caught by the planner
from pledge.manifest.datasets import Collection, Dataset, DatasetField
from pledge.manifest.model import Manifest


@dataclass(frozen=True, slots=True)
class Edge:
    """Rows of `target` are found by `target.target_field IN (values of source.source_field)`.

    `pointer` says which side declared the reference: the side holding the pointer is the
    child for erasure order; when the source holds it, the target row may be shared.
    """

    source: str
    source_field: str
    target: str
    target_field: str
    pointer: Literal["source", "target"]

    @property
    def child(self) -> str:
        return self.target if self.pointer == "target" else self.source

    @property
    def parent(self) -> str:
        return self.source if self.pointer == "target" else self.target


@dataclass(frozen=True, slots=True)
class Link:
    """One `fides_meta.references` entry as written: `collection.field` names `to_*`."""

    dataset: str
    collection: str
    field: str
    """Dotted path of the field holding the reference (the pointer)."""
    index: int
    """Position in the field's `references` (lint points at it)."""
    to_dataset: str
    to_collection: str
    to_field: str
    direction: Literal["from", "to"] | None

    @property
    def node(self) -> str:
        return f"{self.dataset}.{self.collection}"

    @property
    def target(self) -> str:
        return f"{self.to_dataset}.{self.to_collection}"

    def edge(self) -> Edge:
        """The data flow (an undirected link as the referencing side's `from`)."""
        if self.direction == "to":
            return Edge(self.node, self.field, self.target, self.to_field, "source")
        return Edge(self.target, self.to_field, self.node, self.field, "target")


def collection_links(dataset: str, collection: Collection) -> Iterator[Link]:
    """Every reference written in a collection's fields (nested ones included)."""
    for name, fld in collection.iter_fields():
        for i, ref in enumerate(fld.meta.references):
            to_collection, _, to_field = ref.field.partition(".")
            yield Link(
                dataset,
                collection.name,
                name,
                i,
                ref.dataset,
                to_collection,
                to_field,
                ref.direction,
            )


def links(dataset: Dataset) -> Iterator[Link]:
    """Every reference written in a dataset."""
    for collection in dataset.collections:
        yield from collection_links(dataset.fides_key, collection)


def parents_first(dataset: Dataset) -> list[Collection]:
    """A dataset's collections with the ones they point at (in the dataset) first.

    The order tables are created and filled in; a reference cycle is cut where it closes.
    """
    by_name = {c.name: c for c in dataset.collections}
    done: dict[str, Collection] = {}

    def visit(c: Collection, path: tuple[str, ...]) -> None:
        if c.name in done or c.name in path:
            return
        for link in collection_links(dataset.fides_key, c):
            parent = by_name.get(link.to_collection)
            if link.to_dataset == dataset.fides_key and parent is not None and parent is not c:
                visit(parent, (*path, c.name))
        done[c.name] = c

    for c in dataset.collections:
        visit(c, ())
    return list(done.values())


@dataclass(frozen=True, slots=True)
class Seed:
    """A field that holds an identity: rows are found by `field IN (identity values)`."""

    field: str
    identity: str


@dataclass(frozen=True, slots=True)
class Node:
    """One collection in the plan."""

    id: str
    """`dataset.collection`."""
    system: str
    dataset: str
    collection: Collection
    connection: str | None
    schema: str | None
    level: int
    seeds: tuple[Seed, ...]
    inbound: tuple[Edge, ...]
    outbound: tuple[Edge, ...]

    @property
    def name(self) -> str:
        return self.collection.name

    @property
    def fields(self) -> tuple[DatasetField, ...]:
        """Top-level fields: the columns of a table."""
        return self.collection.fields

    @property
    def erase_after(self) -> tuple[str, ...]:
        return self.collection.meta.erase_after


@dataclass(frozen=True, slots=True)
class Unreachable:
    """A collection of a controller system that no identity reaches: requests would miss it."""

    node: str
    system: str
    personal: bool


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A processor system: requests go to its controller, never into its store (P-S14)."""

    system: str
    controller: str | None
    contact_field: str | None


DIRECTED = "directed references"
AFTER = "collections ordered by `after`"
ERASE_AFTER = "collections ordered by `erase_after`"
DATASET_AFTER = "datasets ordered by `after`"
MIXED = "`after` and the dataset references"


@dataclass(frozen=True, slots=True)
class Cycle:
    """Links of one kind (see the constants above) that order nodes in a circle."""

    kind: str
    nodes: tuple[str, ...]
    """Collections (datasets for DATASET_AFTER), the first repeated last."""
    blocks: bool
    """A request would meet it, so no plan can be made (an `erase_after` cycle never blocks)."""


@dataclass(frozen=True)
class Graph:
    """The traversal plan of a manifest (see the module docstring)."""

    digest: str
    nodes: Mapping[str, Node]
    levels: tuple[tuple[str, ...], ...]
    unreachable: tuple[Unreachable, ...] = ()
    skipped: tuple[str, ...] = ()
    forwarded: tuple[Forwarded, ...] = ()
    manual: tuple[str, ...] = ()
    """Controller systems without datasets: nothing can be executed automatically there."""
    identities: tuple[str, ...] = ()
    """Identity kinds that start a traversal somewhere."""
    personal: Mapping[str, bool] = field(default_factory=dict)
    """Per category key seen in the datasets: whether it is personal data."""

    def ordered(self) -> Iterator[Node]:
        for level in self.levels:
            for key in level:
                yield self.nodes[key]


@dataclass
class Member:
    """A collection of a system's dataset (the first system naming it)."""

    id: str
    system: str
    dataset: Dataset
    collection: Collection
    connection: str | None
    planned: bool
    """A controller's collection not marked `skip_processing`: requests walk it."""


@dataclass(frozen=True)
class Survey:
    """Every collection of every system's datasets, walked once, never raising."""

    members: Mapping[str, Member]
    links: tuple[Link, ...]
    seeds: Mapping[str, tuple[Seed, ...]]
    distance: Mapping[str, int]
    """Planned collections an identity reaches, by number of links from it."""
    unreachable: tuple[Unreachable, ...]
    cycles: tuple[Cycle, ...]
    edges: tuple[Edge, ...]
    """Data edges between reached collections (undirected links oriented)."""
    waits: tuple[tuple[str, str], ...]
    """(first, then) from `after` between reached collections."""
    skipped: tuple[str, ...]
    manual: tuple[str, ...]

    def blocking(self) -> list[Cycle]:
        return [c for c in self.cycles if c.blocks]


# --- surveying ---------------------------------------------------------------------------


def survey(manifest: Manifest) -> Survey:
    """Walk every dataset of every system: reachability, cycles and the oriented edges."""
    members, skipped, manual = _members(manifest)
    found = tuple(
        link
        for m in members.values()
        for link in collection_links(m.dataset.fides_key, m.collection)
    )
    planned = {k: m for k, m in members.items() if m.planned}
    directed, undirected = _references(found, planned)
    seeds = _seeds(planned)
    dist = _distances(seeds, directed, undirected)
    loops = _declared_cycles(members, found, dist)
    edges: list[Edge] = []
    waits: list[tuple[str, str]] = []
    if not any(c.blocks for c in loops):
        kept = [e for e in directed if e.source in dist and e.target in dist]
        _block(loops, DIRECTED, _find_cycle(_successors(kept, ())))
    if not any(c.blocks for c in loops):
        edges = _orient(directed, undirected, dist)
        waits = _waits(planned, dist)
        _block(loops, MIXED, _find_cycle(_successors(edges, waits)))
    unreachable = tuple(
        Unreachable(key, m.system, _holds_personal(manifest, m.collection))
        for key, m in planned.items()
        if key not in dist
    )
    return Survey(
        members,
        found,
        seeds,
        dist,
        unreachable,
        tuple(loops),
        tuple(edges),
        tuple(waits),
        tuple(skipped),
        tuple(manual),
    )


def _members(manifest: Manifest) -> tuple[dict[str, Member], list[str], list[str]]:
    found: dict[str, Member] = {}
    skipped: list[str] = []
    manual: list[str] = []
    for key, system in manifest.systems.items():
        controller = system.role == "controller"
        datasets = manifest.datasets_of(key)
        if controller and not datasets:
            manual.append(key)
        for dataset in datasets:
            for coll in dataset.collections:
                node = f"{dataset.fides_key}.{coll.name}"
                skip = coll.meta.skip_processing
                if controller and skip:
                    skipped.append(node)
                if node not in found or (controller and not skip and not found[node].planned):
                    planned = controller and not skip
                    found[node] = Member(node, key, dataset, coll, system.connection, planned)
    return found, skipped, manual


def _references(
    found: Iterable[Link], planned: Mapping[str, Member]
) -> tuple[list[Edge], list[Edge]]:
    """Directed edges, and undirected links (as the referencing side's `from` edge), between
    planned collections: a processor's or a skipped collection is never traversed."""
    directed: list[Edge] = []
    undirected: list[Edge] = []
    for link in found:
        if link.node not in planned or link.target not in planned or not link.to_field:
            continue
        (directed if link.direction else undirected).append(link.edge())
    return directed, undirected


def _seeds(planned: Mapping[str, Member]) -> dict[str, tuple[Seed, ...]]:
    seeds: dict[str, tuple[Seed, ...]] = {}
    for key, member in planned.items():
        found = tuple(
            Seed(fld.name, kind)
            for fld in member.collection.fields
            if (kind := fld.meta.identity or fld.meta.custom_request_field)
        )
        if found:
            seeds[key] = found
    return seeds


def _distances(
    seeds: Mapping[str, tuple[Seed, ...]], directed: list[Edge], undirected: list[Edge]
) -> dict[str, int]:
    """Breadth-first distance of every reachable collection from the identity fields."""
    links: dict[str, set[str]] = {}
    for e in directed:
        links.setdefault(e.source, set()).add(e.target)
    for e in undirected:
        links.setdefault(e.source, set()).add(e.target)
        links.setdefault(e.target, set()).add(e.source)
    dist = dict.fromkeys(seeds, 0)
    queue = deque(seeds)
    while queue:
        here = queue.popleft()
        for other in sorted(links.get(here, ())):
            if other not in dist:
                dist[other] = dist[here] + 1
                queue.append(other)
    return dist


def _declared_cycles(
    members: Mapping[str, Member], found: Iterable[Link], dist: Mapping[str, int]
) -> list[Cycle]:
    """Cycles of each kind of declared ordering, over every dataset of every system."""
    graphs: dict[str, dict[str, list[str]]] = {DIRECTED: {}, AFTER: {}, ERASE_AFTER: {}}
    for link in found:
        if link.direction is not None and link.target != link.node:
            e = link.edge()
            graphs[DIRECTED].setdefault(e.source, []).append(e.target)
    datasets: dict[str, Dataset] = {}
    for key, member in members.items():
        meta = member.collection.meta
        for entry in meta.after:
            graphs[AFTER].setdefault(entry, []).append(key)
        for entry in meta.erase_after:
            graphs[ERASE_AFTER].setdefault(entry, []).append(key)
        datasets.setdefault(member.dataset.fides_key, member.dataset)
    graphs[DATASET_AFTER] = {}
    for key, dataset in datasets.items():
        for entry in dataset.fides_meta.after if dataset.fides_meta else ():
            graphs[DATASET_AFTER].setdefault(entry, []).append(key)
    reached = {members[k].dataset.fides_key for k in dist} | set(dist)
    out: list[Cycle] = []
    for kind, succ in graphs.items():
        for nodes in cycles(succ):
            blocks = kind != ERASE_AFTER and all(n in reached for n in nodes)
            out.append(Cycle(kind, tuple(nodes), blocks))
    return out


def _block(found: list[Cycle], kind: str, nodes: list[str] | None) -> None:
    """Record a cycle a request meets: mark the declared one with its nodes, or add it."""
    if nodes is None:
        return
    for i, cycle in enumerate(found):
        if frozenset(cycle.nodes) == frozenset(nodes):
            found[i] = Cycle(cycle.kind, cycle.nodes, True)
            return
    found.append(Cycle(kind, tuple(nodes), True))


def cycles(succ: Mapping[str, Sequence[str]]) -> Iterator[list[str]]:
    """Each distinct cycle of a graph (nodes, first repeated last; the last step closes it)."""
    done: set[str] = set()
    seen: set[frozenset[str]] = set()
    for start in list(succ):
        if start in done:
            continue
        path = [start]
        on_path = {start}
        stack = [iter(succ.get(start, ()))]
        while stack:
            for target in stack[-1]:
                if target in on_path:
                    cycle = [*path[path.index(target) :], target]
                    if frozenset(cycle) not in seen:
                        seen.add(frozenset(cycle))
                        yield cycle
                elif target not in done:
                    path.append(target)
                    on_path.add(target)
                    stack.append(iter(succ.get(target, ())))
                    break
            else:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())


def _orient(directed: list[Edge], undirected: list[Edge], dist: Mapping[str, int]) -> list[Edge]:
    """Kept data edges: directed ones between reachable collections, undirected ones oriented
    so that they close no cycle (the directed ones have none: `survey` checked first)."""
    kept = [e for e in directed if e.source in dist and e.target in dist]
    succ: dict[str, set[str]] = {}
    for e in kept:
        succ.setdefault(e.source, set()).add(e.target)
    for e in undirected:
        if e.source not in dist or e.target not in dist or e.source == e.target:
            continue
        flipped = Edge(e.target, e.target_field, e.source, e.source_field, "source")
        options = (flipped, e) if dist[e.target] < dist[e.source] else (e, flipped)
        for option in options:
            if not _reaches(succ, option.target, option.source):
                kept.append(option)
                succ.setdefault(option.source, set()).add(option.target)
                break
    return kept


def _waits(planned: Mapping[str, Member], dist: Mapping[str, int]) -> list[tuple[str, str]]:
    """Ordering constraints (first, then) from `after` of collections and datasets."""
    by_dataset: dict[str, list[str]] = {}
    for key, member in planned.items():
        by_dataset.setdefault(member.dataset.fides_key, []).append(key)
    pairs: list[tuple[str, str]] = []
    for key, member in planned.items():
        pairs.extend((first, key) for first in member.collection.meta.after)
        meta = member.dataset.fides_meta
        for ds in meta.after if meta else ():
            pairs.extend((first, key) for first in by_dataset.get(ds, ()))
    return [(a, b) for a, b in pairs if a in dist and b in dist and a != b]


def _successors(edges: Iterable[Edge], waits: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    succ: dict[str, set[str]] = {}
    for e in edges:
        succ.setdefault(e.source, set()).add(e.target)
    for first, then in waits:
        succ.setdefault(first, set()).add(then)
    return succ


def _levels(
    keys: Sequence[str], edges: Sequence[Edge], waits: Sequence[tuple[str, str]]
) -> list[list[str]]:
    """Longest-path layering: a collection comes one level after its last predecessor."""
    preds: dict[str, set[str]] = {k: set() for k in keys}
    for e in edges:
        preds[e.target].add(e.source)
    for first, then in waits:
        preds[then].add(first)
    succ = _successors(edges, waits)
    level: dict[str, int] = {}
    for key in _topological(keys, preds, succ):
        level[key] = 1 + max((level[p] for p in preds[key]), default=-1)
    layers: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for key in keys:
        layers[level[key]].append(key)
    return layers


def _topological(
    keys: Sequence[str], preds: Mapping[str, set[str]], succ: Mapping[str, set[str]]
) -> list[str]:
    waiting = {k: len(preds[k]) for k in keys}
    ready = deque(k for k in keys if waiting[k] == 0)
    out: list[str] = []
    while ready:
        key = ready.popleft()
        out.append(key)
        for nxt in sorted(succ.get(key, ())):
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    return out


def _reaches(succ: Mapping[str, set[str]], start: str, goal: str) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        here = stack.pop()
        if here == goal:
            return True
        for nxt in succ.get(here, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _find_cycle(succ: Mapping[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (first node repeated last), or None."""
    ordered = {k: sorted(v) for k, v in sorted(succ.items())}
    return next(cycles(ordered), None)


def _holds_personal(manifest: Manifest, collection: Collection) -> bool:
    """False only when every category labelled in the collection is non-personal."""
    labels = [c for _, f in collection.iter_fields() for c in f.data_categories or ()]
    labels += collection.data_categories or ()
    return not labels or any(manifest.is_personal(c) for c in labels)


# --- the plan ----------------------------------------------------------------------------

_CACHE: dict[str, Graph] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def plan_graph(manifest: Manifest) -> Graph:
    """The graph of `manifest`, built once per manifest digest."""
    digest = manifest.digest
    if not digest:
        return build_graph(manifest)
    with _CACHE_LOCK:
        found = _CACHE.get(digest)
    if found is not None:
        return found
    graph = build_graph(manifest)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[digest] = graph
    return graph


def build_graph(manifest: Manifest) -> Graph:
    """Plan the traversal over every dataset of every controller system (no caching).

    Raises PlanError for a cycle a request would meet; lint reports the same cycles.
    """
    found = survey(manifest)
    _refuse(found.blocking())
    planned = {k: m for k, m in found.members.items() if m.planned}
    levels = _levels([k for k in planned if k in found.distance], found.edges, found.waits)
    nodes = {
        key: _node(planned[key], level, found.seeds.get(key, ()), found.edges)
        for level, keys in enumerate(levels)
        for key in keys
    }
    kinds = dict.fromkeys(s.identity for node in nodes.values() for s in node.seeds)
    return Graph(
        manifest.digest,
        nodes,
        tuple(tuple(level) for level in levels),
        found.unreachable,
        found.skipped,
        _forwarded(manifest),
        found.manual,
        tuple(kinds),
        _personal(manifest, planned.values()),
    )


def _refuse(blocking: Sequence[Cycle]) -> None:
    directed = [c for c in blocking if c.kind == DIRECTED]
    if directed:
        raise PlanError(
            "the dataset references form a cycle, so no collection can be read first",
            [" → ".join(c.nodes) + ": remove one reference's direction" for c in directed],
        )
    if blocking:
        raise PlanError(
            "`after` and the dataset references form a cycle",
            [
                " → ".join(c.nodes) + ": remove one `after` entry or reference direction"
                for c in blocking
            ],
        )


def _node(member: Member, level: int, seeds: tuple[Seed, ...], edges: Sequence[Edge]) -> Node:
    namespace = member.dataset.fides_meta.namespace if member.dataset.fides_meta else None
    schema = namespace.get("schema") if namespace else None
    return Node(
        member.id,
        member.system,
        member.dataset.fides_key,
        member.collection,
        member.connection,
        schema if isinstance(schema, str) else None,
        level,
        seeds,
        tuple(e for e in edges if e.target == member.id),
        tuple(e for e in edges if e.source == member.id),
    )


def _personal(manifest: Manifest, members: Iterable[Member]) -> dict[str, bool]:
    keys = {
        c
        for member in members
        for _, fld in member.collection.iter_fields()
        for c in fld.data_categories or ()
    }
    return {k: manifest.is_personal(k) for k in sorted(keys)}


def _forwarded(manifest: Manifest) -> tuple[Forwarded, ...]:
    out = []
    for key, system in manifest.systems.items():
        if system.role != "processor":
            continue
        ref = system.controller
        name = manifest.text(ref.name, manifest.default_language) if ref else None
        out.append(Forwarded(key, name, ref.contact_field if ref else None))
    return tuple(out)


def erase_order(graph: Graph, before: Iterable[tuple[str, str]] = ()) -> tuple[str, ...]:
    """Collections in erasure order: children before parents.

    Constraints (first, then) come from references (the side holding the pointer first),
    `erase_after`, and `before` (the engine adds reflected foreign keys). A cycle cannot be
    honoured; it is broken at the collection with the fewest unmet constraints, which is safe
    because a row still referenced is masked instead of deleted.
    """
    keys = [n.id for n in reversed(list(graph.ordered()))]
    pairs = {(e.child, e.parent) for n in graph.nodes.values() for e in n.inbound}
    for node in graph.nodes.values():
        pairs.update((first, node.id) for first in node.erase_after if first in graph.nodes)
    pairs.update((a, b) for a, b in before if a in graph.nodes and b in graph.nodes)
    preds: dict[str, set[str]] = {k: set() for k in keys}
    for first, then in pairs:
        if first != then:
            preds[then].add(first)
    out: list[str] = []
    remaining = dict.fromkeys(keys)
    while remaining:
        ready = [k for k in remaining if not preds[k] & remaining.keys()]
        pick = ready[0] if ready else min(remaining, key=lambda k: len(preds[k] & remaining.keys()))
        out.append(pick)
        del remaining[pick]
    return tuple(out)
