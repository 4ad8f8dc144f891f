"""The language-neutral view of one notice: which sections it has, and what each one says.

A notice is built once from the manifest and rendered in every language and format, so the view
holds keys and manifest values (LocalText, Duration, dates), never words: the templates turn
them into sentences with the catalogs and Babel. Each section appears only where the manifest
has something to say, and carries the PROMISES.md ids it fulfils, computed from what it shows.

Every fact comes from the manifest's own queries (`systems_of_notice`, `recipients_of`,
`retention_for`, `is_personal` …) and from `pledge.policy` (rights per jurisdiction), so what a
notice says cannot drift from what Pledge enforces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from pledge.errors import NotFoundError
from pledge.manifest.jurisdictions import ADEQUATE, EEA, JURISDICTIONS
from pledge.manifest.model import (
    Backups,
    Collect,
    Manifest,
    Notice,
    Program,
    Purpose,
    Recipient,
    RetentionRule,
    RightConfig,
    Signals,
    System,
    Tracker,
)
from pledge.manifest.types import Duration, LocalText
from pledge.policy import rights_offered

# Order of sources, recipient kinds and tracker categories in notices.
SOURCES = ("direct", "services", "cookies", "third_party", "public")
TRACKER_CATEGORIES = ("strictly_necessary", "functional", "analytics", "advertising", "social")
RECIPIENT_KINDS = (
    "processor",
    "subprocessor",
    "affiliate",
    "controller",
    "joint_controller",
    "partner",
    "distributor",
    "reseller",
    "advertising_partner",
    "social_partner",
    "professional_adviser",
    "authority",
)
# Purpose groups whose purposes fulfil a specific promise (usage data P-S8, operations P-S9).
GROUP_PROMISES = {"usage": ("S8",), "service_operations": ("S9",)}
# Notice kinds that talk about one thing only; every other kind shows every section.
KIND_SECTIONS = {
    "cookies": (
        "scope",
        "collect",
        "cookies",
        "use",
        "sharing",
        "transfers",
        "rights",
        "retention",
        "links",
        "changes",
        "contact",
    ),
    "california": (
        "scope",
        "collect",
        "use",
        "cookies",
        "sharing",
        "california",
        "customer_content",
        "rights",
        "retention",
        "security",
        "links",
        "changes",
        "contact",
    ),
}
# Prose a notice may add under `text:`, by key: the section it belongs to and the promises it
# helps keep. A key named like a section goes to that section; any other key to the scope.
TEXT_SLOTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "intro": ("scope", ("S1",)),
    "scope": ("scope", ("S1", "S14")),
    "just_in_time": ("collect", ("S3",)),
    "legal_basis": ("use", ("S16",)),
    "browser": ("cookies", ("G12", "S11")),
    "non_personal": ("retention", ("G5",)),
    "sale_and_sharing": ("california", ("G4", "S17")),
    "do_not_track": ("california", ("S17",)),
    "complaints": ("contact", ("G15",)),
    "changes": ("changes", ("G16", "S19")),
    "links": ("links", ("G13",)),
}


class PublishedVersion(Protocol):
    """What a notice reads from a published version (`pledge.notices.versions.NoticeVersion`).

    Only these fields are used, so notices render against any history that provides them, and
    without one (nothing published yet) fall back to each notice's own effective date.
    """

    @property
    def version(self) -> int: ...

    @property
    def effective(self) -> date: ...

    @property
    def published_at(self) -> datetime: ...

    @property
    def changes(self) -> Sequence[Mapping[str, Any]]: ...


# --- the view ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One section of a notice: its key (anchor and template), promises, content, extra prose."""

    key: str
    promises: tuple[str, ...]
    body: Any
    texts: dict[str, LocalText] = field(default_factory=dict)
    """The notice's own prose for this section, by `text:` key (see TEXT_SLOTS)."""


@dataclass(frozen=True)
class NoticeView:
    """Everything a template needs to render one notice in any language and format."""

    id: str
    notice: Notice
    manifest: Manifest
    sections: tuple[Section, ...]
    revision: date | None
    history: tuple[PublishedVersion, ...] = ()
    header_promises: tuple[str, ...] = ("S2", "G16")

    @property
    def keys(self) -> frozenset[str]:
        """The keys of the sections present (links point only at those)."""
        return frozenset(s.key for s in self.sections)

    @property
    def promises(self) -> tuple[str, ...]:
        """Every promise id the notice fulfils (header and sections)."""
        ids = [*self.header_promises, *(p for s in self.sections for p in s.promises)]
        return tuple(dict.fromkeys(ids))


