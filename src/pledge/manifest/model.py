"""Typed model of `pledge.yaml`, format 1 (DESIGN §4).

Models are frozen: the loaded manifest is a value. The keys named in DESIGN §4 are the public
contract. Cross-references (a purpose named by a system, a recipient named by a tracker …) are
checked by `pledge.manifest.lint`, so one run reports all of them with their locations.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from pledge.manifest.datasets import Dataset
from pledge.manifest.jurisdictions import RightKind
from pledge.manifest.taxonomy import Taxonomy, TaxonomyEntry
from pledge.manifest.types import CountryCode, Duration, Key, LangCode, LocalText

LegalBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
]
# GDPR Art. 9(2) conditions for special categories of data.
SpecialCondition = Literal[
    "explicit_consent",
    "employment",
    "vital_interests",
    "not_for_profit",
    "made_public",
    "legal_claims",
    "substantial_public_interest",
    "health_care",
    "public_health",
    "archiving_research",
]
Source = Literal["direct", "services", "cookies", "third_party", "public"]
RecipientKind = Literal[
    "processor",
    "subprocessor",
    "controller",
    "joint_controller",
    "affiliate",
    "partner",
    "advertising_partner",
    "social_partner",
    "distributor",
    "reseller",
    "authority",
    "professional_adviser",
]
Safeguard = Literal["adequacy", "scc", "bcr", "dpf", "derogation", "consent"]
TrackerCategory = Literal["strictly_necessary", "functional", "analytics", "advertising", "social"]
TrackerType = Literal[
    "cookie",
    "local_storage",
    "session_storage",
    "pixel",
    "sdk",
    "widget",
    "embedded_url",
    "email",
    "button",
]
Withdrawal = Literal[
    "banner", "privacy_centre", "preference_centre", "unsubscribe", "program", "contact", "account"
]
Verification = Literal["none", "email", "email_and_account", "manual"]
SecurityMeasure = Literal[
    "encryption_at_rest",
    "encryption_in_transit",
    "access_control",
    "need_to_know",
    "firewalls",
    "intrusion_detection",
    "monitoring",
    "physical",
    "pseudonymisation",
    "backups",
    "audit_logging",
    "training",
    "vendor_review",
]


class Model(BaseModel):
    """Base of every manifest model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --- organisation -----------------------------------------------------------------------


class Contact(Model):
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    postal: LocalText | None = None
    phone: str | None = None
    url: str | None = None
    name: LocalText | None = None


class DisputeResolution(Model):
    name: LocalText
    url: str | None = None
    email: str | None = None
    free: bool = True


class Authority(Model):
    """A supervisory authority people may complain to (P-G15)."""

    name: LocalText
    country: CountryCode | None = None
    url: str | None = None
    email: str | None = None
    postal: LocalText | None = None


class Organization(Model):
    name: str
    legal_name: str | None = None
    website: str | None = None
    contact: Contact
    dpo: Contact | None = None
    representative: Contact | None = None
    dispute_resolution: DisputeResolution | None = None
    supervisory_authority: Authority | None = None


# --- taxonomy additions -----------------------------------------------------------------


class SubjectDef(Model):
    name: LocalText
    description: LocalText | None = None


class CategoryDef(Model):
    name: LocalText
    description: LocalText | None = None
    personal: bool = True
    special: bool = Field(False, description="GDPR Art. 9 special category")
    sensitive: bool = Field(False, description="CPRA sensitive personal information")


class GroupDef(Model):
    """A label used to group purposes in notices (usage, service operations …)."""

    name: LocalText
    description: LocalText | None = None


class Purpose(Model):
    name: LocalText | None = None
    description: LocalText | None = None
    group: str | None = None
    legal_basis: LegalBasis
    legitimate_interest: LocalText | None = Field(
        None, description="Balancing-test summary; required for legitimate_interests (P-S16)"
    )
    special_condition: SpecialCondition | None = Field(
        None, description="GDPR Art. 9(2) condition when the purpose uses special categories"
    )
    program: str | None = Field(None, description="Needs participation in this programme")
    withdrawal: tuple[Withdrawal, ...] = Field(
        (), description="How a person withdraws consent or objects"
    )
    marketing: bool | None = Field(
        None, description="Direct marketing; defaults to true for keys under marketing."
    )

    @property
    def is_consent(self) -> bool:
        return self.legal_basis == "consent"


class Program(Model):
    """A participation programme such as a customer experience improvement programme (P-S6)."""

    name: LocalText
    description: LocalText | None = None
    scope: Literal["organization", "installation", "user"] = "organization"
    default: dict[str, Literal["opt_in", "opt_out"]] = Field(
        default_factory=lambda: {"global": "opt_in"},
        description="Default per jurisdiction: opt_in (off until joined) or opt_out (on until left)",
    )
    how_to_change: LocalText | None = None


# --- recipients, systems, connections ---------------------------------------------------


