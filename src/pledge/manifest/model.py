"""Typed model of `pledge.yaml`, format 1 (DESIGN §4).

Models are frozen: the loaded manifest is a value. The keys named in DESIGN §4 are the public
contract. Cross-references (a purpose named by a system, a recipient named by a tracker …) are
checked by `pledge.manifest.lint`, so one run reports all of them with their locations.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from pledge.manifest.address import country_of_address
from pledge.manifest.datasets import Dataset
from pledge.manifest.jurisdictions import JURISDICTIONS, RightKind, jurisdiction_of
from pledge.manifest.source import Path
from pledge.manifest.taxonomy import Taxonomy, TaxonomyEntry
from pledge.manifest.types import CountryCode, Duration, Key, LangCode, LocalText, PlaceCode

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

    # A number where text belongs (`version: 1.0`, a field named `2024`) is that text.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        use_attribute_docstrings=True,
        coerce_numbers_to_str=True,
    )


# --- organisation -----------------------------------------------------------------------


class Contact(Model):
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    """E-mail address."""
    postal: LocalText | None = None
    """Postal address."""
    phone: str | None = None
    """Phone number."""
    url: str | None = None
    """Web page or contact form."""
    name: LocalText | None = None
    """Name of the person or team."""


class DisputeResolution(Model):
    name: LocalText
    """The independent dispute-resolution provider (P-G15)."""
    url: str | None = None
    """Where to file a dispute."""
    email: str | None = None
    """Contact e-mail of the provider."""
    free: bool = True
    """Whether the service is free for the person."""


class Authority(Model):
    """A supervisory authority people may complain to (P-G15)."""

    name: LocalText
    """Name of the authority."""
    country: CountryCode | None = None
    """Country of the authority."""
    url: str | None = None
    """Web site or complaint form."""
    email: str | None = None
    """E-mail address."""
    postal: LocalText | None = None
    """Postal address."""


class Organization(Model):
    name: str
    """Name shown in notices and e-mails."""
    legal_name: str | None = None
    """Registered legal name, if different."""
    website: str | None = None
    """The organisation's web site."""
    contact: Contact
    """Privacy contact, shown in every notice and e-mail (P-S20)."""
    dpo: Contact | None = None
    """Data protection officer."""
    representative: Contact | None = None
    """EU or UK representative (GDPR Art. 27)."""
    dispute_resolution: DisputeResolution | None = None
    """Free independent dispute resolution (P-G15)."""
    supervisory_authority: Authority | None = None
    """Lead supervisory authority people may complain to."""
    country: PlaceCode | None = Field(
        None,
        description="Where the organisation is established (NO; US-CA for a US state); its law "
        "applies when `jurisdictions` is unset. Default: the country that ends `contact.postal`",
    )

    def home(self, languages: Sequence[str] = ()) -> Home | None:
        """Where the organisation is established, if the manifest says (`languages`: those
        a plain-text postal address may be written in)."""
        if self.country is not None:
            country, _, region = self.country.partition("-")
            return Home(country, region or None, ("organization", "country"))
        postal = self.contact.postal
        found = country_of_address(postal, languages) if postal is not None else None
        if found is None:
            return None
        return Home(found[0], found[1], ("organization", "contact", "postal"))


@dataclass(frozen=True)
class Home:
    """The organisation's country (and US state), and the manifest node that said so."""

    country: str
    region: str | None
    path: Path

    @property
    def jurisdiction(self) -> str:
        return jurisdiction_of(self.country, self.region)

    @property
    def place(self) -> str:
        return f"{self.country}-{self.region}" if self.region else self.country


# --- taxonomy additions -----------------------------------------------------------------


class SubjectDef(Model):
    name: LocalText
    """Display name."""
    description: LocalText | None = None
    """Who they are."""


class CategoryDef(Model):
    name: LocalText
    """Display name."""
    description: LocalText | None = None
    """What the data is."""
    personal: bool = True
    """Whether it is personal data (false moves it out of requests and retention)."""
    special: bool = Field(False, description="GDPR Art. 9 special category")
    sensitive: bool = Field(False, description="CPRA sensitive personal information")


