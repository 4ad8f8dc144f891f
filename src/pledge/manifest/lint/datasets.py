"""Lint rules: the Fides datasets behind the systems agree with the manifest and can be walked.

A request starts at identity fields, follows `fides_meta.references`, visits and erases
collections in order and masks field by field. These rules catch beforehand what would make
that walk miss data, loop, or write values a column cannot hold, and what the datasets hold
that the notice does not tell. Reachability and cycles are asked of the dataset graph
(`manifest/graph.py`) and strategies of the masking table (`manifest/masking.py`), the very
code requests plan with, so `pledge check` cannot pass what a request then cannot plan. The
datasets are indexed once per lint run with YAML paths so each finding points into the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from pledge.manifest.datasets import Collection, Dataset, DatasetField, FieldMeta
from pledge.manifest.findings import Finding
from pledge.manifest.graph import AFTER, DATASET_AFTER, DIRECTED, MIXED, Cycle, Survey, survey
from pledge.manifest.lint import Context, rule
from pledge.manifest.lint.references import (
    DEFINED_IN,
    ancestors,
    covered,
    suggest,
    undefined_hint,
)
from pledge.manifest.load import LoadedDataset
from pledge.manifest.masking import STRATEGIES, Fault, Strategy, declared, misfit, resolve
from pledge.manifest.model import Manifest, System
from pledge.manifest.source import Path

Site: TypeAlias = tuple[LoadedDataset, Path]
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


# --- dataset-cycle, unreachable-collection: asked of the dataset graph ---------------------


def survey_of(ctx: Context) -> Survey:
    """The dataset graph's survey of this manifest: the walk requests take, done once."""
    found = ctx.cache.get("datasets.survey")
    if not isinstance(found, Survey):
        found = ctx.cache["datasets.survey"] = survey(ctx.manifest)
    return found


def _link_sites(index: Index) -> dict[tuple[str, str, str], Site]:
    """Where each ordering link is written: (kind, comes first, comes after) → site."""
    sites: dict[tuple[str, str, str], Site] = {}
    for label, _, waits, entry, where in orderings(index):
        sites.setdefault((label, entry, waits), where)
    for site, f, r, dataset, target in references(index):
        direction = f.field.meta.references[r].direction
        other = f"{dataset}.{target.partition('.')[0]}"
        path = (*f.path, "fides_meta", "references", r)
        if direction is None:
            sites.setdefault((MIXED, site.node, other), (site.loaded, path))
            sites.setdefault((MIXED, other, site.node), (site.loaded, path))
            continue
        source, sink = (other, site.node) if direction == "from" else (site.node, other)
        sites.setdefault((DIRECTED, source, sink), (site.loaded, (*path, "direction")))
    return sites


def _closing(sites: dict[tuple[str, str, str], Site], cycle: Cycle) -> Site | None:
    """The site of the last link of the cycle that is written somewhere (the closing one)."""
    kinds = [cycle.kind] if cycle.kind != MIXED else [DIRECTED, MIXED, AFTER]
    for first, then in reversed(list(zip(cycle.nodes, cycle.nodes[1:], strict=False))):
        keys = [(kind, first, then) for kind in kinds]
        if cycle.kind == MIXED:  # `after` of a dataset orders each of its collections
            keys.append((DATASET_AFTER, first.rpartition(".")[0], then.rpartition(".")[0]))
        found = next((sites[k] for k in keys if k in sites), None)
        if found is not None:
            return found
    return None


@rule("dataset-cycle", "error", "collections or datasets ordered in a cycle")
def dataset_cycle(ctx: Context) -> Iterator[Finding]:
    index = index_of(ctx)
    sites = _link_sites(index)
    at = {site.node: (site.loaded, site.path) for site in index.sites}
    for cycle in survey_of(ctx).cycles:
        where = _closing(sites, cycle) or at.get(cycle.nodes[0])
        if where is None:
            continue
        yield ctx.dataset_finding(
            "dataset-cycle",
            where[0],
            where[1],
            f"{cycle.kind} form a cycle: {' → '.join(cycle.nodes)}",
            "remove one link of the cycle so requests can tell which comes first",
        )


