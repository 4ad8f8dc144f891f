"""What changed between two manifests, and which changes are material.

A material change is one people must be told about before it takes effect (a new purpose, new
data, a new recipient or transfer, a longer retention, a right taken away …); wording, contact
details and anything that only reduces processing are not. Notice versions store `summary()` of
the changes so the reason for a new version is on record.

The comparison is data-driven: *facets* are sets of facts derived from a manifest (which system
collects which category, which recipient receives data in which country …) whose additions and
removals are changes; every other field is walked generically and classified by the first
matching row of `LEAF_RULES`, falling back to a non-material wording or setting change.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, TypeAlias, get_args

from pydantic import BaseModel

from pledge.manifest.jurisdictions import JURISDICTIONS
from pledge.manifest.model import (
    Collect,
    Manifest,
    RetentionRule,
    Tracker,
    TrackerCategory,
    covers,
)
from pledge.manifest.types import Duration, LocalText

Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None
Path: TypeAlias = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two manifests, classified as material or not, with the reason."""

    kind: str
    path: str
    summary: str
    material: bool
    reason: str
    before: Json = field(default=None, hash=False)
    after: Json = field(default=None, hash=False)

    def as_dict(self) -> dict[str, Json]:
        return {
            "kind": self.kind,
            "path": self.path,
            "summary": self.summary,
            "material": self.material,
            "reason": self.reason,
            "before": self.before,
            "after": self.after,
        }


def diff(old: Manifest, new: Manifest) -> list[Change]:
    """Every change from `old` to `new`: material ones first, then by path (deterministic)."""
    sides = _Sides(old, new)
    changes = [*_facet_changes(sides), *_walk(sides, (), _view(old), _view(new))]
    return sorted(changes, key=lambda c: (not c.material, c.path, c.kind, c.summary))


def summary(changes: list[Change]) -> dict[str, Any]:
    """What a notice version records: counts per kind, whether material, and why."""
    material = [c for c in changes if c.material]
    return {
        "material": bool(material),
        "changes": len(changes),
        "material_changes": len(material),
        "counts": dict(sorted(Counter(c.kind for c in changes).items())),
        "reasons": list(dict.fromkeys(f"{c.summary}: {c.reason}" for c in material)),
    }


@dataclass(frozen=True)
class _Sides:
    old: Manifest
    new: Manifest


class _Verdict(NamedTuple):
    kind: str
    material: bool
    reason: str


# --- facets: sets of facts whose additions and removals are changes --------------------------


class Fact(NamedTuple):
    """One derived fact: the words for its summary template, and its value for the record."""

    words: tuple[str, ...]
    value: Json


Facts: TypeAlias = dict[Path, Fact]


@dataclass(frozen=True)
class Facet:
    """A kind of fact (`purpose`, `category` …): its extraction, wording and materiality."""

    kind: str
    facts: Callable[[Manifest], Facts]
    added: str
    """Summary template for an added fact ({0}, {1} are the fact's words)."""
    removed: str
    added_reason: str
    removed_reason: str
    added_material: bool = True
    removed_material: bool = False
    exempt: Callable[[Manifest, Fact], str | None] | None = None
    """A reason why this added fact is not material after all (strictly necessary cookie …)."""
    implied: Callable[[Manifest, Fact], bool] | None = None
    """Whether the other manifest already implies the fact (a parent category was collected)."""


def _purposes(m: Manifest) -> Facts:
    keys = dict.fromkeys([*m.purposes, *(p for c in m.iter_collects() for p in c.purposes)])
    return {("purposes", k): Fact((k,), k) for k in keys}


def _categories(m: Manifest) -> Facts:
    return {
        ("systems", s, "categories", c): Fact((s, c), c)
        for s, system in m.systems.items()
        for c in system.categories
    }


def _uses(m: Manifest) -> Facts:
    return {
        ("systems", s, "purposes", p): Fact((s, p), p)
        for s, system in m.systems.items()
        for p in system.purposes
    }


def _subjects(m: Manifest) -> Facts:
    return {
        ("systems", s, "subjects", k): Fact((s, k), k)
        for s, system in m.systems.items()
        for k in system.subjects
    }


def _recipients(m: Manifest) -> Facts:
    return {("recipients", r): Fact((r,), r) for r in m.recipients}


def _sharing(m: Manifest) -> Facts:
    return {
        ("systems", s, "recipients", r): Fact((s, r), r)
        for s, system in m.systems.items()
        for r in system.recipients
    }


