"""Lint rules: the Fides datasets behind the systems agree with the manifest and can be walked.

A request starts at identity fields, follows `fides_meta.references`, visits and erases
collections in order and masks field by field. These rules catch beforehand what would make
that walk miss data, loop, or write values a column cannot hold, and what the datasets hold
that the notice does not tell. The datasets are walked once per lint run into an `Index` that
every rule here shares, with YAML paths so each finding points into the dataset file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from pledge.manifest.datasets import Collection, Dataset, DatasetField, FieldMeta, MaskingStrategy
from pledge.manifest.findings import Finding
from pledge.manifest.lint import Context, rule
from pledge.manifest.lint.references import (
    DEFINED_IN,
    ancestors,
    covered,
    suggest,
    undefined_hint,
)
from pledge.manifest.load import LoadedDataset
from pledge.manifest.model import Manifest, System
from pledge.manifest.source import Path

Site: TypeAlias = tuple[LoadedDataset, Path]
Graph: TypeAlias = dict[str, list[tuple[str, Site]]]
CategorySite: TypeAlias = tuple[Path, str, str]  # (YAML path, category, owner label)

# --- one walk over every dataset file ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSite:
    """A field (nested ones included) with its dotted name and YAML path."""

    node: str
    name: str
    field: DatasetField
    path: Path

    @property
    def label(self) -> str:
        return f"field '{self.node}.{self.name}'"


@dataclass(frozen=True, slots=True)
class CollectionSite:
    """A collection with its file, YAML path, `dataset.collection` name and every field."""

    loaded: LoadedDataset
    dataset: Dataset
    collection: Collection
    path: Path
    node: str
    fields: tuple[FieldSite, ...]


@dataclass(frozen=True, slots=True)
class FileSites:
    """One dataset file: the systems naming it, its collections and every category in it."""

    loaded: LoadedDataset
    users: tuple[str, ...]
    collections: tuple[CollectionSite, ...]
    categories: tuple[CategorySite, ...]


def _fields(node: str, items: tuple[DatasetField, ...], path: Path) -> Iterator[FieldSite]:
    stack = [(items, "", path)]
    while stack:
        items, prefix, path = stack.pop()
        for k, item in enumerate(items):
            here = FieldSite(node, prefix + item.name, item, (*path, "fields", k))
            yield here
            if item.fields:
                stack.append((item.fields, here.name + ".", here.path))


def _collections(loaded: LoadedDataset) -> Iterator[CollectionSite]:
    assert loaded.content is not None
    for i, dataset in enumerate(loaded.content.dataset):
        for j, coll in enumerate(dataset.collections):
            path = ("dataset", i, "collections", j)
            node = f"{dataset.fides_key}.{coll.name}"
            yield CollectionSite(
                loaded, dataset, coll, path, node, tuple(_fields(node, coll.fields, path))
            )


def _tagged(keys: tuple[str, ...] | None, path: Path, owner: str) -> Iterator[CategorySite]:
    for k, key in enumerate(keys or ()):
        yield (*path, "data_categories", k), key, owner


def _categories(loaded: LoadedDataset, sites: tuple[CollectionSite, ...]) -> Iterator[CategorySite]:
    assert loaded.content is not None
    for i, dataset in enumerate(loaded.content.dataset):
        yield from _tagged(
            dataset.data_categories, ("dataset", i), f"dataset '{dataset.fides_key}'"
        )
    for site in sites:
        yield from _tagged(site.collection.data_categories, site.path, f"collection '{site.node}'")
        for f in site.fields:
            yield from _tagged(f.field.data_categories, f.path, f.label)


def _files(ctx: Context) -> dict[str, FileSites]:
    """Each loaded dataset file once (by file, though several systems may name it)."""
    users: dict[str, tuple[LoadedDataset, list[str]]] = {}
    for key in ctx.manifest.systems:
        for loaded in ctx.datasets_of(key):
            users.setdefault(loaded.file, (loaded, []))[1].append(key)
    files: dict[str, FileSites] = {}
    for file, (loaded, names) in users.items():
        sites = tuple(_collections(loaded))
        files[file] = FileSites(loaded, tuple(names), sites, tuple(_categories(loaded, sites)))
    return files


@dataclass
class Index:
    """Every dataset of the manifest: files, datasets by fides_key, collections and fields."""

    files: dict[str, FileSites]
    complete: bool
    """False when a dataset file did not load: an unknown dataset may be defined there."""
    datasets: dict[str, tuple[LoadedDataset, int, Dataset]] = field(default_factory=dict)
    duplicates: list[tuple[LoadedDataset, int, str, str]] = field(default_factory=list)
    collections: dict[str, list[str]] = field(default_factory=dict)
    fields: dict[str, set[str]] = field(default_factory=dict)
    sites: list[CollectionSite] = field(default_factory=list)
    """Collections of the datasets `datasets` holds (a duplicate's are left out)."""

    def split(self, ref: str) -> tuple[str, str]:
        """`dataset.rest` split at the longest known dataset key (fides keys may hold dots)."""
        parts = ref.split(".")
        for n in range(len(parts) - 1, 0, -1):
            head = ".".join(parts[:n])
            if head in self.datasets:
                return head, ".".join(parts[n:])
        head, _, rest = ref.partition(".")
        return head, rest

    def problem(self, dataset: str, rest: str, level: str) -> tuple[str, str | None] | None:
        """What is wrong with `dataset` + `collection.field` down to `level`, or None."""
        if dataset not in self.datasets:
            if not self.complete:
                return None
            message = f"dataset '{dataset}' is not defined in any dataset file"
            return message, suggest(dataset, self.datasets)
        coll, _, name = rest.partition(".")
        node = f"{dataset}.{coll}"
        if level != "dataset" and node not in self.fields:
            message = f"dataset '{dataset}' has no collection '{coll}'"
            return message, suggest(coll, self.collections[dataset])
        if level == "field" and name not in self.fields[node]:
            message = f"collection '{node}' has no field '{name}'"
            return message, suggest(rest, [f"{coll}.{f}" for f in self.fields[node]])
        return None


def build_index(ctx: Context) -> Index:
    files = _files(ctx)
    complete = all(d.content is not None for d in ctx.result.datasets.values())
    index = Index(files, complete)
    for one in files.values():
        assert one.loaded.content is not None
        for i, dataset in enumerate(one.loaded.content.dataset):
            first = index.datasets.setdefault(dataset.fides_key, (one.loaded, i, dataset))
            if first[2] is not dataset:
                index.duplicates.append((one.loaded, i, dataset.fides_key, first[0].file))
            else:
                index.collections[dataset.fides_key] = [c.name for c in dataset.collections]
        for site in one.collections:
            if index.datasets[site.dataset.fides_key][2] is site.dataset:
                index.sites.append(site)
                index.fields[site.node] = {f.name for f in site.fields}
    return index


def index_of(ctx: Context) -> Index:
    """The index of this lint run: built by the first dataset rule, reused by the others."""
    index = ctx.cache.get("datasets.index")
    if not isinstance(index, Index):
        index = ctx.cache["datasets.index"] = build_index(ctx)
    return index


def personal(manifest: Manifest) -> Callable[[str], bool]:
    """`manifest.is_personal` with the taxonomy looked up once, for loops over many fields."""
    categories = manifest.taxonomy.categories

    def test(key: str) -> bool:
        entry = categories.get(key)
        return entry.personal if entry is not None else True

    return test


def references(index: Index) -> Iterator[tuple[CollectionSite, FieldSite, int, str, str]]:
    """Every field reference: (collection, field, index in references, dataset, coll.field)."""
    for site in index.sites:
        for f in site.fields:
            for r, ref in enumerate(f.field.meta.references):
                yield site, f, r, ref.dataset, ref.field


def orderings(index: Index) -> Iterator[tuple[str, str, str, str, Site]]:
    """Every `after`/`erase_after` link: (graph, level, node that waits, node named, where)."""
    for site in index.sites:
        meta = site.collection.meta
        for attr, entries in (("after", meta.after), ("erase_after", meta.erase_after)):
            for k, entry in enumerate(entries):
                where = (site.loaded, (*site.path, "fides_meta", attr, k))
                yield f"collections ordered by `{attr}`", "collection", site.node, entry, where
    for key, (loaded, i, dataset) in index.datasets.items():
        for k, entry in enumerate(dataset.fides_meta.after if dataset.fides_meta else ()):
            where = (loaded, ("dataset", i, "fides_meta", "after", k))
            yield "datasets ordered by `after`", "dataset", key, entry, where


# --- undeclared-category, unused-category ------------------------------------------------


@rule(
    "undeclared-category",
    "error",
    "a dataset holds a personal category its systems do not declare (collected, not in notice)",
)
def undeclared_category(ctx: Context) -> Iterator[Finding]:
    manifest = ctx.manifest
    known = manifest.taxonomy.categories
    is_personal = personal(manifest)
    for one in index_of(ctx).files.values():
        declared = {c for key in one.users for c in manifest.systems[key].categories}
        for path, category, owner in one.categories:
            if category not in known:
                yield ctx.dataset_finding(
                    "undefined-reference",
                    one.loaded,
                    path,
                    f"category '{category}' of {owner} is not defined {DEFINED_IN['category']}",
                    undefined_hint(manifest, "category", category, known),
                )
            elif is_personal(category) and not covered(category, declared):
                yield ctx.dataset_finding(
                    "undeclared-category",
                    one.loaded,
                    path,
                    f"{owner} holds '{category}', which system "
                    f"{', '.join(repr(u) for u in one.users)} does not declare in `collects`, "
                    "so the notice does not tell people it is collected",
                    "add it to a `collects:` entry with its purposes",
                )


def _held(ctx: Context, index: Index, key: str, system: System) -> set[str] | None:
    """Categories (with their parents) held by a system's datasets; None if one did not load."""
    loaded = list(ctx.datasets_of(key))
    if not loaded or len(loaded) != len(set(system.datasets)):
        return None
    return {a for d in loaded for _, c, _ in index.files[d.file].categories for a in ancestors(c)}


@rule("unused-category", "warning", "a category a system declares that none of its datasets holds")
def unused_category(ctx: Context) -> Iterator[Finding]:
    index = index_of(ctx)
    for key, system in ctx.manifest.systems.items():
        held = _held(ctx, index, key, system) if system.datasets else None
        if held is None:
            continue
        seen: set[str] = set()
        for i, collect in enumerate(system.collects):
            for j, category in enumerate(collect.categories):
                if category in held or category in seen:
                    continue
                seen.add(category)
                yield ctx.finding(
                    "unused-category",
                    ("systems", key, "collects", i, "categories", j),
                    f"system '{key}' declares '{category}' but no field of its datasets holds it",
                    "remove it from `collects`, or label the field that holds it",
                )


# --- dataset-reference -------------------------------------------------------------------


@rule("dataset-reference", "error", "a dataset reference naming no dataset, collection or field")
def dataset_reference(ctx: Context) -> Iterator[Finding]:
    index = index_of(ctx)
    for loaded, i, key, first in index.duplicates:
        yield ctx.dataset_finding(
            "dataset-reference",
            loaded,
            ("dataset", i, "fides_key"),
            f"dataset '{key}' is defined twice (first in {first})",
            "give each dataset its own fides_key",
        )
    for site, f, r, dataset, target in references(index):
        problem = index.problem(dataset, target, "field")
        if problem is not None:
            part = "dataset" if dataset not in index.datasets else "field"
            path = (*f.path, "fides_meta", "references", r, part)
            yield ctx.dataset_finding("dataset-reference", site.loaded, path, *problem)
    for _, level, _, entry, (loaded, path) in orderings(index):
        head, rest = (entry, "") if level == "dataset" else index.split(entry)
        problem = index.problem(head, rest, level)
        if problem is not None:
            yield ctx.dataset_finding("dataset-reference", loaded, path, *problem)
    yield from _contact_fields(ctx, index)


def _contact_fields(ctx: Context, index: Index) -> Iterator[Finding]:
    """A processor system's `controller.contact_field` must name a real field (P-S14)."""
    for key, system in ctx.manifest.systems.items():
        ref = system.controller.contact_field if system.controller else None
        problem = index.problem(*index.split(ref), "field") if ref else None
        if problem is not None:
            path = ("systems", key, "controller", "contact_field")
            yield ctx.finding("dataset-reference", path, *problem)


# --- dataset-cycle -----------------------------------------------------------------------


def _graphs(index: Index) -> dict[str, Graph]:
    """Ordering graphs (edge: comes first → comes after), each edge with where it is written."""
    graphs: dict[str, Graph] = {}
    for label, _, waits, entry, where in orderings(index):
        graphs.setdefault(label, {}).setdefault(entry, []).append((waits, where))
    refs = graphs.setdefault("directed references", {})
    for site, f, r, dataset, target in references(index):
        direction = f.field.meta.references[r].direction
        other = f"{dataset}.{target.partition('.')[0]}"
        if direction is None or other == site.node:
            continue
        source, sink = (other, site.node) if direction == "from" else (site.node, other)
        where = (site.loaded, (*f.path, "fides_meta", "references", r, "direction"))
        refs.setdefault(source, []).append((sink, where))
    return graphs


def cycles(graph: Graph) -> Iterator[tuple[list[str], Site]]:
    """Each distinct cycle (as nodes, first repeated last) and the edge that closes it."""
    done: set[str] = set()
    seen: set[frozenset[str]] = set()
    for start in graph:
        if start in done:
            continue
        path = [start]
        on_path = {start}
        stack = [iter(graph.get(start, ()))]
        while stack:
            for target, site in stack[-1]:
                if target in on_path:
                    cycle = [*path[path.index(target) :], target]
                    if frozenset(cycle) not in seen:
                        seen.add(frozenset(cycle))
                        yield cycle, site
                elif target not in done:
                    path.append(target)
                    on_path.add(target)
                    stack.append(iter(graph.get(target, ())))
                    break
            else:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())


