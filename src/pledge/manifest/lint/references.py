"""Lint rules: every key the manifest names must exist, and added keys must fit the taxonomy.

One generator (`references`) lists every place the manifest names another key and what kind of
key it must be, so one rule reports all dangling names at their exact node. The helpers at the
top are shared with the other rule modules.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from pledge.manifest.findings import Finding
from pledge.manifest.jurisdictions import JURISDICTIONS
from pledge.manifest.lint import Context, rule
from pledge.manifest.model import Collect, Manifest, System
from pledge.manifest.source import Path
from pledge.manifest.taxonomy import builtin_taxonomy

# --- helpers shared by the rule modules --------------------------------------------------


def suggest(value: str, options: Iterable[str]) -> str | None:
    """`did you mean 'x'?` for the nearest option, the same wording the loader uses."""
    return _nearest(value, tuple(options))


@lru_cache(maxsize=4096)
def _nearest(value: str, options: tuple[str, ...]) -> str | None:
    """Cached: a dataset repeating one unknown category thousands of times stays fast."""
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def collects(manifest: Manifest) -> Iterator[tuple[Path, str, System, Collect]]:
    """Every `collects` entry with its YAML path, system key and system."""
    for key, system in manifest.systems.items():
        for i, collect in enumerate(system.collects):
            yield ("systems", key, "collects", i), key, system, collect


def ancestors(key: str) -> Iterator[str]:
    """`key` and each of its dotted parents, nearest first (a.b.c, a.b, a)."""
    while key:
        yield key
        key = key.rpartition(".")[0]


def covered(key: str, declared: Collection[str]) -> bool:
    """Whether `key` or one of its parents is in `declared` (a parent covers its children)."""
    return any(k in declared for k in ancestors(key))


# --- undefined-reference -----------------------------------------------------------------

# What each kind of reference must name, shown in the message.
DEFINED_IN = {
    "category": "in the taxonomy or under `categories:`",
    "purpose": "under `purposes:`",
    "subject": "in the taxonomy or under `subjects:`",
    "recipient": "under `recipients:`",
    "retention rule": "under `retention:`",
    "connection": "under `connections:`",
    "programme": "under `programs:`",
    "purpose group": "in the taxonomy or under `groups:`",
    "jurisdiction": "among the jurisdictions Pledge knows (" + ", ".join(JURISDICTIONS) + ")",
}


@dataclass(frozen=True, slots=True)
class Ref:
    """One place where the manifest names a key of some kind."""

    kind: str
    value: str
    path: Path
    key: bool = False


def known(manifest: Manifest) -> dict[str, Collection[str]]:
    """The keys each kind of reference may name."""
    tax = manifest.taxonomy
    return {
        "category": tax.categories.keys(),
        "purpose": manifest.purposes.keys(),
        "subject": tax.subjects.keys(),
        "recipient": manifest.recipients.keys(),
        "retention rule": manifest.retention.keys(),
        "connection": manifest.connections.keys(),
        "programme": manifest.programs.keys(),
        "purpose group": tax.groups.keys(),
        "jurisdiction": JURISDICTIONS.keys(),
    }


def _each(kind: str, path: Path, values: Iterable[str] | None) -> Iterator[Ref]:
    for i, value in enumerate(values or ()):
        yield Ref(kind, value, (*path, i))


def _one(kind: str, path: Path, value: str | None) -> Iterator[Ref]:
    if value is not None:
        yield Ref(kind, value, path)


def _system_refs(key: str, system: System) -> Iterator[Ref]:
    base = ("systems", key)
    yield from _each("subject", (*base, "subjects"), system.subjects)
    for i, collect in enumerate(system.collects):
        yield from _each("category", (*base, "collects", i, "categories"), collect.categories)
        yield from _each("purpose", (*base, "collects", i, "purposes"), collect.purposes)
    yield from _each("recipient", (*base, "recipients"), system.recipients)
    yield from _one("retention rule", (*base, "retention"), system.retention)
    yield from _one("connection", (*base, "connection"), system.connection)
    for category in system.masking:
        yield Ref("category", category, (*base, "masking", category), key=True)


def references(manifest: Manifest) -> Iterator[Ref]:
    """Every key the manifest names, except notices' systems and audience (see notices.py)."""
    yield from _each("jurisdiction", ("jurisdictions",), manifest.jurisdictions)
    for key, purpose in manifest.purposes.items():
        yield from _one("programme", ("purposes", key, "program"), purpose.program)
        yield from _one("purpose group", ("purposes", key, "group"), purpose.group)
    for key, program in manifest.programs.items():
        for where in program.default:
            yield Ref("jurisdiction", where, ("programs", key, "default", where), key=True)
    for key, recipient in manifest.recipients.items():
        yield from _each("purpose", ("recipients", key, "purposes"), recipient.purposes)
    for key, system in manifest.systems.items():
        yield from _system_refs(key, system)
    for i, tracker in enumerate(manifest.trackers):
        yield from _one("recipient", ("trackers", i, "recipient"), tracker.recipient)
        yield from _each("purpose", ("trackers", i, "purposes"), tracker.purposes)
    for kind, right in manifest.rights.items():
        yield from _each("jurisdiction", ("rights", kind, "jurisdictions"), right.jurisdictions)
    for key, role in manifest.roles.items():
        yield from _each("purpose", ("roles", key, "purposes"), role.purposes)
        yield from _each("category", ("roles", key, "categories"), role.categories)
    for key, notice in manifest.notices.items():
        yield from _each("jurisdiction", ("notices", key, "jurisdictions"), notice.jurisdictions)


def undefined_hint(manifest: Manifest, kind: str, value: str, options: Iterable[str]) -> str:
    """The nearest valid key, or what to do when a known purpose lacks its declaration."""
    if kind == "purpose" and value in manifest.taxonomy.uses:
        return "declare it under `purposes:` with a legal basis before using it"
    return suggest(value, options) or f"define it {DEFINED_IN[kind]}"


@rule("undefined-reference", "error", "a name that refers to nothing defined")
def undefined_reference(ctx: Context) -> Iterator[Finding]:
    manifest = ctx.manifest
    tables = known(manifest)
    for ref in references(manifest):
        options = tables[ref.kind]
        if ref.value in options:
            continue
        yield ctx.finding(
            "undefined-reference",
            ref.path,
            f"{ref.kind} '{ref.value}' is not defined {DEFINED_IN[ref.kind]}",
            undefined_hint(manifest, ref.kind, ref.value, options),
            key=ref.key,
        )


# --- unknown-parent ----------------------------------------------------------------------

# (manifest section, taxonomy table, label, whether a one-segment key must be a built-in root)
_ADDITIONS = (
    ("categories", "categories", "category", True),
    ("purposes", "uses", "purpose", True),
    ("subjects", "subjects", "subject", False),
    ("groups", "groups", "purpose group", False),
)


@rule("unknown-parent", "error", "a key added to the taxonomy under a root it does not have")
def unknown_parent(ctx: Context) -> Iterator[Finding]:
    builtin = builtin_taxonomy()
    for section, kind, label, flat_needs_root in _ADDITIONS:
        roots = {key.partition(".")[0] for key in builtin.table(kind)}
        for key in getattr(ctx.manifest, section):
            root = key.partition(".")[0]
            if root in roots or ("." not in key and not flat_needs_root):
                continue
            yield ctx.finding(
                "unknown-parent",
                (section, key),
                f"{label} '{key}' does not fit the taxonomy: no built-in {label} "
                f"starts with '{root}'",
                suggest(root, roots) or "put it under one of: " + ", ".join(sorted(roots)),
                key=True,
            )
