"""Pure decisions about personal data, made from the manifest and nothing else.

Every service asks here (which rights a person has where, when a request is due, whether a
purpose may run), so the notice and the behaviour cannot drift apart. Imports only `manifest`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pledge.manifest.jurisdictions import JURISDICTIONS, Jurisdiction, jurisdiction_of
from pledge.manifest.model import Manifest, RightConfig
from pledge.manifest.types import Duration

# --- jurisdictions and rights ---------------------------------------------------------------


def jurisdiction_for_country(country: str, region: str | None = None) -> str:
    """The jurisdiction whose law applies to a person in `country` (and US state `region`)."""
    return jurisdiction_of(country, region)


def applicable_jurisdiction(manifest: Manifest, jurisdiction: str) -> str:
    """The manifest's jurisdiction to use: the asked one if declared, else `global`."""
    return jurisdiction if jurisdiction in manifest.jurisdictions else "global"


def rights_offered(manifest: Manifest, jurisdiction: str) -> dict[str, RightConfig]:
    """Rights a person in `jurisdiction` may use, with how (verification, fee, approval)."""
    return manifest.rights_in(jurisdiction)


# --- deadlines ------------------------------------------------------------------------------

#: Request kinds California wants honoured within 15 business days, not answered in 45 days.
_FIFTEEN_BUSINESS_DAYS = frozenset({"opt_out_sale_sharing", "limit_sensitive"})


@dataclass(frozen=True)
class Deadline:
    """When a request is due, how far it may be extended, and interim duties."""

    due: datetime
    extended_due: datetime | None
    confirm_by: datetime | None = None
    extend_notice_by: datetime | None = None


def add_business_days(
    start: datetime, days: int, holidays: Collection[date] = frozenset()
) -> datetime:
    """`start` plus `days` business days (Monday to Friday, skipping `holidays`)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current.date() not in holidays:
            remaining -= 1
    return current


def deadline_for(
    jurisdiction: str,
    kind: str,
    received: datetime,
    default: Duration | None = None,
    holidays: Collection[date] = frozenset(),
) -> Deadline:
    """The deadline of a request of `kind` received at `received` under `jurisdiction`.

    GDPR (eu, uk): one calendar month, to the corresponding day or the month's last day,
    extendable by two more, the person told of an extension within the first month.
    California: 45 days plus 45, receipt confirmed within 10 business days, and an opt-out
    of sale or sharing or a limit on sensitive data honoured within 15 business days (CPRA
    regs §7026(f), §7027(g)).
    """
    law: Jurisdiction | None = JURISDICTIONS.get(jurisdiction)
    if law is None or jurisdiction == "global":
        period = default or Duration(law.deadline if law else "P30D")
        return Deadline(period.add_to(received), None)
    period = Duration(law.deadline)
    due = period.add_to(received)
    # An extension lengthens the whole period (one month plus two is three from receipt).
    extended = (period + Duration(law.extension)).add_to(received) if law.extension else None
    if jurisdiction == "us-ca":
        if kind in _FIFTEEN_BUSINESS_DAYS:
            return Deadline(add_business_days(received, 15, holidays), None)
        return Deadline(due, extended, confirm_by=add_business_days(received, 10, holidays))
    return Deadline(due, extended, extend_notice_by=due if extended else None)


def sla_state(deadline: datetime, now: datetime, due_soon: timedelta = timedelta(days=7)) -> str:
    """on_track, due_soon or overdue, for queues and reminders."""
    if now > deadline:
        return "overdue"
    if deadline - now <= due_soon:
        return "due_soon"
    return "on_track"


# --- consent and choices: may this purpose run for this subject now? ------------------------
#
# The product asks on its hot path, so `decide` is allocation-light: everything that depends
# only on the manifest is computed once per manifest (cached by digest) into `PurposeRule`s,
# and every answer is one of a few preallocated `Decision`s.


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a purpose may run, and the one reason that decided it (a stable code)."""

    allowed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class SubjectState:
    """What is known about one subject, derived from the logs (never stored as state).

    `consents`: the latest yes/no per purpose (a no on a legitimate-interests purpose is an
    objection to it, as an unsubscribe is). `programmes`: explicit join (True) or leave
    (False) of the subject's organisation or installation; absent means the jurisdiction's
    default. `restricted` / `objected`: purposes under restriction or objection, with `"*"`
    for all. `gpc`: a Global Privacy Control signal applies to this subject.
    """

    jurisdiction: str = "global"
    consents: Mapping[str, bool] = field(default_factory=dict)
    programmes: Mapping[str, bool] = field(default_factory=dict)
    restricted: frozenset[str] = frozenset()
    objected: frozenset[str] = frozenset()
    gpc: bool = False


#: Pseudo-purposes of an opt-out of sale or sharing (CCPA "sale", CPRA "sharing"): an objection
#: to them stops every purpose the manifest marks as sale or sharing, in every jurisdiction.
SALE, SHARING = "sale", "sharing"
_SALE_OR_SHARING = frozenset({SALE, SHARING})