class Recipient(Model):
    name: LocalText
    kind: RecipientKind
    description: LocalText | None = None
    purposes: tuple[Key, ...] = ()
    countries: tuple[CountryCode, ...] = ()
    safeguard: Safeguard | None = None
    sale: bool = Field(False, description="Disclosure is a sale (CCPA)")
    sharing: bool = Field(False, description="Disclosure is sharing for cross-context ads (CPRA)")
    url: str | None = None
    privacy_url: str | None = None


class Collect(Model):
    categories: tuple[Key, ...] = Field(min_length=1)
    purposes: tuple[Key, ...] = Field(min_length=1)
    source: Source = "direct"
    source_detail: LocalText | None = None
    required: bool = False
    consequence: LocalText | None = Field(None, description="What fails without the data (P-G3)")


class ControllerRef(Model):
    """Whose data a processor system holds, and how to reach them (P-S14)."""

    name: LocalText
    contact_field: str | None = Field(
        None, description="dataset.collection.field holding the controlling customer's contact"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class System(Model):
    """A processing activity (GDPR Art. 30) and the stores behind it."""

    name: LocalText
    description: LocalText | None = None
    role: Literal["controller", "processor"] = "controller"
    controller: ControllerRef | None = None
    subjects: tuple[Key, ...] = ()
    collects: tuple[Collect, ...] = ()
    recipients: tuple[str, ...] = ()
    locations: tuple[CountryCode, ...] = ()
    safeguard: Safeguard | None = Field(None, description="For locations outside adequacy")
    retention: str | None = None
    connection: str | None = None
    datasets: tuple[str, ...] = ()
    security: tuple[SecurityMeasure, ...] = ()
    masking: dict[Key, str] = Field(
        default_factory=dict, description="Erasure strategy per data category"
    )

    @cached_property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for col in self.collects for c in col.categories))

    @cached_property
    def purposes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for col in self.collects for p in col.purposes))


class Connection(Model):
    """Where a system's data lives. Secrets never appear here: `url_env` names a variable."""

    type: Literal[
        "postgres", "mysql", "mariadb", "sqlite", "parquet", "delta", "webhook", "manual"
    ]
    url_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    description: LocalText | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for secret in ("url", "password", "dsn", "secret", "token"):
                if secret in value:
                    raise ValueError(
                        f"'{secret}' may not appear in the manifest: name an environment "
                        "variable with url_env instead (secrets never live in pledge.yaml)"
                    )
        return value


# --- retention, backups, trackers, rights, roles, notices -------------------------------


class RetentionRule(Model):
    keep: Duration
    after: Literal["collected", "account_closed", "last_activity", "contract_end", "request_closed"]
    then: Literal["delete", "anonymize"] = "delete"
    reason: LocalText | None = None
    legal_hold: bool = Field(True, description="A legal hold may keep data longer (P-G9)")


class Backups(Model):
    max_age: Duration
    erasure: Literal["crypto_shred", "beyond_use"]
    description: LocalText | None = None


class Tracker(Model):
    name: str
    recipient: str | None = Field(None, description="None for a first-party tracker")
    category: TrackerCategory
    type: TrackerType = "cookie"
    duration: Duration | Literal["session"] | None = None
    purposes: tuple[Key, ...] = ()
    description: LocalText | None = None
    opt_out_url: str | None = None
    domain: str | None = None


class RightConfig(Model):
    jurisdictions: tuple[str, ...] | None = Field(
        None, description="Where the right is offered; default: where the law grants it"
    )
    verification: Verification = "email"
    fee: Literal["none", "reasonable_if_excessive"] = "none"
    approval: bool = Field(False, description="A privacy officer approves before execution")
    identities: tuple[Literal["email", "phone", "user_id", "customer_id"], ...] = ("email",)


class Role(Model):
    name: LocalText | None = None
    purposes: tuple[Key, ...] = Field(min_length=1)
    categories: tuple[Key, ...] | None = None


class NoticeVersionNote(Model):
    date: date
    summary: LocalText


class Notice(Model):
    title: LocalText
    kind: Literal["general", "products", "cookies", "california", "recruitment", "telemetry"] = (
        "general"
    )
    effective: date | None = None
    audience: tuple[str, ...] = ()
    systems: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] | None = None
    text: dict[str, LocalText] = Field(
        default_factory=dict, description="Extra prose per section key (intro, links …)"
    )


class Signals(Model):
    global_privacy_control: Literal["honour", "not_applicable"] = "honour"
    do_not_track: Literal["honour", "no_response"] = "no_response"


class Security(Model):
    measures: tuple[SecurityMeasure, ...] = ()
    description: LocalText | None = None


# --- the manifest -----------------------------------------------------------------------