class GroupDef(Model):
    """A label used to group purposes in notices (usage, service operations …)."""

    name: LocalText
    """Heading used in notices."""
    description: LocalText | None = None
    """Introduction shown under the heading."""


class Purpose(Model):
    name: LocalText | None = None
    """Display name; defaults to the taxonomy's name of the key."""
    description: LocalText | None = None
    """What is done, in plain words."""
    group: str | None = None
    """Purpose group used to arrange notices (usage, service_operations …)."""
    legal_basis: LegalBasis
    """GDPR Art. 6 legal basis."""
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


def _opt_in_everywhere() -> dict[str, Literal["opt_in", "opt_out"]]:
    return {"global": "opt_in"}


class Program(Model):
    """A participation programme such as a customer experience improvement programme (P-S6)."""

    name: LocalText
    """Display name."""
    description: LocalText | None = None
    """What taking part means."""
    scope: Literal["organization", "installation", "user"] = "organization"
    """Who decides: the customer organisation, each installation, or each user."""
    default: dict[str, Literal["opt_in", "opt_out"]] = Field(
        default_factory=_opt_in_everywhere,
        description="Per jurisdiction: opt_in (off until joined) or opt_out (on until left)",
    )
    how_to_change: LocalText | None = None
    """How to join or leave, shown in notices."""

    def default_in(self, jurisdiction: str) -> Literal["opt_in", "opt_out"]:
        """The starting setting under `jurisdiction` (its own, else global's, else opt_in)."""
        return self.default.get(jurisdiction) or self.default.get("global") or "opt_in"


# --- recipients, systems, connections ---------------------------------------------------


class Recipient(Model):
    name: LocalText
    """Display name."""
    kind: RecipientKind
    """Kind of recipient; notices group sharing by kind."""
    description: LocalText | None = None
    """What they do with the data."""
    purposes: tuple[Key, ...] = ()
    """Purposes the data is shared for."""
    countries: tuple[CountryCode, ...] = ()
    """Countries the data goes to (transfers, P-G6)."""
    safeguard: Safeguard | None = None
    """Transfer safeguard where a country lacks adequacy."""
    sale: bool = Field(False, description="Disclosure is a sale (CCPA)")
    sharing: bool = Field(False, description="Disclosure is sharing for cross-context ads (CPRA)")
    url: str | None = None
    """The recipient's web site."""
    privacy_url: str | None = None
    """The recipient's privacy notice."""


class Collect(Model):
    categories: tuple[Key, ...] = Field(min_length=1)
    """Data categories collected."""
    purposes: tuple[Key, ...] = Field(min_length=1)
    """Purposes they are collected for."""
    source: Source = "direct"
    """Where the data comes from."""
    source_detail: LocalText | None = None
    """More about the source (trade shows, data appending …)."""
    required: bool = False
    """Whether the data is needed to provide the service (P-G3)."""
    consequence: LocalText | None = Field(None, description="What fails without the data (P-G3)")


class ControllerRef(Model):
    """Whose data a processor system holds, and how to reach them (P-S14)."""

    name: LocalText
    """Who the controller is (for example: our customer, your employer)."""
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
    """Display name."""
    description: LocalText | None = None
    """What the system does."""
    role: Literal["controller", "processor"] = "controller"
    """Whether we decide (controller) or act for a customer (processor)."""
    controller: ControllerRef | None = None
    """For processor systems: whose data it is (P-S14)."""
    subjects: tuple[Key, ...] = ()
    """Data subjects whose data the system holds."""
    collects: tuple[Collect, ...] = ()
    """What is collected, why, from where."""
    recipients: tuple[str, ...] = ()
    """Recipients that receive data from the system."""
    locations: tuple[CountryCode, ...] = ()
    """Countries where the data is stored or processed."""
    safeguard: Safeguard | None = Field(None, description="For locations outside adequacy")
    retention: str | None = None
    """Retention rule (key of `retention`)."""
    connection: str | None = None
    """Connection to the system's store (key of `connections`)."""
    datasets: tuple[str, ...] = ()
    """Fides dataset files describing the store, relative to the manifest."""
    security: tuple[SecurityMeasure, ...] = ()
    """Security measures of this system; defaults to `security.measures`."""
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

    type: Literal["postgres", "mysql", "mariadb", "sqlite", "parquet", "delta", "webhook", "manual"]
    """Kind of store; picks the connector."""
    url_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    """Environment variable holding the connection URL."""
    description: LocalText | None = None
    """Note for operators."""

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
    """How long data is kept after the trigger."""
    after: Literal["collected", "account_closed", "last_activity", "contract_end", "request_closed"]
    """The trigger the period counts from."""
    then: Literal["delete", "anonymize"] = "delete"
    """What happens at the end: deletion or anonymisation (P-G5)."""
    reason: LocalText | None = None
    """Why this long (shown in notices)."""
    legal_hold: bool = Field(True, description="A legal hold may keep data longer (P-G9)")