#: Pseudo-purpose of a request to limit the use of sensitive personal information (CCPA
#: §1798.121): an objection to it stops every purpose that uses a sensitive category for more
#: than the uses the law permits (see `limitable_sensitive_purposes`), in every jurisdiction.
SENSITIVE = "sensitive"

#: Uses of sensitive personal information a limit request does not stop (CPRA regs §7027(m)):
#: providing the goods and services asked for, security, fraud prevention, safety, payment,
#: customer service, keeping the service working and improving it, and legal duties. Purpose
#: keys under these (fideslang data uses) are such uses; everything else (marketing,
#: analytics, personalisation, sharing, training) is limited.
PERMITTED_SENSITIVE_USES = ("essential", "functional.service")

#: Legal bases under which an objection (GDPR Art. 21) stops the processing.
_OBJECTABLE = frozenset({"legitimate_interests", "public_task"})


def permitted_sensitive_use(purpose: str) -> bool:
    """Whether `purpose` is a use of sensitive data that a limit request leaves running."""
    return any(purpose == k or purpose.startswith(k + ".") for k in PERMITTED_SENSITIVE_USES)


def limitable_sensitive_purposes(manifest: Manifest) -> frozenset[str]:
    """Purposes a limit on sensitive personal information stops (CCPA §1798.121).

    Those a system collects a sensitive category for (the taxonomy's or the manifest's
    `sensitive: true`) and that are not a use §7027(m) permits without the person's say.
    """
    found: set[str] = set()
    for collect in manifest.iter_collects():
        if any(
            (entry := manifest.category(c)) is not None and entry.sensitive
            for c in collect.categories
        ):
            found.update(p for p in collect.purposes if not permitted_sensitive_use(p))
    return frozenset(found)


def objectable_purposes(manifest: Manifest) -> list[str]:
    """Purposes a person may object to (GDPR Art. 21): those resting on legitimate interests
    or a public task, and direct marketing whatever its basis (Art. 21(2))."""
    return [
        key
        for key, purpose in manifest.purposes.items()
        if purpose.legal_basis in _OBJECTABLE or key.split(".")[0] == "marketing"
    ]


@dataclass(frozen=True, slots=True)
class PurposeRule:
    """What the manifest says about one purpose, flattened for `decide`."""

    legal_basis: str
    program: str | None
    #: jurisdiction → True when the programme is on until left (opt_out), for this purpose.
    program_on_by_default: Mapping[str, bool]
    sale_or_sharing: bool
    #: Uses sensitive data beyond what CPRA regs §7027(m) permit: stopped by a limit request.
    sensitive_limitable: bool = False


@dataclass(frozen=True, slots=True)
class ConsentTables:
    """Per-manifest tables for `decide` (see `consent_tables`)."""

    rules: Mapping[str, PurposeRule]
    #: jurisdictions where GPC is an opt-out of sale and sharing (empty when not honoured).
    gpc_jurisdictions: frozenset[str]
    #: tracker category → purposes its trackers serve.
    category_purposes: Mapping[str, tuple[str, ...]]
    sale_or_sharing: frozenset[str]
    sensitive_limitable: frozenset[str] = frozenset()


ALLOW_CONSENT = Decision(True, "consent_given")
DENY_NO_CONSENT = Decision(False, "no_consent")
DENY_WITHDRAWN = Decision(False, "consent_refused_or_withdrawn")
DENY_UNKNOWN = Decision(False, "unknown_purpose")
DENY_RESTRICTED = Decision(False, "restricted")
DENY_OBJECTION = Decision(False, "objection")
DENY_GPC = Decision(False, "gpc_opt_out")
DENY_OPTED_OUT = Decision(False, "opted_out_of_sale_or_sharing")
DENY_SENSITIVE_LIMITED = Decision(False, "limited_use_of_sensitive_data")
DENY_PROGRAMME = Decision(False, "programme_not_joined")
_ALLOW_BASIS = {
    basis: Decision(True, basis)
    for basis in (
        "contract",
        "legal_obligation",
        "vital_interests",
        "public_task",
        "legitimate_interests",
    )
}
_TABLES: dict[str, ConsentTables] = {}
_TABLES_BY_ID: dict[int, tuple[Manifest, ConsentTables]] = {}


def programme_default(manifest: Manifest, programme: str, jurisdiction: str) -> bool:
    """Whether `programme` is on until left (opt_out) under `jurisdiction`."""
    program = manifest.programs.get(programme)
    if program is None:
        return False
    return program.default_in(jurisdiction) == "opt_out"


def sale_or_sharing_purposes(manifest: Manifest) -> frozenset[str]:
    """Purposes whose data goes to a recipient that buys it or uses it for cross-context ads.

    From recipients marked `sale`/`sharing` (their purposes, and the purposes of trackers
    they run) and from every advertising tracker.
    """
    found: set[str] = set()
    selling = {k for k, r in manifest.recipients.items() if r.sale or r.sharing}
    for key in selling:
        found.update(manifest.recipients[key].purposes)
    for tracker in manifest.trackers:
        if tracker.category == "advertising" or tracker.recipient in selling:
            found.update(tracker.purposes)
    return frozenset(found)