@rule("dataset-cycle", "error", "collections or datasets ordered in a cycle")
def dataset_cycle(ctx: Context) -> Iterator[Finding]:
    for label, graph in _graphs(index_of(ctx)).items():
        for cycle, (loaded, path) in cycles(graph):
            yield ctx.dataset_finding(
                "dataset-cycle",
                loaded,
                path,
                f"{label} form a cycle: {' → '.join(cycle)}",
                "remove one link of the cycle so requests can tell which comes first",
            )


# --- unreachable-collection --------------------------------------------------------------


def reachable(index: Index) -> set[str]:
    """Collections a request can reach from an identity, following references both ways."""
    links: dict[str, set[str]] = {}
    for site, _, _, dataset, target in references(index):
        other = f"{dataset}.{target.partition('.')[0]}"
        links.setdefault(site.node, set()).add(other)
        links.setdefault(other, set()).add(site.node)
    queue = deque(
        site.node
        for site in index.sites
        if any(f.field.meta.identity or f.field.meta.custom_request_field for f in site.fields)
    )
    found = set(queue)
    while queue:
        for other in links.get(queue.popleft(), ()):
            if other not in found:
                found.add(other)
                queue.append(other)
    return found


def _may_hold_personal(site: CollectionSite, is_personal: Callable[[str], bool]) -> bool:
    """False only when every category labelled in the collection is non-personal."""
    labels = [c for f in site.fields for c in f.field.data_categories or ()]
    labels += site.collection.data_categories or ()
    return not labels or any(is_personal(c) for c in labels)