class Backups(Model):
    max_age: Duration
    """Age at which backups expire."""
    erasure: Literal["crypto_shred", "beyond_use"]
    """crypto_shred: erased subjects' keys are destroyed, so backups become unreadable;
    beyond_use: kept isolated until they expire (P-S18)."""
    description: LocalText | None = None
    """Extra words for notices."""


class Tracker(Model):
    name: str
    """Cookie or tracker name as the browser shows it."""
    recipient: str | None = Field(None, description="None for a first-party tracker")
    category: TrackerCategory
    """Cookie category; everything but strictly_necessary needs consent or an opt-out."""
    type: TrackerType = "cookie"
    """Technology (P-S11)."""
    duration: Duration | Literal["session"] | None = None
    """Lifetime: an ISO duration or `session`."""
    purposes: tuple[Key, ...] = ()
    """Purposes the tracker serves."""
    description: LocalText | None = None
    """What it does."""
    opt_out_url: str | None = None
    """Where to opt out with the provider."""
    domain: str | None = None
    """Domain that sets it."""


class RightConfig(Model):
    jurisdictions: tuple[str, ...] | None = Field(
        None, description="Where the right is offered; default: where the law grants it"
    )
    verification: Verification = "email"
    """How identity is verified before acting (P-G8)."""
    fee: Literal["none", "reasonable_if_excessive"] = "none"
    """Fee policy; a fee only where the law allows."""
    approval: bool = Field(False, description="A privacy officer approves before execution")
    identities: tuple[Literal["email", "phone", "user_id", "customer_id"], ...] = ("email",)
    """Identities a person may give to be found."""
    staff_attested: Literal["approval", "trusted"] = "approval"
    """A request staff enter as verified (they checked the person by post or phone) waits
    for approval by another staff member who may approve (four eyes); `trusted` runs it at
    once."""


class Role(Model):
    name: LocalText | None = None
    """Display name."""
    purposes: tuple[Key, ...] = Field(min_length=1)
    """Purposes this role may read personal data for (need-to-know, P-S10)."""
    categories: tuple[Key, ...] | None = None
    """Categories the role may read; default all of its purposes' categories."""


class Notice(Model):
    title: LocalText
    """Title of the notice."""
    kind: Literal["general", "products", "cookies", "california", "recruitment", "telemetry"] = (
        "general"
    )
    """What the notice is; picks the sections it shows."""
    effective: date | None = None
    """Date the notice takes effect (P-S2)."""
    audience: tuple[str, ...] = ()
    """Data subjects the notice is for."""
    systems: tuple[str, ...] = ()
    """Systems in scope; empty means all."""
    jurisdictions: tuple[str, ...] | None = None
    """Jurisdictions the notice addresses; default all of the manifest's."""
    text: dict[str, LocalText] = Field(
        default_factory=dict, description="Extra prose per section key (intro, links …)"
    )


class Signals(Model):
    global_privacy_control: Literal["honour", "not_applicable"] = "honour"
    """Whether the Sec-GPC signal is honoured as an opt-out (P-S17)."""
    do_not_track: Literal["honour", "no_response"] = "no_response"
    """How Do Not Track is handled; stated in notices."""