@dataclass(frozen=True)
class Scope:
    """What the notice covers, for whom, and which other notices exist (P-S1)."""

    kind: str
    audience: tuple[str, ...]
    systems: tuple[str, ...]
    processors: bool
    others: tuple[str, ...]


@dataclass(frozen=True)
class CollectRow:
    """One `collects` entry of a system: data, purposes, source detail, required (P-G3)."""

    system: str
    categories: tuple[str, ...]
    purposes: tuple[str, ...]
    required: bool
    consequence: LocalText | None
    detail: LocalText | None


@dataclass(frozen=True)
class SourceGroup:
    source: str
    rows: tuple[CollectRow, ...]
    promises: tuple[str, ...]


@dataclass(frozen=True)
class Collected:
    sources: tuple[SourceGroup, ...]
    non_personal: tuple[str, ...]
    point_of_collection: bool


@dataclass(frozen=True)
class PurposeItem:
    key: str
    purpose: Purpose | None
    categories: tuple[str, ...]
    promises: tuple[str, ...]


@dataclass(frozen=True)
class PurposeGroup:
    key: str | None
    purposes: tuple[PurposeItem, ...]
    promises: tuple[str, ...]


@dataclass(frozen=True)
class Uses:
    groups: tuple[PurposeGroup, ...]
    legitimate_interests: bool
    objection: bool = False
    """Whether the notice's readers may object (only an offered right is promised)."""


@dataclass(frozen=True)
class ProgramItem:
    key: str
    program: Program
    purposes: tuple[str, ...]
    defaults: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TrackerGroup:
    category: str
    trackers: tuple[Tracker, ...]


@dataclass(frozen=True)
class Cookies:
    groups: tuple[TrackerGroup, ...]
    types: tuple[str, ...]
    built_in: bool
    choice_needed: bool


@dataclass(frozen=True)
class RecipientItem:
    key: str
    recipient: Recipient
    systems: tuple[str, ...]


@dataclass(frozen=True)
class RecipientKind:
    kind: str
    recipients: tuple[RecipientItem, ...]


@dataclass(frozen=True)
class Sharing:
    kinds: tuple[RecipientKind, ...]
    no_sale: bool


@dataclass(frozen=True)
class Transfer:
    """A country data goes to, who takes it there, and under which safeguards (P-G6)."""

    country: str
    recipients: tuple[str, ...]
    systems: tuple[str, ...]
    safeguards: tuple[str, ...]


@dataclass(frozen=True)
class Transfers:
    countries: tuple[Transfer, ...]
    bcr: bool


@dataclass(frozen=True)
class CustomerContent:
    systems: tuple[tuple[str, System], ...]


@dataclass(frozen=True)
class RightItem:
    kind: str
    config: RightConfig


@dataclass(frozen=True)
class JurisdictionRights:
    key: str
    law: str
    rights: tuple[RightItem, ...]
    deadline: Duration
    extension: Duration | None


@dataclass(frozen=True)
class Rights:
    jurisdictions: tuple[JurisdictionRights, ...]
    processors: bool
    withdrawal: tuple[str, ...]
    fee_possible: bool
    """Whether any right may cost a reasonable fee for unfounded or excessive requests (P-G8)."""
    identities: tuple[str, ...]
    """Identities a person may give so their data can be found."""


@dataclass(frozen=True)
class RetentionRow:
    system: str
    categories: tuple[str, ...]
    rule: RetentionRule


@dataclass(frozen=True)
class Retention:
    rows: tuple[RetentionRow, ...]
    backups: Backups | None
    anonymize: bool
    legal_hold: bool
    non_personal: bool
    erasure: bool = False
    """Whether the notice's readers may ask for deletion (only an offered right is promised)."""


@dataclass(frozen=True)
class Security:
    measures: tuple[str, ...]
    description: LocalText | None


@dataclass(frozen=True)
class California:
    sold: tuple[str, ...]
    shared: tuple[str, ...]
    categories: tuple[str, ...]
    sensitive: tuple[str, ...]
    signals: Signals
    opt_out: bool
    limit: bool


@dataclass(frozen=True)
class Changes:
    period: Duration
    latest: PublishedVersion | None
    material: tuple[Mapping[str, Any], ...]
    minor: int