class Manifest(Model):
    """The whole declared truth of one organisation."""

    pledge: Literal[1]
    organization: Organization
    languages: tuple[LangCode, ...] = Field(min_length=1)
    jurisdictions: tuple[str, ...] = ("global",)
    subjects: dict[Key, SubjectDef] = Field(default_factory=dict)
    categories: dict[Key, CategoryDef] = Field(default_factory=dict)
    groups: dict[Key, GroupDef] = Field(default_factory=dict)
    purposes: dict[Key, Purpose] = Field(default_factory=dict)
    programs: dict[Key, Program] = Field(default_factory=dict)
    recipients: dict[Key, Recipient] = Field(default_factory=dict)
    systems: dict[Key, System] = Field(default_factory=dict)
    connections: dict[Key, Connection] = Field(default_factory=dict)
    retention: dict[Key, RetentionRule] = Field(default_factory=dict)
    backups: Backups | None = None
    trackers: tuple[Tracker, ...] = ()
    rights: dict[RightKind, RightConfig] = Field(default_factory=dict)
    roles: dict[Key, Role] = Field(default_factory=dict)
    notices: dict[Key, Notice] = Field(default_factory=dict)
    notice_period: Duration = Field(
        default_factory=lambda: Duration("P30D"),
        description="How long before a material change takes effect it must be announced",
    )
    signals: Signals = Field(default_factory=Signals)
    security: Security = Field(default_factory=Security)

    _taxonomy: Taxonomy | None = PrivateAttr(None)
    _datasets: dict[str, tuple[Dataset, ...]] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr("")
    _digest: str = PrivateAttr("")

    # -- context set by the loader --------------------------------------------------------

    def bind(
        self,
        taxonomy: Taxonomy,
        datasets: dict[str, tuple[Dataset, ...]],
        source: str,
        digest: str,
    ) -> None:
        """Attach what the loader resolved (taxonomy, datasets by system, file, digest)."""
        self._taxonomy = taxonomy.extend(self)
        self._datasets = datasets
        self._source = source
        self._digest = digest

    @property
    def taxonomy(self) -> Taxonomy:
        if self._taxonomy is None:
            from pledge.manifest.taxonomy import builtin_taxonomy

            self._taxonomy = builtin_taxonomy().extend(self)
        return self._taxonomy

    @property
    def source(self) -> str:
        return self._source

    @property
    def digest(self) -> str:
        """SHA-256 over the manifest and its dataset files, as loaded."""
        return self._digest

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def text(self, value: LocalText | None, lang: str) -> str:
        return value.text(lang, self.default_language) if value is not None else ""

    # -- queries later layers need ---------------------------------------------------------

    def datasets_of(self, system: str) -> tuple[Dataset, ...]:
        return self._datasets.get(system, ())

    def category(self, key: str) -> TaxonomyEntry | None:
        return self.taxonomy.categories.get(key)

    def is_personal(self, category: str) -> bool:
        entry = self.category(category)
        return entry.personal if entry is not None else True

    def purpose_name(self, key: str, lang: str) -> str:
        purpose = self.purposes.get(key)
        if purpose is not None and purpose.name is not None:
            return self.text(purpose.name, lang)
        entry = self.taxonomy.uses.get(key)
        return entry.name.text(lang, "en") if entry is not None else key

    def purposes_of_category(self, category: str) -> tuple[str, ...]:
        """Every purpose any system collects `category` (or a parent of it) for."""
        found: dict[str, None] = {}
        for collect in self.iter_collects():
            if any(covers(c, category) for c in collect.categories):
                found.update(dict.fromkeys(collect.purposes))
        return tuple(found)

    def systems_holding(self, category: str) -> tuple[str, ...]:
        return tuple(
            key
            for key, system in self.systems.items()
            if any(covers(c, category) or covers(category, c) for c in system.categories)
        )

    def recipients_of(self, system: str) -> tuple[tuple[str, Recipient], ...]:
        return tuple(
            (key, self.recipients[key])
            for key in self.systems[system].recipients
            if key in self.recipients
        )

    def retention_for(self, system: str, category: str | None = None) -> RetentionRule | None:
        """The retention rule for `category` in `system` (one rule per system in format 1)."""
        sys = self.systems.get(system)
        if sys is None or sys.retention is None:
            return None
        if category is not None and not any(covers(c, category) for c in sys.categories):
            return None
        return self.retention.get(sys.retention)

    def systems_of_notice(self, notice: str) -> tuple[str, ...]:
        scope = self.notices[notice].systems
        return tuple(k for k in self.systems if not scope or k in scope)

    def iter_collects(self) -> Iterator[Collect]:
        for system in self.systems.values():
            yield from system.collects

    def is_marketing(self, purpose_key: str) -> bool:
        purpose = self.purposes.get(purpose_key)
        if purpose is not None and purpose.marketing is not None:
            return purpose.marketing
        return purpose_key == "marketing" or purpose_key.startswith("marketing.")


def covers(parent: str, child: str) -> bool:
    """Whether taxonomy key `parent` is `child` or one of its ancestors."""
    return child == parent or child.startswith(parent + ".")
