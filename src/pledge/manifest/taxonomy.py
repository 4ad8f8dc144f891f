"""The built-in taxonomy: data categories, data uses (purposes), data subjects and purpose groups.

Keys follow the dotted style of the fideslang taxonomy, so Fides datasets work unchanged. Names
and descriptions are Pledge's own, in en, nb, nl, de and fr. A manifest may add keys under
existing ones; `Taxonomy.extend` merges them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from pledge.manifest.types import LocalText

if TYPE_CHECKING:
    from pledge.manifest.model import Manifest

KINDS = ("categories", "uses", "subjects", "groups")


@dataclass(frozen=True, slots=True)
class TaxonomyEntry:
    key: str
    name: LocalText
    description: LocalText | None = None
    personal: bool = True
    special: bool = False
    sensitive: bool = False
    builtin: bool = True

    @property
    def parent(self) -> str | None:
        return self.key.rpartition(".")[0] or None


@dataclass(frozen=True)
class Taxonomy:
    categories: Mapping[str, TaxonomyEntry] = field(default_factory=dict)
    uses: Mapping[str, TaxonomyEntry] = field(default_factory=dict)
    subjects: Mapping[str, TaxonomyEntry] = field(default_factory=dict)
    groups: Mapping[str, TaxonomyEntry] = field(default_factory=dict)

    def extend(self, manifest: Manifest) -> Taxonomy:
        """This taxonomy with the manifest's own categories, subjects, groups and purposes."""
        categories = dict(self.categories)
        for key, cat in manifest.categories.items():
            categories[key] = TaxonomyEntry(
                key, cat.name, cat.description, cat.personal, cat.special, cat.sensitive, False
            )
        subjects = dict(self.subjects)
        for key, sub in manifest.subjects.items():
            subjects[key] = TaxonomyEntry(key, sub.name, sub.description, builtin=False)
        groups = dict(self.groups)
        for key, group in manifest.groups.items():
            groups[key] = TaxonomyEntry(key, group.name, group.description, builtin=False)
        uses = dict(self.uses)
        for key, purpose in manifest.purposes.items():
            base = uses.get(key)
            if purpose.name is not None:
                uses[key] = TaxonomyEntry(key, purpose.name, purpose.description, builtin=False)
            elif base is None:
                uses[key] = TaxonomyEntry(key, LocalText(key), purpose.description, builtin=False)
            elif purpose.description is not None:
                uses[key] = replace(base, description=purpose.description)
        return Taxonomy(categories, uses, subjects, groups)

    def table(self, kind: str) -> Mapping[str, TaxonomyEntry]:
        table: Mapping[str, TaxonomyEntry] = getattr(self, kind)
        return table

    def known_ancestor(self, kind: str, key: str) -> str | None:
        """The nearest existing ancestor of `key` (for keys a manifest adds)."""
        table = self.table(kind)
        parent = key.rpartition(".")[0]
        while parent:
            if parent in table:
                return parent
            parent = parent.rpartition(".")[0]
        return None


def _entries(raw: dict[str, Any]) -> dict[str, TaxonomyEntry]:
    """Build entries in key order so each inherits unset flags from its parent."""
    entries: dict[str, TaxonomyEntry] = {}
    for key in sorted(raw, key=lambda k: k.count(".")):
        data = raw[key] or {}
        parent = entries.get(key.rpartition(".")[0])
        entries[key] = TaxonomyEntry(
            key=key,
            name=LocalText(data["name"]),
            description=LocalText(data["description"]) if data.get("description") else None,
            personal=data.get("personal", parent.personal if parent else True),
            special=data.get("special", parent.special if parent else False),
            sensitive=data.get("sensitive", parent.sensitive if parent else False),
        )
    return dict(sorted(entries.items()))


@cache
def builtin_taxonomy() -> Taxonomy:
    """The taxonomy shipped with Pledge (read once per process)."""
    folder = resources.files("pledge.manifest") / "taxonomy_data"
    tables: dict[str, dict[str, TaxonomyEntry]] = {}
    for kind in KINDS:
        text = (folder / f"{kind}.yaml").read_text(encoding="utf-8")
        tables[kind] = _entries(yaml.load(text, Loader=yaml.CSafeLoader) or {})
    return Taxonomy(**tables)