@dataclass(frozen=True)
class NoticeScope:
    """What a notice is about, derived once and shared by the section builders."""

    notice_id: str
    notice: Notice
    systems: tuple[str, ...]
    processors: tuple[str, ...]
    collects: tuple[tuple[str, Collect], ...]
    purposes: tuple[str, ...]
    categories: tuple[str, ...]
    recipients: tuple[str, ...]
    trackers: tuple[Tracker, ...]
    jurisdictions: tuple[str, ...]
    history: tuple[PublishedVersion, ...] = field(default=())


# --- building ---------------------------------------------------------------------------------


def build_view(
    manifest: Manifest, notice_id: str, history: Sequence[PublishedVersion] = ()
) -> NoticeView:
    """The view of notice `notice_id`; `history` is the published versions, oldest first."""
    notice = manifest.notices.get(notice_id)
    if notice is None:
        known = ", ".join(manifest.notices) or "none"
        raise NotFoundError(
            f"notice '{notice_id}' is not declared in the manifest (known: {known})"
        )
    scope = notice_scope(manifest, notice_id, tuple(history))
    wanted = KIND_SECTIONS.get(notice.kind, tuple(BUILDERS))
    sections = []
    for key in wanted:
        built = BUILDERS[key](manifest, scope)
        if built is not None:
            body, promises = built
            texts = section_texts(notice, key)
            extra = [p for t in texts for p in TEXT_SLOTS.get(t, (key, ()))[1]]
            sections.append(Section(key, _unique([*promises, *extra]), body, texts))
    latest = history[-1] if history else None
    revision = latest.effective if latest is not None else notice.effective
    return NoticeView(notice_id, notice, manifest, tuple(sections), revision, tuple(history))


def section_texts(notice: Notice, section: str) -> dict[str, LocalText]:
    """The notice's `text:` entries that belong in `section`, in the order written."""
    return {
        key: value
        for key, value in notice.text.items()
        if TEXT_SLOTS.get(key, (key if key in BUILDERS else "scope", ()))[0] == section
    }


def notice_scope(
    manifest: Manifest, notice_id: str, history: tuple[PublishedVersion, ...] = ()
) -> NoticeScope:
    """The systems, purposes, recipients and trackers notice `notice_id` speaks about.

    Systems come from `systems_of_notice`, narrowed to those holding data about the notice's
    audience. Processor systems are never in scope (they are our customers' processing, P-S1)
    but are listed so readers know whom to ask (P-S14). A cookie notice covers its trackers
    and only the systems it names.
    """
    notice = manifest.notices[notice_id]
    cookie_only = notice.kind == "cookies" and not notice.systems
    audience = set(notice.audience)
    candidates = () if cookie_only else manifest.systems_of_notice(notice_id)
    systems = tuple(
        k
        for k in candidates
        if manifest.systems[k].role == "controller" and _for_audience(manifest.systems[k], audience)
    )
    processors = tuple(
        k
        for k, system in manifest.systems.items()
        if not cookie_only and system.role == "processor" and _for_audience(system, audience)
    )
    collects = tuple((k, c) for k in systems for c in manifest.systems[k].collects)
    trackers = _trackers_in_scope(manifest, notice, collects)
    purposes = _unique(
        [p for _, c in collects for p in c.purposes] + [p for t in trackers for p in t.purposes]
    )
    recipients = _unique(
        [r for k in systems for r, _ in manifest.recipients_of(k)]
        + [t.recipient for t in trackers if t.recipient in manifest.recipients]
    )
    return NoticeScope(
        notice_id=notice_id,
        notice=notice,
        systems=systems,
        processors=processors,
        collects=collects,
        purposes=purposes,
        categories=_unique(c for _, col in collects for c in col.categories),
        recipients=recipients,
        trackers=trackers,
        jurisdictions=manifest.jurisdictions_of_notice(notice_id),
        history=history,
    )


def _for_audience(system: System, audience: set[str]) -> bool:
    return not audience or not system.subjects or bool(audience & set(system.subjects))


def _trackers_in_scope(
    manifest: Manifest, notice: Notice, collects: tuple[tuple[str, Collect], ...]
) -> tuple[Tracker, ...]:
    """All trackers for whole-organisation notices; else those serving a purpose in scope."""
    if notice.kind in ("cookies", "general", "california") or not notice.systems:
        return manifest.trackers
    purposes = {p for _, c in collects for p in c.purposes}
    return tuple(t for t in manifest.trackers if purposes & set(t.purposes))