@rule("unreachable-collection", "error", "a collection no identity reaches, so requests miss it")
def unreachable_collection(ctx: Context) -> Iterator[Finding]:
    index = index_of(ctx)
    found = reachable(index)
    is_personal = personal(ctx.manifest)
    systems = ctx.manifest.systems
    controlled = {
        file
        for file, one in index.files.items()
        if any(systems[u].role == "controller" for u in one.users)
    }
    for site in index.sites:
        if (
            site.node in found
            or site.loaded.file not in controlled
            or site.collection.meta.skip_processing
            or not _may_hold_personal(site, is_personal)
        ):
            continue
        yield ctx.dataset_finding(
            "unreachable-collection",
            site.loaded,
            site.path,
            f"collection '{site.node}' cannot be reached from any identity field, so access and "
            "erasure requests would miss it",
            "add a fides_meta.references link to a reachable collection, or "
            "`fides_meta: {skip_processing: true}` if it holds nothing about people",
        )


# --- masking-type ------------------------------------------------------------------------

STRATEGIES: tuple[str, ...] = MaskingStrategy.__args__  # type: ignore[attr-defined]
TEXT_STRATEGIES = frozenset(
    {"hash", "hmac", "string_rewrite", "random_string_rewrite", "aes_encrypt"}
)
TEXT_TYPES = frozenset({"string", "string[]"})
DATE_TYPES = frozenset({"date", "datetime"})
HASH_LENGTH = 64  # hex characters of a SHA-256 digest
MISFIT_HINTS = {
    "data_type": "choose a strategy that writes the field's data_type",
    "length": f"allow {HASH_LENGTH} characters, or choose another strategy",
}