def _recipient_countries(m: Manifest) -> Facts:
    return {
        ("recipients", r, "countries", c): Fact((r, c), c)
        for r, recipient in m.recipients.items()
        for c in recipient.countries
    }


def _system_locations(m: Manifest) -> Facts:
    return {
        ("systems", s, "locations", c): Fact((s, c), c)
        for s, system in m.systems.items()
        for c in system.locations
    }


def _trackers(m: Manifest) -> Facts:
    return {
        ("trackers", _tracker_id(t)): Fact((_tracker_id(t), t.category), t.name) for t in m.trackers
    }


def _rights(m: Manifest) -> Facts:
    """(right, jurisdiction) pairs offered, as `Manifest.rights_in` decides them."""
    named = {j for config in m.rights.values() for j in config.jurisdictions or ()}
    return {
        ("rights", kind, "jurisdictions", j): Fact((kind, j), j)
        for j in sorted(named.union(_jurisdictions(m)))
        for kind in m.rights_in(j)
    }


def _jurisdictions(m: Manifest) -> list[str]:
    """The manifest's jurisdictions Pledge knows; people elsewhere fall under `global`."""
    return [j for j in dict.fromkeys([*m.jurisdictions, "global"]) if j in JURISDICTIONS]


def _covered_in_system(attr: str) -> Callable[[Manifest, Fact], bool]:
    """Whether the system already holds the key or a parent of it (taxonomy keys nest)."""

    def implied(m: Manifest, fact: Fact) -> bool:
        system = m.systems.get(fact.words[0])
        held: tuple[str, ...] = getattr(system, attr) if system is not None else ()
        return any(covers(k, fact.words[1]) for k in held)

    return implied


def _not_personal(m: Manifest, fact: Fact) -> str | None:
    if m.is_personal(fact.words[1]):
        return None
    return "the category is not personal data"


def _strictly_necessary(m: Manifest, fact: Fact) -> str | None:
    if fact.words[1] != "strictly_necessary":
        return None
    return "a strictly necessary tracker needs no consent and does not change what is promised"


_FEWER = "this only reduces processing"
FACETS: tuple[Facet, ...] = (
    Facet(
        "purpose",
        _purposes,
        "New purpose '{0}'",
        "Purpose '{0}' no longer used",
        "personal data is used for a purpose people were not told about",
        _FEWER,
    ),
    Facet(
        "category",
        _categories,
        "System '{0}' now collects '{1}'",
        "System '{0}' no longer collects '{1}'",
        "personal data is collected that was not collected before",
        "data no longer collected; " + _FEWER,
        exempt=_not_personal,
        implied=_covered_in_system("categories"),
    ),
    Facet(
        "use",
        _uses,
        "System '{0}' now uses data for '{1}'",
        "System '{0}' no longer uses data for '{1}'",
        "data already held is used for a further purpose",
        _FEWER,
        implied=_covered_in_system("purposes"),
    ),
    Facet(
        "subject",
        _subjects,
        "System '{0}' now holds data about '{1}'",
        "System '{0}' no longer holds data about '{1}'",
        "data about a new group of people is processed",
        _FEWER,
    ),
    Facet(
        "recipient",
        _recipients,
        "New recipient '{0}'",
        "Recipient '{0}' removed",
        "personal data is disclosed to someone new",
        "fewer parties receive data; " + _FEWER,
    ),
    Facet(
        "sharing",
        _sharing,
        "System '{0}' now shares data with '{1}'",
        "System '{0}' no longer shares data with '{1}'",
        "a recipient receives data it did not receive before",
        _FEWER,
    ),
    Facet(
        "transfer",
        _recipient_countries,
        "Recipient '{0}' now receives data in {1}",
        "Recipient '{0}' no longer receives data in {1}",
        "personal data goes to a country it did not go to before",
        _FEWER,
    ),
    Facet(
        "transfer",
        _system_locations,
        "System '{0}' now stores or processes data in {1}",
        "System '{0}' no longer stores or processes data in {1}",
        "personal data goes to a country it did not go to before",
        _FEWER,
    ),
    Facet(
        "tracker",
        _trackers,
        "New tracker '{0}' ({1})",
        "Tracker '{0}' removed",
        "a tracker beyond the strictly necessary needs consent or an opt-out",
        _FEWER,
        exempt=_strictly_necessary,
    ),
    Facet(
        "right",
        _rights,
        "Right '{0}' now offered in '{1}'",
        "Right '{0}' no longer offered in '{1}'",
        "people gain a right; nothing promised is taken away",
        "people lose a right they were promised",
        added_material=False,
        removed_material=True,
    ),
)