def _unique(items: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i is not None))


def _ids(*groups: tuple[bool, str]) -> tuple[str, ...]:
    """Promise ids whose condition holds, in the order given."""
    return tuple(dict.fromkeys(ids for cond, text in groups if cond for ids in text.split()))


Built = tuple[Any, tuple[str, ...]] | None


# --- sections -----------------------------------------------------------------------------------


def _scope(manifest: Manifest, scope: NoticeScope) -> Built:
    notice = scope.notice
    others = tuple(k for k in manifest.notices if k != scope.notice_id)
    body = Scope(
        notice.kind,
        notice.audience,
        scope.systems,
        bool(scope.processors),
        others,
    )
    return body, ("S1",)


def _collect(manifest: Manifest, scope: NoticeScope) -> Built:
    groups = []
    for source in SOURCES:
        rows = tuple(
            CollectRow(k, c.categories, c.purposes, c.required, c.consequence, c.source_detail)
            for k, c in scope.collects
            if c.source == source
        )
        if rows:
            groups.append(SourceGroup(source, rows, _source_promises(source, rows, scope)))
    if not groups:
        return None
    direct = any(g.source == "direct" for g in groups)
    body = Collected(
        tuple(groups),
        tuple(c for c in scope.categories if not manifest.is_personal(c)),
        direct,
    )
    return body, tuple(dict.fromkeys(["G1", *(p for g in groups for p in g.promises)]))


def _source_promises(
    source: str, rows: tuple[CollectRow, ...], scope: NoticeScope
) -> tuple[str, ...]:
    sdk = any(t.type == "sdk" for t in scope.trackers)
    return _ids(
        (source == "direct", "G1 S4 S3"),
        (source == "third_party", "G1"),
        (source == "services", "S5"),
        (source == "services" and sdk, "S7"),
        (source == "cookies", "G12"),
        (source == "public", "G11"),
        (any(r.required for r in rows), "G3"),
    )


def _use(manifest: Manifest, scope: NoticeScope) -> Built:
    if not scope.purposes:
        return None
    by_group: dict[str | None, list[PurposeItem]] = {}
    for key in scope.purposes:
        purpose = manifest.purposes.get(key)
        categories = _unique(
            c for _, col in scope.collects if key in col.purposes for c in col.categories
        )
        promises = _ids(
            (purpose is not None and purpose.legal_basis == "legitimate_interests", "S16"),
            (purpose is not None and "unsubscribe" in purpose.withdrawal, "G7"),
        )
        group = purpose.group if purpose is not None else None
        by_group.setdefault(group, []).append(PurposeItem(key, purpose, categories, promises))
    groups = tuple(
        PurposeGroup(key, tuple(items), GROUP_PROMISES.get(key or "", ()))
        for key, items in sorted(by_group.items(), key=lambda kv: kv[0] is None)
    )
    legitimate = any("S16" in i.promises for g in groups for i in g.purposes)
    promises = _ids(
        (True, "G2 S6"),
        (legitimate, "S16"),
        *((True, " ".join(g.promises)) for g in groups),
        *((True, " ".join(i.promises)) for g in groups for i in g.purposes),
    )
    return Uses(groups, legitimate, _offered(manifest, scope, "objection")), promises


def _programs(manifest: Manifest, scope: NoticeScope) -> Built:
    items = []
    for key, program in manifest.programs.items():
        purposes = tuple(
            p
            for p in scope.purposes
            if (purpose := manifest.purposes.get(p)) is not None and purpose.program == key
        )
        if purposes:
            items.append(ProgramItem(key, program, purposes, tuple(program.default.items())))
    return (tuple(items), ("S6",)) if items else None


def _cookies(manifest: Manifest, scope: NoticeScope) -> Built:
    if not scope.trackers:
        return None
    groups = tuple(
        TrackerGroup(cat, tuple(t for t in scope.trackers if t.category == cat))
        for cat in TRACKER_CATEGORIES
        if any(t.category == cat for t in scope.trackers)
    )
    types = _unique(t.type for t in scope.trackers)
    built_in = "sdk" in types
    body = Cookies(
        groups,
        types,
        built_in,
        any(t.category != "strictly_necessary" for t in scope.trackers),
    )
    return body, _ids((True, "G12 S11"), (built_in, "S7"))