def misfit(strategy: str, meta: FieldMeta) -> tuple[str, str] | None:
    """Why `strategy` cannot write into a field of this type: (attribute at fault, reason)."""
    kind = meta.kind
    if strategy in TEXT_STRATEGIES and kind is not None and kind not in TEXT_TYPES:
        return "data_type", f"{strategy} writes text but the field holds {kind}"
    if strategy == "generalize_date" and kind is not None and kind not in DATE_TYPES:
        return "data_type", f"generalize_date needs a date or datetime but the field holds {kind}"
    if strategy in ("hash", "hmac") and meta.length is not None and meta.length < HASH_LENGTH:
        return "length", (
            f"{strategy} writes {HASH_LENGTH} characters but the field holds at most {meta.length}"
        )
    return None


def _own_masking(f: FieldSite) -> tuple[Path, str, str] | None:
    """What is wrong with a field's own `fides_meta.masking`: (path, message, hint)."""
    meta = f.field.meta
    if meta.masking is None:
        return None
    strategy = meta.masking.strategy
    path = (*f.path, "fides_meta", "masking", "strategy")
    if strategy == "delete":
        message = f"{f.label}: delete removes whole rows, so it is a collection strategy"
        return (
            path,
            message,
            (
                "use null_rewrite here, or masking_strategy_override: {strategy: delete} on the "
                "collection"
            ),
        )
    if meta.primary_key:
        message = f"{f.label} is a primary key; rewriting it with {strategy} breaks references"
        return path, message, "remove the masking; the collection's strategy erases the row"
    problem = misfit(strategy, meta)
    return (path, f"{f.label}: {problem[1]}", MISFIT_HINTS[problem[0]]) if problem else None