def _facet_changes(sides: _Sides) -> Iterator[Change]:
    for facet in FACETS:
        before, after = facet.facts(sides.old), facet.facts(sides.new)
        for path in sorted(after.keys() - before.keys()):
            yield _fact_change(facet, path, after[path], sides.old, sides.new, added=True)
        for path in sorted(before.keys() - after.keys()):
            yield _fact_change(facet, path, before[path], sides.new, sides.old, added=False)


def _fact_change(
    facet: Facet, path: Path, fact: Fact, other: Manifest, owner: Manifest, *, added: bool
) -> Change:
    """A change for a fact that `owner` has and `other` lacks."""
    implied = facet.implied is not None and facet.implied(other, fact)
    if added:
        exempt = facet.exempt(owner, fact) if facet.exempt is not None else None
        material = facet.added_material and not implied and exempt is None
        reason = exempt or (_IMPLIED if implied else facet.added_reason)
    else:
        material = facet.removed_material and not implied
        reason = _IMPLIED if implied else facet.removed_reason
    template = facet.added if added else facet.removed
    return Change(
        f"{facet.kind}.{'added' if added else 'removed'}",
        _dotted(path),
        template.format(*fact.words),
        material,
        reason,
        None if added else fact.value,
        fact.value if added else None,
    )


_IMPLIED = "covered by a broader key in the other version (taxonomy keys nest)"


def _tracker_id(tracker: Tracker) -> str:
    return f"{tracker.name}@{tracker.domain}" if tracker.domain else tracker.name


# --- a plain view of the manifest for the generic walk ---------------------------------------


@dataclass(frozen=True)
class Period:
    """A retention period: how long, counted from which event; compared as one value."""

    keep: Duration
    after: str


PERIOD = "(period)"
"""Key of a retention rule's `keep` and `after` in the view; changes are shown at the rule."""

# Later triggers keep data longer: counting from collection ends soonest, from closure latest.
TRIGGER_RANK = {
    "collected": 0,
    "request_closed": 1,
    "last_activity": 1,
    "contract_end": 2,
    "account_closed": 2,
}

# Fields covered by a facet, so the walk leaves them alone (path patterns, `*` is any key).
SKIP: tuple[Path, ...] = (
    ("systems", "*", "collects", "*", "categories"),
    ("systems", "*", "collects", "*", "purposes"),
    ("systems", "*", "subjects"),
    ("systems", "*", "recipients"),
    ("systems", "*", "locations"),
    ("recipients", "*", "countries"),
    ("rights", "*", "jurisdictions"),
)
# Keyed sections: the kind reported when a key comes or goes (None: a facet reports it).
SECTIONS: dict[Path, str | None] = {
    ("purposes",): None,
    ("recipients",): None,
    ("trackers",): None,
    ("rights",): None,
    ("systems", "*", "collects"): None,
    ("systems",): "system",
    ("connections",): "connection",
    ("retention",): "retention_rule",
    ("roles",): "staff_role",
    ("notices",): "notice",
    ("programs",): "program",
    ("subjects",): "taxonomy",
    ("categories",): "taxonomy",
    ("groups",): "taxonomy",
}
# Tuples of models keyed by identity rather than position, so reordering is no change.
IDENTITY: dict[type[BaseModel], Callable[[Any], str]] = {
    Tracker: _tracker_id,
    Collect: lambda c: "+".join(c.categories) + " for " + "+".join(c.purposes),
}


