"""`pledge demo`: the example company with product databases full of fictional people.

The example manifest (`examples/lumen/pledge.yaml`) names a SQLite connection for each product
system and describes each store as a Fides dataset. The demo creates those databases under
`<data_dir>/demo/` from the datasets (tables from collections, column types from
`fides_meta.data_type`, primary keys, foreign keys from `references` with direction `from`) and
fills them with a deterministic, seeded crowd of fictional people at companies whose addresses
are under the reserved example domains (`*.example.com`, `.org`, `.net`). Some rows belong to
two people — a billing account opened by one colleague for another, a support ticket answered
by a colleague, a shared workspace — as real data does.

Each database is created, filled and marked (`PRAGMA user_version`) in one transaction, so a
second run finds it complete and leaves it alone: people are never duplicated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pledge import apikeys
from pledge.config import ensure_private_file
from pledge.errors import ConfigError
from pledge.manifest import graph
from pledge.manifest.datasets import Collection, Dataset, DatasetField
from pledge.manifest.model import Manifest
from pledge.store.db import Store

EXAMPLE = Path("examples") / "lumen" / "pledge.yaml"
SEED = 20261123
#: `PRAGMA user_version` of a finished demo database ("PLD" and a format number): a marker
#: in the file header, so the demo adds no table of its own to the product's schema.
MARK = 0x504C4401
DEMO_KEY_NAME = "pledge demo admin"
#: The demo's "now": fixed, so every run makes the same data.
EPOCH = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
SQL_TYPES = {
    "string": "TEXT",
    "integer": "INTEGER",
    "float": "REAL",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "object_id": "TEXT",
}


# --- finding the example ------------------------------------------------------------------------


def find_example(starts: Iterable[Path] | None = None) -> Path:
    """`examples/lumen/pledge.yaml`, searched upward from the working folder and this package."""
    bases = list(starts) if starts is not None else [Path.cwd(), Path(__file__).resolve().parent]
    for base in bases:
        for folder in (base, *base.parents):
            candidate = folder / EXAMPLE
            if candidate.is_file():
                return candidate
    raise ConfigError(
        f"cannot find {EXAMPLE} above {', '.join(str(b) for b in bases)}; run the demo from "
        "a checkout of Pledge, or give the manifest with --manifest"
    )


# --- fictional people ---------------------------------------------------------------------------

_FIRST = [
    "Ada",
    "Aksel",
    "Amira",
    "Anouk",
    "Astrid",
    "Bram",
    "Camille",
    "Cas",
    "Clara",
    "Daan",
    "Elin",
    "Emil",
    "Eva",
    "Fenna",
    "Finn",
    "Frida",
    "Gaspard",
    "Greta",
    "Hanne",
    "Hugo",
    "Ida",
    "Ines",
    "Isak",
    "Jakob",
    "Jonas",
    "Julie",
    "Kari",
    "Lars",
    "Lea",
    "Leon",
    "Liv",
    "Lotte",
    "Louise",
    "Luca",
    "Maja",
    "Marit",
    "Mats",
    "Mila",
    "Milan",
    "Nils",
    "Noor",
    "Nora",
    "Ola",
    "Oscar",
    "Pia",
    "Romy",
    "Rune",
    "Sander",
    "Siri",
    "Sofie",
    "Solveig",
    "Stijn",
    "Tess",
    "Theo",
    "Thijs",
    "Tiril",
    "Tobias",
    "Vera",
    "Victor",
    "Wout",
    "Yara",
    "Zoé",
]
_LAST = [
    "Aalberg",
    "Andersen",
    "Bakker",
    "Berg",
    "Blom",
    "Brekke",
    "Claes",
    "Dahl",
    "Dekker",
    "Eriksen",
    "Falk",
    "Fontaine",
    "Graaf",
    "Hagen",
    "Haugen",
    "Hoek",
    "Holm",
    "Jansen",
    "Kaspersen",
    "Keller",
    "Kramer",
    "Lambert",
    "Lund",
    "Meijer",
    "Moreau",
    "Moe",
    "Nygaard",
    "Olsen",
    "Pauwels",
    "Petit",
    "Roux",
    "Sandvik",
    "Schmitt",
    "Solberg",
    "Strand",
    "Thorsen",
    "Vos",
    "Wagner",
    "Wiik",
]
_COMPANY_A = [
    "Alder",
    "Amber",
    "Birch",
    "Blue",
    "Cedar",
    "Copper",
    "Delta",
    "Ember",
    "Fjord",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Linden",
    "Maple",
    "Nordic",
    "Oak",
    "Polder",
    "Quarry",
    "Rowan",
    "Silver",
    "Tundra",
    "Willow",
]
_COMPANY_B = [
    "Analytics",
    "Bakery",
    "Consulting",
    "Dynamics",
    "Engineering",
    "Freight",
    "Foods",
    "Health",
    "Labs",
    "Logistics",
    "Media",
    "Robotics",
    "Studios",
    "Systems",
    "Textiles",
    "Works",
]
_COUNTRIES = (
    # country, legal suffix, cities, locale, timezone, currency, phone prefix
    ("NO", "AS", ("Bergen", "Tromsø", "Stavanger"), "nb", "Europe/Oslo", "NOK"),
    ("NL", "B.V.", ("Utrecht", "Groningen", "Delft"), "nl", "Europe/Amsterdam", "EUR"),
    ("DE", "GmbH", ("Leipzig", "Bremen", "Freiburg"), "de", "Europe/Berlin", "EUR"),
    ("FR", "SAS", ("Lyon", "Nantes", "Lille"), "fr", "Europe/Paris", "EUR"),
    ("IE", "Ltd", ("Cork", "Galway", "Limerick"), "en", "Europe/Dublin", "EUR"),
    ("US", "Inc.", ("Springfield", "Riverside", "Fairview"), "en", "America/Los_Angeles", "USD"),
)
_TLDS = ("example.com", "example.org", "example.net")
_TITLES = (
    "IT administrator",
    "Finance manager",
    "Operations lead",
    "Software engineer",
    "Procurement officer",
    "Data analyst",
    "Office manager",
)


@dataclass(frozen=True)
class Company:
    index: int
    name: str
    domain: str
    country: str
    suffix: str
    city: str
    locale: str
    timezone: str
    currency: str
    plan: str


@dataclass(frozen=True)
class Person:
    index: int
    first: str
    last: str
    company: Company
    email: str
    phone: str
    job_title: str
    street: str
    postal_code: str
    user_id: str
    customer_id: str
    created_at: datetime
    closed_at: datetime | None

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def _stable_id(*parts: object) -> str:
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def make_people(count: int, seed: int = SEED) -> list[Person]:
    """`count` fictional people at about `count / 8` fictional companies; same seed, same crowd."""
    rng = random.Random(f"{seed}/people")
    companies: list[Company] = []
    names: set[str] = set()
    for index in range(max(1, count // 8)):
        country, suffix, cities, locale, tz, currency = _COUNTRIES[index % len(_COUNTRIES)]
        while True:
            base = f"{rng.choice(_COMPANY_A)} {rng.choice(_COMPANY_B)}"
            if base not in names or len(names) > 300:
                break
        names.add(base)
        domain = f"{_slug(base)}{index}.{_TLDS[index % len(_TLDS)]}"
        plan = rng.choice(("starter", "business", "enterprise"))
        city = rng.choice(cities)
        companies.append(
            Company(
                index, f"{base} {suffix}", domain, country, suffix, city, locale, tz, currency, plan
            )
        )
    people = []
    for index in range(count):
        company = companies[index % len(companies)]
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        local = f"{_slug(first)}.{_slug(last)}"
        email = f"{local}{index}@{company.domain}"
        created = EPOCH - timedelta(days=rng.randint(30, 1100), seconds=rng.randint(0, 86_399))
        closed = created + timedelta(days=rng.randint(10, 25)) if rng.random() < 0.08 else None
        people.append(
            Person(
                index=index,
                first=first,
                last=last,
                company=company,
                email=email,
                # Fictional ranges: 555-01xx (North America), 07700 900xxx (UK drama numbers).
                phone=(
                    f"+1 202 555 01{rng.randint(0, 99):02d}"
                    if rng.random() < 0.5
                    else f"+44 7700 900{rng.randint(0, 999):03d}"
                ),
                job_title=rng.choice(_TITLES),
                street=f"{rng.randint(1, 250)} Example Street",
                postal_code=f"{rng.randint(1000, 9999)}",
                user_id=_stable_id(seed, "user", index),
                customer_id=_stable_id(seed, "customer", index),
                created_at=created,
                closed_at=closed,
            )
        )
    return people


# --- schema from Fides datasets -----------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _top_fields(collection: Collection) -> list[DatasetField]:
    return list(collection.fields)


def _local_refs(
    dataset: Dataset, collection: Collection, f: DatasetField, directions: Sequence[str | None]
) -> list[tuple[str, str]]:
    """(table, column) that field `f` of `collection` points at in the same dataset."""
    return [
        (link.to_collection, link.to_field)
        for link in graph.collection_links(dataset.fides_key, collection)
        if link.field == f.name
        and link.to_dataset == dataset.fides_key
        and link.direction in directions
    ]


def create_table_sql(dataset: Dataset, collection: Collection) -> str:
    """CREATE TABLE for one collection: types, primary key, foreign keys (`from` references)."""
    fields = _top_fields(collection)
    keys = [f.name for f in fields if f.meta.primary_key]
    columns, constraints = [], []
    for f in fields:
        kind = f.meta.kind or "string"
        sql_type = SQL_TYPES.get(kind, "TEXT")  # arrays and objects are kept as JSON text
        column = f"{_quote(f.name)} {sql_type}"
        if keys == [f.name]:
            column += " PRIMARY KEY" + (" NOT NULL" if sql_type != "INTEGER" else "")
        columns.append(column)
        for table, target in _local_refs(dataset, collection, f, ("from",)):
            constraints.append(
                f"FOREIGN KEY ({_quote(f.name)}) REFERENCES {_quote(table)} ({_quote(target)})"
            )
    if len(keys) > 1:
        constraints.append(f"PRIMARY KEY ({', '.join(_quote(k) for k in keys)})")
    body = ",\n  ".join(columns + constraints)
    return f"CREATE TABLE IF NOT EXISTS {_quote(collection.name)} (\n  {body}\n)"


# --- rows ---------------------------------------------------------------------------------------


@dataclass
class _Row:
    values: dict[str, Any]
    person: Person | None
    company: Company
    root: str


@dataclass
class _Filler:
    """Fills one dataset's collections; rows keep who they belong to for their children."""

    dataset: Dataset
    people: list[Person]
    seed: int
    rows: dict[str, list[_Row]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_company: dict[int, list[Person]] = {}
        for person in self.people:
            self.by_company.setdefault(person.company.index, []).append(person)

    def fill(self) -> dict[str, list[_Row]]:
        for collection in graph.parents_first(self.dataset):
            self.rows[collection.name] = self._collection(collection)
        return self.rows

    def _rng(self, collection: Collection) -> random.Random:
        return random.Random(f"{self.seed}/{self.dataset.fides_key}/{collection.name}")

    def _parents(self, collection: Collection) -> list[tuple[str, str, str]]:
        found = []
        for f in _top_fields(collection):
            for table, column in _local_refs(self.dataset, collection, f, ("from", "to", None)):
                if table in self.rows and table != collection.name:
                    found.append((f.name, table, column))
        return found

    def _collection(self, collection: Collection) -> list[_Row]:
        rng = self._rng(collection)
        parents = self._parents(collection)
        personal = _is_personal(collection)
        owners: list[tuple[Person | None, Company, str, _Row | None]] = []
        if not parents:
            if personal:
                share = 1.0 if self.dataset.fides_key == "accounts" else 0.8
                owners = [
                    (p, p.company, f"p{p.index}", None) for p in self.people if rng.random() < share
                ]
            else:
                owners = [
                    (None, people[0].company, f"c{index}", None)
                    for index, people in sorted(self.by_company.items())
                ]
        else:
            _, table, _ = parents[0]
            own_identity = any(f.meta.identity == "email" for f in _top_fields(collection))
            for parent in self.rows[table]:
                if parent.person is None and personal:
                    members = self.by_company.get(parent.company.index, [])
                    owners += [(p, p.company, parent.root, parent) for p in members]
                elif own_identity and parent.person is not None:
                    # Another person's row under this one: members of a shared workspace.
                    team = self._colleagues(parent.person)
                    chosen = [parent.person, *rng.sample(team, min(len(team), rng.randint(0, 2)))]
                    owners += [(p, p.company, parent.root, parent) for p in chosen]
                else:
                    count = rng.randint(0, 3)
                    owners += [(parent.person, parent.company, parent.root, parent)] * count
        rows = []
        for number, (person, company, root, above) in enumerate(owners, start=1):
            row = _Row({}, person, company, root)
            for f in _top_fields(collection):
                row.values[f.name] = self._value(collection, f, row, above, parents, number, rng)
            rows.append(row)
        return rows

    def _colleagues(self, person: Person) -> list[Person]:
        return [p for p in self.by_company.get(person.company.index, []) if p is not person]

    def _value(
        self,
        collection: Collection,
        f: DatasetField,
        row: _Row,
        parent: _Row | None,
        parents: list[tuple[str, str, str]],
        number: int,
        rng: random.Random,
    ) -> Any:
        meta = f.meta
        for index, (name, table, column) in enumerate(parents):
            if name != f.name:
                continue
            if index == 0 and parent is not None:
                return parent.values.get(column)
            # A second reference: a row of the same root (the invoice's own payment method).
            candidates = [r for r in self.rows.get(table, []) if r.root == row.root]
            return rng.choice(candidates).values.get(column) if candidates else None
        person = row.person
        shared = SHARED.get((self.dataset.fides_key, collection.name, f.name))
        if shared is not None and person is not None and rng.random() < shared:
            team = self._colleagues(person)
            if team:
                person = rng.choice(team)
        if meta.primary_key and meta.identity is None:
            if (meta.data_type or "string") == "integer":
                return number
            return _stable_id(self.seed, self.dataset.fides_key, collection.name, number)
        return value_for(f, collection.name, person, row.company, rng, number)


#: Fields that sometimes hold a colleague instead of the row's own person (share of rows).
SHARED: dict[tuple[str, str, str], float] = {
    ("billing", "customers", "account_user_id"): 0.15,  # a colleague placed the first order
    ("support", "ticket_messages", "author_email"): 0.2,  # a colleague answered in the ticket
    ("telemetry", "diagnostics", "uploaded_by"): 0.2,
}


def _is_personal(collection: Collection) -> bool:
    for _, f in collection.iter_fields():
        if f.meta.identity:
            return True
        if any(c.startswith("user.") for c in f.data_categories or ()):
            return True
        if any(r.field in ("users.id", "customers.id") for r in f.meta.references):
            return True
    return False


def _when(rng: random.Random, person: Person | None, *, days: int = 900) -> datetime:
    start = person.created_at if person is not None else EPOCH - timedelta(days=days)
    span = max(1, int((EPOCH - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, span))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ip(rng: random.Random) -> str:
    """Addresses from the documentation ranges (RFC 5737, RFC 3849): nobody's real address."""
    if rng.random() < 0.2:
        return f"2001:db8::{rng.randint(1, 0xFFFF):x}"
    block = rng.choice(("192.0.2", "198.51.100", "203.0.113"))
    return f"{block}.{rng.randint(1, 254)}"


_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
)
_PRODUCTS = ("Lumen Analytics", "Lumen Vault", "Lumen Connect", "Lumen Desk")
_FEATURES = ("dashboard", "report_builder", "export", "sharing", "search", "alerts")
_SUBJECTS = (
    "Cannot sign in after password reset",
    "Export to CSV is slow",
    "Question about our invoice",
    "Dashboard shows no data",
    "How do I add a colleague?",
)


@dataclass(frozen=True)
class _Ctx:
    table: str
    person: Person | None
    company: Company
    rng: random.Random
    n: int


def _hex(c: _Ctx) -> str:
    return f"{c.rng.getrandbits(64):016x}"


#: Values for well-known column names of the example's stores.
_NAMED: dict[str, Callable[[_Ctx], Any]] = {
    "plan": lambda c: c.company.plan,
    "locale": lambda c: c.company.locale,
    "timezone": lambda c: c.company.timezone,
    "cobrand_partner_consent": lambda c: json.dumps(
        ["example-partner"] if c.rng.random() < 0.3 else []
    ),
    "kind": lambda c: c.rng.choice(("billing", "office")),
    "method": lambda c: c.rng.choice(("password", "sso", "passkey")),
    "user_agent": lambda c: c.rng.choice(_AGENTS),
    "mac_address": lambda c: f"00:00:5e:00:53:{c.rng.randint(0, 255):02x}",  # RFC 7042
    "number": lambda c: f"INV-{c.n:06d}",
    "currency": lambda c: c.company.currency,
    "sku": lambda c: f"LUM-{c.rng.randint(100, 999)}",
    "brand": lambda c: c.rng.choice(("visa", "mastercard", "amex")),
    "last4": lambda c: f"{c.rng.randint(0, 9999):04d}",
    "exp_month": lambda c: c.rng.randint(1, 12),
    "exp_year": lambda c: c.rng.randint(2026, 2031),
    "processor_token": lambda c: f"tok_demo_{_hex(c)}",
    "processor_reference": lambda c: f"ch_demo_{_hex(c)}",
    "tax_id": lambda c: f"{c.company.country}{c.rng.randint(10**8, 10**9 - 1)}",
    "product": lambda c: c.rng.choice(_PRODUCTS),
    "version": lambda c: f"4.{c.rng.randint(0, 6)}.{c.rng.randint(0, 9)}",
    "edition": lambda c: c.rng.choice(("standard", "professional", "enterprise")),
    "deployment": lambda c: c.rng.choice(("cloud", "on_premises")),
    "subject": lambda c: c.rng.choice(_SUBJECTS),
    "file_name": lambda c: c.rng.choice(("screenshot.png", "export.log", "bundle.zip")),
    "storage_key": lambda c: f"attachments/{_hex(c)}",
    "sha256": lambda c: hashlib.sha256(f"{c.table}{c.n}".encode()).hexdigest(),
    "feature": lambda c: c.rng.choice(_FEATURES),
    "metric": lambda c: c.rng.choice(("cpu_percent", "memory_mb", "query_ms")),
    "level": lambda c: c.rng.choice(("info", "warning", "error")),
    "message": lambda c: c.rng.choice(("job finished", "slow query", "connection retried")),
    "resource": lambda c: f"/reports/{c.rng.randint(1, 500)}",
    "event_type": lambda c: c.rng.choice(("delivered", "opened", "clicked")),
    "campaign_id": lambda c: f"cmp-{c.rng.randint(1, 24):02d}",
    "link_url": lambda c: "https://www.lumen.example/news",
    "topic": lambda c: c.rng.choice(("product_news", "events", "webinars")),
    "channel": lambda c: "email",
    "source": lambda c: c.rng.choice(("trial_signup", "event", "webinar")),
    "source_detail": lambda c: f"form-{c.rng.randint(1, 9)}",
    "url": lambda c: f"https://www.lumen.example/{c.rng.choice(('pricing', 'docs', 'blog'))}",
    "referrer": lambda c: c.rng.choice(("https://search.example/", "")),
    "path": lambda c: c.rng.choice(("/", "/pricing", "/docs", "/blog")),
    "network_domain": lambda c: c.company.domain,
    "location": lambda c: c.company.country,
    "consent_choices": lambda c: json.dumps({"analytics": c.rng.random() < 0.5}),
    "region": lambda c: "eu-west" if c.company.country != "US" else "us-east",
    "title": lambda c: c.rng.choice(("Quarterly plan", "Meeting notes", "Budget draft")),
    "summary": lambda c: "Support bundle for a slow dashboard",
    "bundle_uri": lambda c: f"diagnostics/{_hex(c)}.zip",
    "comment": lambda c: c.rng.choice(("Works well", "Exports could be faster", "")),
    "score": lambda c: c.rng.randint(0, 10),
    "thread_id": lambda c: c.rng.randint(1, 400),
    "user_pseudonym": lambda c: hashlib.sha256(f"pseudo{c.n}".encode()).hexdigest()[:20],
    "session_cookie_id": lambda c: _hex(c),
    "action": lambda c: c.rng.choice(("open", "save", "share", "login")),
    "name": lambda c: c.company.name,
    "address_line2": lambda c: None,
    "state": lambda c: "CA" if c.company.country == "US" else None,
    "status": lambda c: c.rng.choice(
        {
            "invoices": ("paid", "paid", "open"),
            "tickets": ("open", "pending", "closed", "closed"),
            "subscriptions": ("subscribed", "subscribed", "unsubscribed"),
            "access_logs": (200, 200, 304, 404),
        }.get(c.table, ("active",))
    ),
    "body": lambda c: (
        "Draft notes for the next planning meeting."
        if c.table == "documents"
        else c.rng.choice(("Thanks, that solved it.", "Still seeing the issue."))
    ),
}


def value_for(
    f: DatasetField,
    table: str,
    person: Person | None,
    company: Company,
    rng: random.Random,
    n: int,
) -> Any:
    """A plausible fictional value for field `f` of a row belonging to `person` at `company`."""
    meta, name = f.meta, f.name
    categories = f.data_categories or ()
    kind = meta.kind or "string"
    for ref in meta.references:
        if ref.field == "users.id":
            return person.user_id if person is not None else None
        if ref.field == "customers.id":
            return person.customer_id if person is not None else None
    if meta.identity == "user_id":
        return person.user_id if person else None
    if meta.identity == "customer_id":
        return person.customer_id if person else None
    if person is not None:
        personal = _personal(name, categories, person, company)
        if personal is not None:
            return personal
    named = _NAMED.get(name)
    if named is not None:
        return named(_Ctx(table, person, company, rng, n))
    if name == "closed_at":
        return _iso(person.closed_at) if person and person.closed_at else None
    if name == "created_at" and person is not None and table in ("users", "customers"):
        return _iso(person.created_at)
    if "user.device.ip_address" in categories or name.endswith("ip") or "ip_address" in name:
        return _ip(rng)
    if kind in ("datetime",):
        return _iso(_when(rng, person))
    if kind == "date":
        return _when(rng, person).date().isoformat()
    if kind == "integer":
        return rng.randint(100, 250_000) if "cents" in name else rng.randint(1, 5_000)
    if kind == "float":
        return round(rng.uniform(0, 100), 2)
    if kind == "boolean":
        return rng.random() < 0.7
    if kind.endswith("[]") or kind == "object":
        return json.dumps([])
    return f"{name}-{n}"


def _personal(name: str, categories: Sequence[str], person: Person, company: Company) -> Any:
    if "user.contact.email" in categories:
        return person.email
    if "user.name.first" in categories:
        return person.first
    if "user.name.last" in categories:
        return person.last
    if "user.name" in categories:
        return person.name
    if "user.account.username" in categories:
        return f"{_slug(person.first)}.{_slug(person.last)}{person.index}"
    if "user.contact.phone_number" in categories:
        return person.phone
    if "user.contact.organization" in categories:
        return company.name
    if "user.professional_information.job_title" in categories:
        return person.job_title
    if "user.contact.address.street" in categories and name != "address_line2":
        return person.street
    if "user.contact.address.city" in categories:
        return company.city
    if "user.contact.address.postal_code" in categories:
        return person.postal_code
    if "user.contact.address.country" in categories:
        return company.country
    if "user.authorization.credentials" in categories:
        return "$argon2id$v=19$demo$" + hashlib.sha256(person.email.encode()).hexdigest()[:32]
    if "user.location.imprecise" in categories and name == "country":
        return company.country
    if "user.device.cookie_id" in categories:
        return hashlib.sha256(f"cookie{person.index}".encode()).hexdigest()[:24]
    return None


# --- databases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoDatabase:
    """One product store of the example: where it is and what it holds."""

    connection: str
    url_env: str
    path: Path
    systems: tuple[str, ...]
    rows: int
    created: bool

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


def _datasets_by_connection(manifest: Manifest) -> dict[str, tuple[list[str], list[Dataset]]]:
    found: dict[str, tuple[list[str], list[Dataset]]] = {}
    for key, system in manifest.systems.items():
        connection = manifest.connections.get(system.connection or "")
        datasets = manifest.datasets_of(key)
        if connection is None or connection.type != "sqlite" or not connection.url_env:
            continue
        if not datasets:
            continue
        systems, sets = found.setdefault(system.connection or "", ([], []))
        systems.append(key)
        sets.extend(d for d in datasets if d not in sets)
    return found


def prepare_databases(
    manifest: Manifest, folder: Path, people: int, seed: int = SEED
) -> list[DemoDatabase]:
    """Create and fill the example's SQLite stores in `folder` (existing complete ones are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    crowd: list[Person] | None = None
    made = []
    for connection, (systems, datasets) in _datasets_by_connection(manifest).items():
        url_env = manifest.connections[connection].url_env
        assert url_env is not None
        path = (folder / f"{connection}.db").absolute()
        if _complete(path):
            made.append(
                DemoDatabase(connection, url_env, path, tuple(systems), _count(path), False)
            )
            continue
        if crowd is None:
            crowd = make_people(people, seed)
        rows = _build(ensure_private_file(path), datasets, crowd, seed)
        made.append(DemoDatabase(connection, url_env, path, tuple(systems), rows, True))
    return made


def _complete(path: Path) -> bool:
    """True for a database this demo made and finished; refuses one it did not make."""
    if not path.exists():
        return False
    with contextlib.closing(_connect(path)) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == MARK:
            return True
        if conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]:
            raise ConfigError(
                f"{path} holds tables that the demo did not make; move it away or choose "
                "another --data-dir"
            )
    return False


def _count(path: Path) -> int:
    with contextlib.closing(_connect(path)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return sum(conn.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0] for t in tables)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _build(path: Path, datasets: list[Dataset], crowd: list[Person], seed: int) -> int:
    """Schema and rows in one transaction: a crash leaves an empty file, never half a crowd."""
    conn = _connect(path)
    total = 0
    try:
        conn.execute("BEGIN IMMEDIATE")
        for dataset in datasets:
            ordered = graph.parents_first(dataset)
            for collection in ordered:
                conn.execute(create_table_sql(dataset, collection))
            filled = _Filler(dataset, crowd, seed).fill()
            for collection in ordered:
                rows = filled[collection.name]
                if not rows:
                    continue
                names = [f.name for f in _top_fields(collection)]
                sql = (
                    f"INSERT INTO {_quote(collection.name)} ({', '.join(map(_quote, names))}) "
                    f"VALUES ({', '.join('?' for _ in names)})"
                )
                conn.executemany(sql, [[_sql_value(r.values[n]) for n in names] for r in rows])
                total += len(rows)
        conn.execute(f"PRAGMA user_version = {MARK}")  # part of the transaction
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return total


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def connection_urls(databases: Iterable[DemoDatabase]) -> dict[str, str]:
    """Each connection's `url_env` pointing at its demo database (the installation's
    connections; the process environment is left alone)."""
    return {db.url_env: db.url for db in databases}


def issue_admin_key(store: Store) -> tuple[apikeys.KeyRecord, str]:
    """A fresh admin key for this run; the previous runs' demo keys are revoked."""
    with store.transaction() as session:
        for record in apikeys.list_keys(session, include_revoked=False):
            if record.name == DEMO_KEY_NAME:
                apikeys.revoke(session, record.id, actor="demo")
        return apikeys.create(session, DEMO_KEY_NAME, "admin", actor="demo")