@rule("unreachable-collection", "error", "a collection no identity reaches, so requests miss it")
def unreachable_collection(ctx: Context) -> Iterator[Finding]:
    at = {site.node: site for site in index_of(ctx).sites}
    for missed in survey_of(ctx).unreachable:
        site = at.get(missed.node)
        if site is None or not missed.personal:
            continue
        yield ctx.dataset_finding(
            "unreachable-collection",
            site.loaded,
            site.path,
            f"collection '{site.node}' cannot be reached from any identity field, so access and "
            "erasure requests would miss it",
            "add a fides_meta.references link to a collection an identity reaches, or "
            "`fides_meta: {skip_processing: true}` if it holds nothing about people",
        )


# --- masking-type: asked of the masking table ----------------------------------------------

HINTS: dict[Fault, str] = {
    "strategy": "choose another strategy (hmac, null_rewrite or string_rewrite)",
    "data_type": "choose a strategy that writes the field's data_type",
    "length": "allow more characters, or choose another strategy",
    "configuration": "give string_rewrite `configuration: {value: <text>}`",
}


def _misfits(strategy: Strategy, meta: FieldMeta) -> list[tuple[Fault, str]]:
    """Why the masking table refuses `strategy` for a field with this declared type."""
    kind = meta.kind or ""
    return misfit(strategy, declared(meta.kind), kind, meta.length, "the field")


def _own_masking(f: FieldSite) -> Iterator[tuple[Path, str, str]]:
    """What is wrong with a field's own `fides_meta.masking`: (path, message, hint)."""
    meta = f.field.meta
    if meta.masking is None:
        return
    strategy = Strategy(meta.masking.strategy, meta.masking.configuration)
    path = (*f.path, "fides_meta", "masking", "strategy")
    if strategy.name == "delete":
        message = f"{f.label}: delete removes whole rows, so it is a collection strategy"
        hint = (
            "use null_rewrite here, or masking_strategy_override: {strategy: delete} on the "
            "collection"
        )
        yield path, message, hint
        return
    if meta.primary_key:
        message = f"{f.label} is a primary key; rewriting it with {strategy.name} breaks references"
        yield path, message, "remove the masking; the collection's strategy erases the row"
        return
    for fault, why in _misfits(strategy, meta):
        here = (
            (*f.path, "fides_meta", "masking", "configuration")
            if fault == "configuration"
            else path
        )
        yield here, f"{f.label}: {why}", HINTS[fault]


def _inherited(
    site: CollectionSite, f: FieldSite, systems: list[tuple[str, System]]
) -> Iterator[tuple[Strategy, str]]:
    """The strategy each system's erasure gives a field without its own: (strategy, from)."""
    meta = f.field.meta
    if (
        meta.masking is not None
        or meta.primary_key
        or meta.read_only
        or not f.field.data_categories
        or "." in f.name  # nested fields are not columns: erasure masks top-level fields
    ):
        return
    for key, system in systems:
        strategy = resolve(f.field, site.collection, system)
        if strategy is None or strategy.name not in STRATEGIES:
            continue  # an unknown name is reported at the system's `masking`
        if strategy.origin == "masking_strategy_override":
            yield strategy, f"the masking_strategy_override of collection '{site.node}'"
            return
        yield strategy, f"system '{key}' ({strategy.origin})"


def _field_masking(ctx: Context, one: FileSites) -> Iterator[Finding]:
    systems = [(u, ctx.manifest.systems[u]) for u in one.users]
    loaded = one.loaded
    reported: set[Path] = set()
    for site in one.collections:
        for f in site.fields:
            for own in _own_masking(f):
                yield ctx.dataset_finding("masking-type", loaded, *own)
            for strategy, origin in _inherited(site, f, systems):
                for fault, why in _misfits(strategy, f.field.meta):
                    path = (
                        (*f.path, "fides_meta", fault)
                        if fault in ("data_type", "length")
                        else f.path
                    )
                    if path in reported:
                        continue
                    reported.add(path)
                    yield ctx.dataset_finding(
                        "masking-type",
                        loaded,
                        path,
                        f"{f.label} is masked with {strategy.name} by {origin}: {why}",
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