def consent_tables(manifest: Manifest) -> ConsentTables:
    """The decision tables of `manifest`, built once per manifest digest."""
    key = manifest.digest
    if key:
        cached = _TABLES.get(key)
        if cached is not None:
            return cached
    else:  # a manifest built in code, never loaded: cache by identity
        pair = _TABLES_BY_ID.get(id(manifest))
        if pair is not None and pair[0] is manifest:
            return pair[1]
    sharing = sale_or_sharing_purposes(manifest)
    limitable = limitable_sensitive_purposes(manifest)
    rules = {
        name: PurposeRule(
            legal_basis=purpose.legal_basis,
            program=purpose.program,
            program_on_by_default={
                j: programme_default(manifest, purpose.program, j)
                for j in (*manifest.jurisdictions, "global")
            }
            if purpose.program
            else {},
            sale_or_sharing=name in sharing,
            sensitive_limitable=name in limitable,
        )
        for name, purpose in manifest.purposes.items()
    }
    honour = manifest.signals.global_privacy_control == "honour"
    gpc = frozenset(
        j
        for j in (*manifest.jurisdictions, "us-ca")
        if honour and "opt_out_sale_sharing" in manifest.rights_in(j)
    )
    by_category: dict[str, dict[str, None]] = {}
    for tracker in manifest.trackers:
        by_category.setdefault(tracker.category, {}).update(dict.fromkeys(tracker.purposes))
    tables = ConsentTables(
        rules=rules,
        gpc_jurisdictions=gpc,
        category_purposes={c: tuple(p) for c, p in by_category.items()},
        sale_or_sharing=sharing,
        sensitive_limitable=limitable,
    )
    if key:
        if len(_TABLES) > 16:
            _TABLES.clear()
        _TABLES[key] = tables
    else:
        _TABLES_BY_ID[id(manifest)] = (manifest, tables)
    return tables


def decide(manifest: Manifest, purpose: str, state: SubjectState) -> Decision:
    """May `purpose` run for the subject in `state` now?

    In order: an unknown purpose never runs; a restriction stops everything but storage;
    GPC opts out of sale and sharing where the law makes it an opt-out (us-ca), and an opt-out
    request (an objection to `sale`/`sharing`) does so everywhere; a limit on sensitive data
    (an objection to `sensitive`) stops the purposes that use it beyond what the law permits;
    a purpose
    tied to a programme needs participation (explicit, else the jurisdiction's default);
    then the legal basis: consent needs a recorded yes, legitimate interests and public task
    run unless the person objected (a recorded no counts as an objection, as for direct
    marketing), the other bases run.
    """
    tables = consent_tables(manifest)
    rule = tables.rules.get(purpose)
    if rule is None:
        return DENY_UNKNOWN
    if state.restricted and ("*" in state.restricted or purpose in state.restricted):
        return DENY_RESTRICTED
    if rule.sale_or_sharing:
        if state.gpc and state.jurisdiction in tables.gpc_jurisdictions:
            return DENY_GPC
        if state.objected and not state.objected.isdisjoint(_SALE_OR_SHARING):
            return DENY_OPTED_OUT
    if rule.sensitive_limitable and SENSITIVE in state.objected:
        return DENY_SENSITIVE_LIMITED
    if rule.program is not None:
        joined = state.programmes.get(rule.program)
        if joined is None:
            joined = rule.program_on_by_default.get(
                state.jurisdiction, rule.program_on_by_default.get("global", False)
            )
        if not joined:
            return DENY_PROGRAMME
    basis = rule.legal_basis
    if basis == "consent":
        given = state.consents.get(purpose)
        if given is None:
            return DENY_NO_CONSENT
        return ALLOW_CONSENT if given else DENY_WITHDRAWN
    if basis in _OBJECTABLE and (
        state.consents.get(purpose) is False
        or (state.objected and ("*" in state.objected or purpose in state.objected))
    ):
        return DENY_OBJECTION
    return _ALLOW_BASIS[basis]


# --- routing of requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class Routing:
    """Where a request about a person goes: executed, forwarded to a controller, or by hand.

    Processor systems are never executed (P-S14): the person is told whom to ask and the
    controlling customer is told of the request.
    """

    executed: tuple[str, ...]
    forwarded: tuple[str, ...]
    manual: tuple[str, ...]

    @property
    def only_forwarded(self) -> bool:
        return not self.executed and not self.manual and bool(self.forwarded)


def route_request(manifest: Manifest) -> Routing:
    """Split the manifest's systems by how a data subject request reaches them."""
    executed, forwarded, manual = [], [], []
    for key, system in manifest.systems.items():
        if system.role == "processor":
            forwarded.append(key)
        elif manifest.datasets_of(key):
            executed.append(key)
        elif system.collects:
            manual.append(key)
    return Routing(tuple(executed), tuple(forwarded), tuple(manual))
