"""The traversal plan of a data subject request: which collections, in which order, via what.

A request starts at the identity fields (`fides_meta.identity`: email, phone, user_id …) of
every collection of every controller system, and follows `fides_meta.references`:

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

The plan is pure data, derived from the manifest alone and cached by its digest, so a request
pays nothing for planning. Checks against the real tables (columns, types, NOT NULL) happen
when the engine binds the plan to its connectors.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pledge.errors import PlanError as PlanError  # re-exported: raised and caught here
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


# --- building ----------------------------------------------------------------------------

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


@dataclass
class _Candidate:
    id: str
    system: str
    dataset: Dataset
    collection: Collection
    connection: str | None


def build_graph(manifest: Manifest) -> Graph:
    """Plan the traversal over every dataset of every controller system (no caching)."""
    candidates, skipped, manual = _candidates(manifest)
    directed, undirected = _references(candidates)
    seeds = _seeds(candidates)
    dist = _distances(seeds, directed, undirected)
    edges = _orient(directed, undirected, dist)
    waits = _waits(candidates, dist)
    levels = _levels([c for c in candidates if c in dist], edges, waits)
    nodes = {
        key: _node(candidates[key], level, seeds.get(key, ()), edges)
        for level, keys in enumerate(levels)
        for key in keys
    }
    personal = _personal_categories(manifest, candidates.values())
    unreachable = tuple(
        Unreachable(key, c.system, _holds_personal(c.collection, personal))
        for key, c in candidates.items()
        if key not in dist
    )
    kinds = dict.fromkeys(s.identity for node in nodes.values() for s in node.seeds)
    return Graph(
        manifest.digest,
        nodes,
        tuple(tuple(level) for level in levels),
        unreachable,
        tuple(skipped),
        _forwarded(manifest),
        tuple(manual),
        tuple(kinds),
        personal,
    )


def _candidates(manifest: Manifest) -> tuple[dict[str, _Candidate], list[str], list[str]]:
    found: dict[str, _Candidate] = {}
    skipped: list[str] = []
    manual: list[str] = []
    for key, system in manifest.systems.items():
        if system.role != "controller":
            continue
        datasets = manifest.datasets_of(key)
        if not datasets:
            manual.append(key)
        for dataset in datasets:
            for coll in dataset.collections:
                node = f"{dataset.fides_key}.{coll.name}"
                if coll.meta.skip_processing:
                    skipped.append(node)
                elif node not in found:
                    found[node] = _Candidate(node, key, dataset, coll, system.connection)
    return found, skipped, manual


def _references(candidates: Mapping[str, _Candidate]) -> tuple[list[Edge], list[Edge]]:
    """Directed edges, and undirected links (as the referencing side's `from` edge)."""
    directed: list[Edge] = []
    undirected: list[Edge] = []
    for key, cand in candidates.items():
        for name, fld in cand.collection.iter_fields():
            for ref in fld.meta.references:
                coll, _, other = ref.field.partition(".")
                target = f"{ref.dataset}.{coll}"
                if target not in candidates or not other:
                    continue  # a processor's or a skipped collection: never traversed
                if ref.direction == "to":
                    directed.append(Edge(key, name, target, other, "source"))
                elif ref.direction == "from":
                    directed.append(Edge(target, other, key, name, "target"))
                else:
                    undirected.append(Edge(target, other, key, name, "target"))
    return directed, undirected


def _seeds(candidates: Mapping[str, _Candidate]) -> dict[str, tuple[Seed, ...]]:
    seeds: dict[str, tuple[Seed, ...]] = {}
    for key, cand in candidates.items():
        found = tuple(
            Seed(fld.name, kind)
            for fld in cand.collection.fields
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


def _orient(directed: list[Edge], undirected: list[Edge], dist: Mapping[str, int]) -> list[Edge]:
    """Kept data edges: directed ones between reachable collections, undirected ones oriented."""
    kept = [e for e in directed if e.source in dist and e.target in dist]
    succ: dict[str, set[str]] = {}
    for e in kept:
        succ.setdefault(e.source, set()).add(e.target)
    cycle = _find_cycle(succ)
    if cycle:
        raise PlanError(
            "the dataset references form a cycle, so no collection can be read first",
            [" → ".join(cycle) + ": remove one reference's direction"],
        )
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


def _waits(candidates: Mapping[str, _Candidate], dist: Mapping[str, int]) -> list[tuple[str, str]]:
    """Ordering constraints (first, then) from `after` of collections and datasets."""
    by_dataset: dict[str, list[str]] = {}
    for key, cand in candidates.items():
        by_dataset.setdefault(cand.dataset.fides_key, []).append(key)
    pairs: list[tuple[str, str]] = []
    for key, cand in candidates.items():
        pairs.extend((first, key) for first in cand.collection.meta.after)
        meta = cand.dataset.fides_meta
        for ds in meta.after if meta else ():
            pairs.extend((first, key) for first in by_dataset.get(ds, ()))
    return [(a, b) for a, b in pairs if a in dist and b in dist and a != b]


def _levels(
    keys: Sequence[str], edges: Sequence[Edge], waits: Sequence[tuple[str, str]]
) -> list[list[str]]:
    """Longest-path layering: a collection comes one level after its last predecessor."""
    preds: dict[str, set[str]] = {k: set() for k in keys}
    for e in edges:
        preds[e.target].add(e.source)
    for first, then in waits:
        preds[then].add(first)
    succ: dict[str, set[str]] = {}
    for k, ps in preds.items():
        for p in ps:
            succ.setdefault(p, set()).add(k)
    cycle = _find_cycle(succ)
    if cycle:
        raise PlanError(
            "`after` and the dataset references form a cycle",
            [" → ".join(cycle) + ": remove one `after` entry or reference direction"],
        )
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
    state: dict[str, int] = {}
    for start in sorted(succ):
        if state.get(start):
            continue
        path = [start]
        state[start] = 1
        stack = [iter(sorted(succ.get(start, ())))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                state[path.pop()] = 2
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(succ.get(nxt, ()))))
    return None


def _node(cand: _Candidate, level: int, seeds: tuple[Seed, ...], edges: Sequence[Edge]) -> Node:
    namespace = cand.dataset.fides_meta.namespace if cand.dataset.fides_meta else None
    schema = namespace.get("schema") if namespace else None
    return Node(
        cand.id,
        cand.system,
        cand.dataset.fides_key,
        cand.collection,
        cand.connection,
        schema if isinstance(schema, str) else None,
        level,
        seeds,
        tuple(e for e in edges if e.target == cand.id),
        tuple(e for e in edges if e.source == cand.id),
    )


def _personal_categories(manifest: Manifest, cands: Iterable[_Candidate]) -> dict[str, bool]:
    keys = {
        c
        for cand in cands
        for _, fld in cand.collection.iter_fields()
        for c in fld.data_categories or ()
    }
    return {k: manifest.is_personal(k) for k in sorted(keys)}


def _holds_personal(collection: Collection, personal: Mapping[str, bool]) -> bool:
    labels = [c for _, f in collection.iter_fields() for c in f.data_categories or ()]
    return not labels or any(personal.get(c, True) for c in labels)


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