def _view(value: Any) -> Any:
    """Models as dicts of all their fields (defaults included), so both sides line up."""
    if isinstance(value, RetentionRule):
        fields = {k: _view(getattr(value, k)) for k in type(value).model_fields}
        fields[PERIOD] = Period(fields.pop("keep"), fields.pop("after"))
        return fields
    if isinstance(value, BaseModel):
        return {k: _view(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, Mapping):
        return {str(k): _view(v) for k, v in value.items()}
    if isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
        return _keyed_items(value)
    return value


def _keyed_items(items: tuple[BaseModel, ...]) -> dict[str, Any]:
    ident = IDENTITY.get(type(items[0]))
    keyed: dict[str, Any] = {}
    for i, item in enumerate(items):
        key = ident(item) if ident else str(i)
        keyed[key if key not in keyed else f"{key}#{i}"] = _view(item)
    return keyed


def _walk(sides: _Sides, path: Path, before: Any, after: Any) -> Iterator[Change]:
    if any(_matches(p, path) for p in SKIP) or before == after:
        return
    if isinstance(before, dict) and after == ():  # an emptied list of keyed items
        after = {}
    elif isinstance(after, dict) and before == ():
        before = {}
    if isinstance(before, dict) and isinstance(after, dict):
        section = next((k for p, k in SECTIONS.items() if _matches(p, path, exact=True)), "")
        for key in sorted(before.keys() | after.keys()):
            sub = (*path, key)
            if key in before and key in after:
                yield from _walk(sides, sub, before[key], after[key])
            elif section:
                yield _keyed(section, sub, before.get(key), after.get(key))
            elif section == "":
                yield from _walk(sides, sub, before.get(key), after.get(key))
        return
    yield _leaf(sides, path, before, after)


def _keyed(section: str, path: Path, before: Any, after: Any) -> Change:
    added = before is None
    what = f"{section.replace('_', ' ').capitalize()} '{path[-1]}'"
    return Change(
        f"{section}.{'added' if added else 'removed'}",
        _dotted(path),
        f"{what} {'added' if added else 'removed'}",
        False,
        "on its own it changes nothing people were told; its effects are reported separately",
        _json(before),
        _json(after),
    )


def _matches(pattern: Path, path: Path, *, exact: bool = False) -> bool:
    """Whether `path` is `pattern` (`*` matches one key) or lies below it unless `exact`."""
    if len(path) < len(pattern) or (exact and len(path) != len(pattern)):
        return False
    return all(p in ("*", k) for p, k in zip(pattern, path, strict=False))


# --- leaf rules -------------------------------------------------------------------------------

Classify: TypeAlias = Callable[[_Sides, Path, Any, Any], _Verdict | None]


@dataclass(frozen=True)
class LeafRule:
    """How a changed field is classified: the first rule whose pattern matches and whose
    classifier gives a verdict wins; `what` names the field in the summary ({0} is the
    first `*` of the pattern)."""

    pattern: Path
    what: str
    classify: Classify


def _always(kind: str, material: bool, reason: str) -> Classify:
    return lambda sides, path, before, after: _Verdict(kind, material, reason)


def _to(kind: str, values: tuple[Any, ...], reason: str, otherwise: str = _FEWER) -> Classify:
    """Material when the field becomes one of `values` (from anything else)."""

    def classify(sides: _Sides, path: Path, before: Any, after: Any) -> _Verdict:
        material = after in values and before not in values
        return _Verdict(kind, material, reason if material else otherwise)

    return classify


def _grows(kind: str, reason: str, otherwise: str = _FEWER) -> Classify:
    """For sets of keys: material when something is added."""

    def classify(sides: _Sides, path: Path, before: Any, after: Any) -> _Verdict:
        material = bool(set(after or ()) - set(before or ()))
        return _Verdict(kind, material, reason if material else otherwise)

    return classify


def _shrinks(kind: str, reason: str) -> Classify:
    """For sets of promises (security measures): material when something is removed."""

    def classify(sides: _Sides, path: Path, before: Any, after: Any) -> _Verdict:
        material = bool(set(before or ()) - set(after or ()))
        return _Verdict(kind, material, reason if material else "more is promised than before")

    return classify


def _period_of(m: Manifest, rule: Any) -> Period | None:
    found = m.retention.get(rule) if isinstance(rule, str) else None
    return Period(found.keep, found.after) if found is not None else None


def _retention(sides: _Sides, path: Path, before: Any, after: Any) -> _Verdict:
    if path[0] == "systems":  # a system now points at another rule: compare what they say
        before, after = _period_of(sides.old, before), _period_of(sides.new, after)
    return _compare_periods(before, after)


def _compare_periods(before: Period | None, after: Period | None) -> _Verdict:
    """Longer (material), shorter (not) or changed (material: it may be longer for some)."""
    if after is None:
        return _Verdict("retention.longer", True, "no retention period is declared any more")
    if before is None:
        return _Verdict("retention.shorter", False, "a retention period is now declared")
    keep = _sign(after.keep.approx_days - before.keep.approx_days)
    rank_before, rank_after = TRIGGER_RANK.get(before.after), TRIGGER_RANK.get(after.after)
    if before.after == after.after:
        trigger = 0
    elif rank_before is None or rank_after is None or rank_before == rank_after:
        trigger = 2  # a different event of unknown order
    else:
        trigger = _sign(rank_after - rank_before)
    signs = {keep, trigger} - {0}
    if signs == {1}:
        return _Verdict("retention.longer", True, "data is kept longer than people were told")
    if signs == {-1}:
        return _Verdict("retention.shorter", False, "data is kept for less time; " + _FEWER)
    if not signs:
        return _Verdict("retention.changed", False, "the same period, written differently")
    return _Verdict(
        "retention.changed", True, "the period counts from another event and may be longer"
    )


def _duration(kind: str) -> Classify:
    """Lifetimes (backups, cookies): longer is material. `session` is shortest, none longest."""

    def days(value: Any) -> float:
        if value is None:
            return float("inf")
        return value.approx_days if isinstance(value, Duration) else 0.0

    def classify(sides: _Sides, path: Path, before: Any, after: Any) -> _Verdict:
        if days(after) > days(before):
            return _Verdict(f"{kind}.longer", True, "data is kept longer than people were told")
        return _Verdict(f"{kind}.shorter", False, "data is kept for less time; " + _FEWER)

    return classify


def _text(sides: _Sides, path: Path, before: Any, after: Any) -> _Verdict | None:
    if isinstance(before, LocalText) or isinstance(after, LocalText):
        return _Verdict("text.changed", False, "wording only; what is done with data is the same")
    return None


_CONTACT = "how to reach the organisation changed; what is done with data is the same"
_SETTING = "does not change what data is collected, why, who receives it or how long it is kept"
LEAF_RULES: tuple[LeafRule, ...] = (
    LeafRule(
        ("purposes", "*", "legal_basis"),
        "Legal basis of purpose '{0}'",
        _always("legal_basis.changed", True, "the legal basis people were told about changed"),
    ),
    LeafRule(
        ("purposes", "*", "special_condition"),
        "Special-category condition of purpose '{0}'",
        _always("legal_basis.changed", True, "the Art. 9 condition people were told changed"),
    ),
    LeafRule(
        ("purposes", "*", "program"),
        "Programme of purpose '{0}'",
        _to("program.changed", (None,), "the purpose no longer needs people to join a programme"),
    ),
    LeafRule(
        ("purposes", "*", "marketing"),
        "Marketing flag of purpose '{0}'",
        _to("purpose.changed", (True,), "the purpose is now direct marketing"),
    ),
    LeafRule(
        ("systems", "*", "role"),
        "Role of system '{0}'",
        _always("role.changed", True, "who decides about the data (controller) changed"),
    ),
    LeafRule(("systems", "*", "retention"), "Retention of system '{0}'", _retention),
    LeafRule(("retention", "*", PERIOD), "Retention rule '{0}'", _retention),
    LeafRule(
        ("retention", "*", "then"),
        "End of retention rule '{0}'",
        _to("retention.changed", ("anonymize",), "data is kept anonymised instead of deleted"),
    ),
    LeafRule(
        ("retention", "*", "legal_hold"),
        "Legal hold of retention rule '{0}'",
        _to("retention.longer", (True,), "a legal hold may now keep data longer"),
    ),
    LeafRule(("backups", "max_age"), "Backup lifetime", _duration("retention")),
    LeafRule(
        ("recipients", "*", "kind"),
        "Kind of recipient '{0}'",
        _always("recipient.changed", True, "the recipient's role with the data changed"),
    ),
    LeafRule(
        ("recipients", "*", "sale"),
        "Sale to recipient '{0}'",
        _to("sale.added", (True,), "personal data is now sold (CCPA)"),
    ),
    LeafRule(
        ("recipients", "*", "sharing"),
        "Sharing with recipient '{0}'",
        _to("sharing.added", (True,), "personal data is now shared for cross-context ads (CPRA)"),
    ),
    LeafRule(
        ("recipients", "*", "purposes"),
        "Purposes of recipient '{0}'",
        _grows("recipient.changed", "a recipient receives data for a further purpose"),
    ),
    LeafRule(
        ("trackers", "*", "category"),
        "Category of tracker '{0}'",
        _to(
            "tracker.changed",
            tuple(c for c in get_args(TrackerCategory) if c != "strictly_necessary"),
            "the tracker is no longer strictly necessary",
        ),
    ),
    LeafRule(("trackers", "*", "duration"), "Lifetime of tracker '{0}'", _duration("tracker")),
    LeafRule(
        ("trackers", "*", "recipient"),
        "Recipient of tracker '{0}'",
        lambda sides, path, before, after: _Verdict(
            "tracker.changed",
            after is not None,
            "the tracker's data goes to another party" if after is not None else _FEWER,
        ),
    ),
    LeafRule(
        ("trackers", "*", "purposes"),
        "Purposes of tracker '{0}'",
        _grows("tracker.changed", "the tracker serves a further purpose"),
    ),
    LeafRule(
        ("programs", "*", "default"),
        "Default participation in programme '{0}'",
        _to("program.changed", ("opt_out",), "participation is now on until people leave"),
    ),
    LeafRule(
        ("rights", "*", "fee"),
        "Fee for right '{0}'",
        _to("right.changed", ("reasonable_if_excessive",), "a fee may now be charged"),
    ),
    LeafRule(
        ("signals", "global_privacy_control"),
        "Global Privacy Control",
        _to("signal.changed", ("not_applicable",), "the opt-out signal is no longer honoured"),
    ),
    LeafRule(
        ("security", "measures"),
        "Security measures",
        _shrinks("security.reduced", "a security measure people were promised is gone"),
    ),
    LeafRule(
        ("organization", "name"),
        "Organisation name",
        _always("organization.changed", False, "a new name for the same organisation"),
    ),
    LeafRule(
        ("organization", "legal_name"),
        "Organisation legal name",
        _always("organization.changed", False, "a new name for the same organisation"),
    ),
    LeafRule(("organization",), "{path}", _always("contact.changed", False, _CONTACT)),
    LeafRule((), "Wording of {path}", _text),
    LeafRule(("notices",), "Notice {path}", _always("notice.changed", False, _SETTING)),
    LeafRule((), "Setting {path}", _always("setting.changed", False, _SETTING)),
)


def _leaf(sides: _Sides, path: Path, before: Any, after: Any) -> Change:
    for rule in LEAF_RULES:
        if not _matches(rule.pattern, path):
            continue
        verdict = rule.classify(sides, path, before, after)
        if verdict is None:
            continue
        wild = [k for p, k in zip(rule.pattern, path, strict=False) if p == "*"]
        shown = _dotted(path[:-1] if path[-1:] == (PERIOD,) else path)
        what = rule.what.format(*wild, path=shown)
        return Change(
            verdict.kind,
            shown,
            f"{what}: {_delta(before, after)}",
            verdict.material,
            verdict.reason,
            _json(before),
            _json(after),
        )
    raise AssertionError("the last leaf rule matches every path")  # pragma: no cover


# --- values for the record ---------------------------------------------------------------------


def _json(value: Any) -> Json:
    """A plain JSON value: texts as given, durations as ISO strings, tuples as lists."""
    if isinstance(value, LocalText):
        return _json(value.dump())
    if isinstance(value, Duration):
        return value.iso
    if isinstance(value, Period):
        return {"keep": value.keep.iso, "after": value.after}
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _delta(before: Any, after: Any) -> str:
    """`before → after` for a summary; for texts, in the first language whose wording differs."""
    if isinstance(before, LocalText) and isinstance(after, LocalText):
        langs = dict.fromkeys([*before.by_lang, *after.by_lang])
        changed = [lang for lang in langs if before.by_lang.get(lang) != after.by_lang.get(lang)]
        if before.plain is None and after.plain is None and changed:
            lang = changed[0]
            old, new = before.by_lang.get(lang), after.by_lang.get(lang)
            return f"[{lang}] {_said(old)} → {_said(new)}"
    return f"{_said(before)} → {_said(after)}"


def _said(value: Any) -> str:
    """A short rendering of a value for summaries."""
    if value is None:
        return "(none)"
    if isinstance(value, Period):
        return f"{value.keep.iso} after {value.after}"
    if isinstance(value, LocalText):
        value = value.plain if value.plain is not None else next(iter(value.by_lang.values()))
    if isinstance(value, str) and " " in value:
        return repr(_clip(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(_json(v)) for v in value) + "]"
    if isinstance(value, dict):
        plain = _json(value)
        if isinstance(plain, dict):
            plain = {k: v for k, v in plain.items() if v not in (None, [], {})}
        return _clip(json.dumps(plain, ensure_ascii=False))
    return str(_json(value))


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _dotted(path: Path) -> str:
    return ".".join(path)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)