def _sharing(manifest: Manifest, scope: NoticeScope) -> Built:
    if not scope.recipients:
        return None
    items = [
        RecipientItem(
            key,
            manifest.recipients[key],
            tuple(s for s in scope.systems if key in manifest.systems[s].recipients),
        )
        for key in scope.recipients
    ]
    kinds = tuple(
        RecipientKind(kind, tuple(i for i in items if i.recipient.kind == kind))
        for kind in RECIPIENT_KINDS
        if any(i.recipient.kind == kind for i in items)
    )
    # Only a manifest in which nobody buys or receives data for ads supports "we do not sell".
    no_sale = not any(r.sale or r.sharing for r in manifest.recipients.values())
    return Sharing(kinds, no_sale), ("G4", "S10")


def _transfers(manifest: Manifest, scope: NoticeScope) -> Built:
    found: dict[str, tuple[list[str], list[str], list[str]]] = {}

    def add(country: str, who: str, kind: int, safeguard: str | None) -> None:
        entry = found.setdefault(country, ([], [], []))
        entry[kind].append(who)
        if safeguard is not None:
            entry[2].append(safeguard)

    for key in scope.systems:
        system = manifest.systems[key]
        for country in system.locations:
            add(country, key, 1, system.safeguard)
    for key in scope.recipients:
        recipient = manifest.recipients[key]
        for country in recipient.countries:
            add(country, key, 0, recipient.safeguard)
    if not found:
        return None
    rows = tuple(
        Transfer(
            country,
            _unique(recipients),
            _unique(systems),
            _unique(safeguards) or (_implicit_safeguard(country),),
        )
        for country, (recipients, systems, safeguards) in found.items()
    )
    bcr = any("bcr" in r.safeguards for r in rows)
    return Transfers(rows, bcr), _ids((True, "G6"), (True, "S12"))


def _implicit_safeguard(country: str) -> str:
    """What covers a transfer no safeguard is named for: the EEA itself, or adequacy."""
    if country in EEA:
        return "eea"
    return "adequacy" if country in ADEQUATE else "none"


def _customer_content(manifest: Manifest, scope: NoticeScope) -> Built:
    if not scope.processors:
        return None
    systems = tuple((k, manifest.systems[k]) for k in scope.processors)
    return CustomerContent(systems), ("G14", "S14")


def _offered(manifest: Manifest, scope: NoticeScope, kind: str) -> bool:
    """Whether right `kind` is offered in any jurisdiction the notice speaks to."""
    return any(kind in rights_offered(manifest, j) for j in scope.jurisdictions)


def _rights(manifest: Manifest, scope: NoticeScope) -> Built:
    found = []
    for key in scope.jurisdictions:
        law = JURISDICTIONS.get(key)
        offered = rights_offered(manifest, key)
        if law is None or not offered:
            continue
        found.append(
            JurisdictionRights(
                key,
                law.law,
                tuple(RightItem(k, c) for k, c in offered.items()),
                Duration(law.deadline),
                Duration(law.extension) if law.extension else None,
            )
        )
    if not found:
        return None
    withdrawal = _unique(
        w
        for p in scope.purposes
        if (purpose := manifest.purposes.get(p)) is not None and purpose.is_consent
        for w in purpose.withdrawal
    )
    all_rights = [r for j in found for r in j.rights]
    unsubscribe = any(r.kind == "unsubscribe" for r in all_rights)
    body = Rights(
        tuple(found),
        bool(scope.processors),
        withdrawal,
        fee_possible=any(r.config.fee != "none" for r in all_rights),
        identities=_unique(i for r in all_rights for i in r.config.identities),
    )
    return body, _ids((True, "G8 S15"), (unsubscribe or "unsubscribe" in withdrawal, "G7"))


def _retention(manifest: Manifest, scope: NoticeScope) -> Built:
    rows: list[RetentionRow] = []
    for key in scope.systems:
        by_rule: dict[int, tuple[RetentionRule, list[str]]] = {}
        for category in manifest.systems[key].categories:
            rule = manifest.retention_for(key, category)
            if rule is not None:
                by_rule.setdefault(id(rule), (rule, []))[1].append(category)
        rows.extend(RetentionRow(key, tuple(cats), rule) for rule, cats in by_rule.values())
    if not rows and manifest.backups is None:
        return None
    anonymize = any(r.rule.then == "anonymize" for r in rows)
    non_personal = any(not manifest.is_personal(c) for c in scope.categories)
    body = Retention(
        tuple(rows),
        manifest.backups,
        anonymize,
        any(r.rule.legal_hold for r in rows),
        non_personal,
        _offered(manifest, scope, "erasure"),
    )
    return body, _ids((True, "G9 S18"), (anonymize or non_personal, "G5"))