def _inherited(
    site: CollectionSite, f: FieldSite, systems: list[tuple[str, System]]
) -> Iterator[tuple[str, str]]:
    """Strategies a field gets from its collection or a system's `masking`: (strategy, from)."""
    meta = f.field.meta
    if (
        meta.masking is not None
        or meta.primary_key
        or meta.read_only
        or not f.field.data_categories
    ):
        return
    override = site.collection.meta.masking_strategy_override
    if override is not None:
        yield override.strategy, f"the masking_strategy_override of collection '{site.node}'"
        return
    for key, system in systems:
        for category in f.field.data_categories:
            rule_key = next((a for a in ancestors(category) if a in system.masking), None)
            if rule_key is not None:
                yield system.masking[rule_key], f"system '{key}' (masking of '{rule_key}')"


def _field_masking(ctx: Context, one: FileSites) -> Iterator[Finding]:
    systems = [(u, ctx.manifest.systems[u]) for u in one.users if ctx.manifest.systems[u].masking]
    loaded = one.loaded
    reported: set[Path] = set()
    for site in one.collections:
        for f in site.fields:
            own = _own_masking(f)
            if own is not None:
                yield ctx.dataset_finding("masking-type", loaded, *own)
            for strategy, origin in _inherited(site, f, systems):
                problem = misfit(strategy, f.field.meta)
                path = (*f.path, "fides_meta", problem[0]) if problem else f.path
                if problem is None or path in reported:
                    continue
                reported.add(path)
                yield ctx.dataset_finding(
                    "masking-type",
                    loaded,
                    path,
                    f"{f.label} is masked with {strategy} by {origin}: {problem[1]}",
                    "give the field its own fides_meta.masking that fits its type",
                )


@rule("masking-type", "error", "a masking strategy that cannot write into the field it masks")
def masking_type(ctx: Context) -> Iterator[Finding]:
    for key, system in ctx.manifest.systems.items():
        for category, strategy in system.masking.items():
            if strategy not in STRATEGIES:
                yield ctx.finding(
                    "masking-type",
                    ("systems", key, "masking", category),
                    f"'{strategy}' is not a masking strategy",
                    suggest(strategy, STRATEGIES) or "use one of: " + ", ".join(STRATEGIES),
                )
    for one in index_of(ctx).files.values():
        yield from _field_masking(ctx, one)