class Security(Model):
    measures: tuple[SecurityMeasure, ...] = ()
    """Measures in place (P-G10)."""
    description: LocalText | None = None
    """Extra words for notices."""


# --- the manifest -----------------------------------------------------------------------


class Manifest(Model):
    """The whole declared truth of one organisation."""

    pledge: Literal[1]
    """Format version; always 1."""
    organization: Organization
    """Who is responsible."""
    languages: tuple[LangCode, ...] = Field(min_length=1)
    """Languages of notices; the first is the default."""
    jurisdictions: tuple[str, ...] = Field(
        default_factory=lambda data: _home_law(data.get("organization"), data.get("languages")),
        description="Where the organisation's notices apply (eu, uk, us-ca, ch, global); "
        "default: the law of `organization.country`, else global",
    )
    subjects: dict[Key, SubjectDef] = Field(default_factory=dict)
    """Data subjects added to the built-in taxonomy."""
    categories: dict[Key, CategoryDef] = Field(default_factory=dict)
    """Data categories added to the built-in taxonomy."""
    groups: dict[Key, GroupDef] = Field(default_factory=dict)
    """Purpose groups added to the built-in ones."""
    purposes: dict[Key, Purpose] = Field(default_factory=dict)
    """Purposes (data uses) with their legal basis."""
    programs: dict[Key, Program] = Field(default_factory=dict)
    """Participation programmes."""
    recipients: dict[Key, Recipient] = Field(default_factory=dict)
    """Who receives personal data."""
    systems: dict[Key, System] = Field(default_factory=dict)
    """Processing activities and their stores."""
    connections: dict[Key, Connection] = Field(default_factory=dict)
    """How to reach the stores."""
    retention: dict[Key, RetentionRule] = Field(default_factory=dict)
    """Retention rules."""
    backups: Backups | None = None
    """What happens to backups."""
    trackers: tuple[Tracker, ...] = ()
    """Cookies and similar technologies."""
    rights: dict[RightKind, RightConfig] = Field(default_factory=dict)
    """Rights offered, and how."""
    roles: dict[Key, Role] = Field(default_factory=dict)
    """Staff roles and the purposes they may read data for."""
    notices: dict[Key, Notice] = Field(default_factory=dict)
    """Notices generated from the manifest."""
    notice_period: Duration = Field(
        default_factory=lambda: Duration("P30D"),
        description="How long before a material change takes effect it must be announced",
    )
    signals: Signals = Field(default_factory=Signals)
    """Browser privacy signals."""
    security: Security = Field(default_factory=Security)
    """Security measures."""

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

    def rights_in(self, jurisdiction: str) -> dict[str, RightConfig]:
        """Rights offered to a person under `jurisdiction`, with how they are handled.

        Offered where the manifest configures the right and either names the jurisdiction or
        leaves `jurisdictions` unset and the law there grants it.
        """
        law = JURISDICTIONS.get(jurisdiction)
        granted = law.rights if law is not None else ()
        return {
            kind: config
            for kind, config in self.rights.items()
            if (
                jurisdiction in config.jurisdictions
                if config.jurisdictions is not None
                else kind in granted
            )
        }

    @property
    def home(self) -> Home | None:
        """Where the organisation is established, if `organization` says."""
        return self.organization.home(self.languages)

    def jurisdictions_of_notice(self, notice: str) -> tuple[str, ...]:
        """The jurisdictions whose rights notice `notice` states."""
        declared = self.notices[notice]
        if declared.jurisdictions is not None:
            return declared.jurisdictions
        return ("us-ca",) if declared.kind == "california" else self.jurisdictions

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


def _home_law(
    organization: Organization | None, languages: Sequence[str] | None
) -> tuple[str, ...]:
    """The default `jurisdictions`: the organisation's own law, else the global baseline."""
    home = organization.home(languages or ()) if organization is not None else None
    return (home.jurisdiction if home is not None else "global",)


def covers(parent: str, child: str) -> bool:
    """Whether taxonomy key `parent` is `child` or one of its ancestors."""
    return child == parent or child.startswith(parent + ".")