def _security(manifest: Manifest, scope: NoticeScope) -> Built:
    measures = _unique(
        [
            *manifest.security.measures,
            *(m for k in scope.systems for m in manifest.systems[k].security),
        ]
    )
    if not measures and manifest.security.description is None:
        return None
    need_to_know = bool({"need_to_know", "access_control"} & set(measures))
    body = Security(measures, manifest.security.description)
    return body, _ids((True, "G10 S13"), (need_to_know, "S10"))


def _california(manifest: Manifest, scope: NoticeScope) -> Built:
    if scope.notice.kind != "california" and "us-ca" not in scope.jurisdictions:
        return None
    offered = rights_offered(manifest, "us-ca")
    body = California(
        sold=tuple(k for k, r in manifest.recipients.items() if r.sale),
        shared=tuple(k for k, r in manifest.recipients.items() if r.sharing),
        categories=tuple(c for c in scope.categories if manifest.is_personal(c)),
        sensitive=tuple(
            c for c in scope.categories if (e := manifest.category(c)) is not None and e.sensitive
        ),
        signals=manifest.signals,
        opt_out="opt_out_sale_sharing" in offered,
        limit="limit_sensitive" in offered,
    )
    return body, ("S17",)


def _links(manifest: Manifest, scope: NoticeScope) -> Built:
    text = scope.notice.text.get("links")
    return (text, ("G13",)) if text is not None else None


def _changes(manifest: Manifest, scope: NoticeScope) -> Built:
    latest = scope.history[-1] if scope.history else None
    changes = tuple(latest.changes) if latest is not None else ()
    material = tuple(c for c in changes if c.get("material"))
    body = Changes(manifest.notice_period, latest, material, len(changes) - len(material))
    return body, ("G16", "S19")


def _contact(manifest: Manifest, scope: NoticeScope) -> Built:
    return manifest.organization, ("G15", "S20")


BUILDERS: dict[str, Callable[[Manifest, NoticeScope], Built]] = {
    "scope": _scope,
    "collect": _collect,
    "use": _use,
    "programs": _programs,
    "cookies": _cookies,
    "sharing": _sharing,
    "transfers": _transfers,
    "customer_content": _customer_content,
    "rights": _rights,
    "retention": _retention,
    "security": _security,
    "california": _california,
    "links": _links,
    "changes": _changes,
    "contact": _contact,
}


# --- changes ------------------------------------------------------------------------------------

_CHANGE_TABLES = (
    ("purposes", "purpose"),
    ("recipients", "recipient"),
    ("systems", "system"),
    ("programs", "program"),
)
_VALUE_KINDS = {
    "purpose": "purpose",
    "use": "purpose",
    "category": "category",
    "subject": "subject",
    "recipient": "recipient",
    "sharing": "recipient",
    "transfer": "country",
    "tracker": "tracker",
}


def change_ref(manifest: Manifest, change: Mapping[str, Any]) -> tuple[str, str] | None:
    """What a recorded change is about, as (kind, key), so it can be named in any language.

    The history stores English summaries for the record; a notice names the purpose, category,
    recipient, country or right itself instead, in the reader's language.
    """
    family = str(change.get("kind", "")).partition(".")[0]
    path = str(change.get("path", ""))
    value = change.get("after") if change.get("after") is not None else change.get("before")
    if family == "right" and path.startswith("rights."):
        return ("right", path.split(".")[1])
    if isinstance(value, str) and family in _VALUE_KINDS:
        return (_VALUE_KINDS[family], value)
    for section, kind in _CHANGE_TABLES:
        rest = path.removeprefix(section + ".")
        if rest != path:
            keys = [k for k in getattr(manifest, section) if rest == k or rest.startswith(k + ".")]
            if keys:
                return (kind, max(keys, key=len))
    if path.startswith("trackers."):
        return ("tracker", path.removeprefix("trackers.").partition(".")[0])
    return None
