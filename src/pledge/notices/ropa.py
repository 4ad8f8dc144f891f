"""The record of processing activities (GDPR Art. 30), generated from the manifest.

An auditor asks for the record; the notice states the same facts to the people concerned.
Both come from one manifest, so they cannot disagree. Art. 30(1) is the controller's record:
one row per system and purpose, because the legal basis, the data and the recipients differ
by purpose. Art. 30(2) is the processor's record: one row per system we run on a customer's
behalf (P-S14), naming that customer as the controller.

The record is written for a supervisory authority, so all of it follows `lang`: its headings
and fixed phrases (legal bases, safeguards, erasure limits) come from the notice catalogs
(`templates/_ropa.jinja`), names from the manifest and the taxonomy, country names from CLDR.
English is the default. JSON keys, and the CSV column ids of the English record, stay as they
are so scripts can read them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from html import escape
from typing import Any, Literal

from babel import Locale, UnknownLocaleError
from babel.lists import format_list
from babel.units import format_unit

from pledge.manifest.jurisdictions import ADEQUATE, EEA
from pledge.manifest.model import Collect, Contact, Manifest, RetentionRule, System
from pledge.manifest.types import Duration
from pledge.notices.i18n import SOURCE_LANGUAGE, ropa_words

Format = Literal["csv", "json", "html"]
FORMATS: tuple[Format, ...] = ("csv", "json", "html")
RECORD_CONTROLLER = "30(1)"
RECORD_PROCESSOR = "30(2)"

SPECIAL_CONDITIONS = {
    "explicit_consent": "a",
    "employment": "b",
    "vital_interests": "c",
    "not_for_profit": "d",
    "made_public": "e",
    "legal_claims": "f",
    "substantial_public_interest": "g",
    "health_care": "h",
    "public_health": "i",
    "archiving_research": "j",
}
_UNITS = (
    ("years", "duration-year"),
    ("months", "duration-month"),
    ("days", "duration-day"),
    ("hours", "duration-hour"),
    ("minutes", "duration-minute"),
    ("seconds", "duration-second"),
)


# --- the record ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    key: str
    name: str


@dataclass(frozen=True)
class Party:
    """Someone the record names with their contact details (controller, DPO, representative)."""

    name: str
    email: str = ""
    postal: str = ""
    phone: str = ""
    url: str = ""

    def text(self) -> str:
        return ", ".join(p for p in (self.name, self.email, self.postal, self.phone, self.url) if p)


@dataclass(frozen=True)
class RecipientEntry:
    key: str
    name: str
    kind: str

    def text(self, lang: str = SOURCE_LANGUAGE) -> str:
        kind = ropa_words(lang).recipient_kinds.get(self.kind, self.kind.replace("_", " "))
        return f"{self.name} ({kind})"


@dataclass(frozen=True)
class Transfer:
    """Data reaching a country outside the EEA, by a recipient or by where a system runs."""

    country: str
    country_name: str
    via: str
    recipient: str | None
    safeguard: str | None
    safeguard_text: str

    def text(self) -> str:
        return f"{self.country_name} ({self.country}), {self.via}: {self.safeguard_text}"


@dataclass(frozen=True)
class Erasure:
    """The erasure time limit of Art. 30(1)(f): the retention rule in words."""

    rule: str
    keep: str
    after: str
    then: str
    legal_hold: bool
    text: str


@dataclass(frozen=True)
class ControllerRow:
    """One Art. 30(1) entry: a system processing personal data for one purpose."""

    system: str
    system_name: str
    purpose: str
    purpose_name: str
    legal_basis: str
    legal_basis_text: str
    legitimate_interest: str
    subjects: tuple[Named, ...]
    categories: tuple[Named, ...]
    recipients: tuple[RecipientEntry, ...]
    transfers: tuple[Transfer, ...]
    erasure: Erasure | None
    security: tuple[str, ...]
    record: str = RECORD_CONTROLLER


@dataclass(frozen=True)
class ProcessorRow:
    """One Art. 30(2) entry: a system we run on behalf of another controller."""

    system: str
    system_name: str
    controller: str
    processing: tuple[Named, ...]
    description: str
    subjects: tuple[Named, ...]
    categories: tuple[Named, ...]
    recipients: tuple[RecipientEntry, ...]
    transfers: tuple[Transfer, ...]
    erasure: Erasure | None
    security: tuple[str, ...]
    record: str = RECORD_PROCESSOR


@dataclass(frozen=True)
class Ropa:
    organization: Party
    dpo: Party | None
    representative: Party | None
    lang: str
    generated: date
    digest: str
    controller_rows: tuple[ControllerRow, ...]
    processor_rows: tuple[ProcessorRow, ...]
    backups: str = ""
    security_note: str = field(default="")


def build_ropa(manifest: Manifest, lang: str = "en", today: date | None = None) -> Ropa:
    """The Art. 30 record of `manifest`, in `lang`."""
    org = manifest.organization
    parties = ropa_words(lang).parties
    rows: list[ControllerRow] = []
    processor_rows: list[ProcessorRow] = []
    for key, system in manifest.systems.items():
        if system.role == "processor":
            processor_rows.append(_processor_row(manifest, key, system, lang))
        else:
            rows.extend(_controller_rows(manifest, key, system, lang))
    return Ropa(
        organization=replace(
            _party(manifest, "", org.contact, lang, org.website), name=org.legal_name or org.name
        ),
        dpo=_party(manifest, parties["dpo"], org.dpo, lang) if org.dpo else None,
        representative=(
            _party(manifest, parties["representative"], org.representative, lang)
            if org.representative
            else None
        ),
        lang=lang,
        generated=today or date.today(),
        digest=manifest.digest,
        controller_rows=tuple(rows),
        processor_rows=tuple(processor_rows),
        backups=_backups_text(manifest, lang),
        security_note=manifest.text(manifest.security.description, lang),
    )


def _party(
    manifest: Manifest, role: str, contact: Contact | None, lang: str, url: str | None = None
) -> Party:
    if contact is None:
        return Party(role)
    return Party(
        name=manifest.text(contact.name, lang) or role,
        email=contact.email or "",
        postal=manifest.text(contact.postal, lang),
        phone=contact.phone or "",
        url=contact.url or url or "",
    )


def _controller_rows(
    manifest: Manifest, key: str, system: System, lang: str
) -> Iterable[ControllerRow]:
    shared = _SystemFacts.of(manifest, key, system, lang)
    for purpose in system.purposes:
        declared = manifest.purposes.get(purpose)
        basis = declared.legal_basis if declared else ""
        yield ControllerRow(
            system=key,
            system_name=shared.name,
            purpose=purpose,
            purpose_name=manifest.purpose_name(purpose, lang),
            legal_basis=basis,
            legal_basis_text=_basis_text(
                basis, declared.special_condition if declared else None, lang
            ),
            legitimate_interest=manifest.text(declared.legitimate_interest, lang)
            if declared
            else "",
            subjects=shared.subjects,
            categories=_categories(
                manifest, [c for c in system.collects if purpose in c.purposes], lang
            ),
            recipients=tuple(r for r in shared.recipients if _shares_for(manifest, r.key, purpose)),
            transfers=tuple(t for t in shared.transfers if _transfer_for(manifest, t, purpose)),
            erasure=shared.erasure,
            security=shared.security,
        )


def _processor_row(manifest: Manifest, key: str, system: System, lang: str) -> ProcessorRow:
    shared = _SystemFacts.of(manifest, key, system, lang)
    controller = system.controller
    return ProcessorRow(
        system=key,
        system_name=shared.name,
        controller=manifest.text(controller.name, lang)
        if controller
        else ropa_words(lang).controller_unknown,
        processing=tuple(Named(p, manifest.purpose_name(p, lang)) for p in system.purposes),
        description=manifest.text(system.description, lang),
        subjects=shared.subjects,
        categories=_categories(manifest, system.collects, lang),
        recipients=shared.recipients,
        transfers=shared.transfers,
        erasure=shared.erasure,
        security=shared.security,
    )


@dataclass(frozen=True)
class _SystemFacts:
    """What every row of one system shares."""

    name: str
    subjects: tuple[Named, ...]
    recipients: tuple[RecipientEntry, ...]
    transfers: tuple[Transfer, ...]
    erasure: Erasure | None
    security: tuple[str, ...]

    @classmethod
    def of(cls, manifest: Manifest, key: str, system: System, lang: str) -> _SystemFacts:
        rule = manifest.retention.get(system.retention) if system.retention else None
        return cls(
            name=manifest.text(system.name, lang),
            subjects=tuple(Named(s, _subject_name(manifest, s, lang)) for s in system.subjects),
            recipients=tuple(
                RecipientEntry(k, manifest.text(r.name, lang), r.kind)
                for k, r in manifest.recipients_of(key)
            ),
            transfers=_transfers(manifest, key, system, lang),
            erasure=_erasure(system.retention, rule, lang) if rule and system.retention else None,
            security=tuple(
                _measure(m, lang) for m in (system.security or manifest.security.measures)
            ),
        )


def _subject_name(manifest: Manifest, key: str, lang: str) -> str:
    entry = manifest.taxonomy.subjects.get(key)
    return manifest.text(entry.name, lang) if entry else key


def _categories(manifest: Manifest, collects: Sequence[Collect], lang: str) -> tuple[Named, ...]:
    """Personal data categories collected (non-personal ones are outside Art. 30)."""
    keys = dict.fromkeys(c for col in collects for c in col.categories if manifest.is_personal(c))
    named = []
    for key in keys:
        entry = manifest.category(key)
        named.append(Named(key, manifest.text(entry.name, lang) if entry else key))
    return tuple(named)


def _shares_for(manifest: Manifest, recipient: str, purpose: str) -> bool:
    """A recipient limited to some purposes only receives data collected for those."""
    declared = manifest.recipients[recipient].purposes
    return not declared or purpose in declared


def _transfer_for(manifest: Manifest, transfer: Transfer, purpose: str) -> bool:
    return transfer.recipient is None or _shares_for(manifest, transfer.recipient, purpose)


def _transfers(manifest: Manifest, key: str, system: System, lang: str) -> tuple[Transfer, ...]:
    found: list[Transfer] = []
    for country in system.locations:
        if country not in EEA:
            via = ropa_words(lang).location
            found.append(_transfer(country, via, None, system.safeguard, lang))
    for rkey, recipient in manifest.recipients_of(key):
        for country in recipient.countries:
            if country not in EEA:
                via = manifest.text(recipient.name, lang)
                found.append(_transfer(country, via, rkey, recipient.safeguard, lang))
    return tuple(found)


def _transfer(
    country: str, via: str, recipient: str | None, safeguard: str | None, lang: str
) -> Transfer:
    if safeguard is None and country in ADEQUATE:
        safeguard = "adequacy"
    words = ropa_words(lang)
    text = words.safeguards.get(safeguard, safeguard) if safeguard else words.no_safeguard
    return Transfer(country, _country_name(country, lang), via, recipient, safeguard, text)


def _country_name(code: str, lang: str) -> str:
    try:
        return str(_locale(lang).territories.get(code, code))
    except (UnknownLocaleError, ValueError):
        return code


def _locale(lang: str) -> Locale:
    return Locale.parse(lang.replace("-", "_"))


def _basis_text(basis: str, special: str | None, lang: str) -> str:
    words = ropa_words(lang)
    text: str = words.legal_bases.get(basis, basis or words.not_declared)
    if special:
        text += "; " + words.special(SPECIAL_CONDITIONS.get(special, special))
    return text


def erasure_words(rule: RetentionRule, lang: str) -> str:
    """A retention rule in words: "3 years after the account is closed, then deleted"."""
    words = ropa_words(lang)
    period = duration_words(rule.keep, lang)
    return str(words.erasure(period, words.triggers[rule.after], words.endings[rule.then]))


def _erasure(key: str, rule: RetentionRule, lang: str) -> Erasure:
    text = erasure_words(rule, lang)
    if rule.legal_hold:
        text += "; " + ropa_words(lang).legal_hold
    return Erasure(key, rule.keep.iso, rule.after, rule.then, rule.legal_hold, text)


def _backups_text(manifest: Manifest, lang: str) -> str:
    backups = manifest.backups
    if backups is None:
        return ""
    return str(ropa_words(lang).backups(backups.erasure, duration_words(backups.max_age, lang)))


def _measure(key: str, lang: str) -> str:
    measure: str = ropa_words(lang).measures.get(key, key.replace("_", " "))
    return measure


def duration_words(duration: Duration, lang: str) -> str:
    """`P1Y6M` as "1 year and 6 months" in `lang` (CLDR units; English if CLDR lacks one)."""
    parts = [_unit(getattr(duration, attr), unit, lang) for attr, unit in _UNITS]
    parts = [p for p in parts if p]
    if not parts:
        return _unit(0, "duration-day", lang)
    try:
        return str(format_list(parts, locale=_locale(lang)))
    except (UnknownLocaleError, ValueError):
        return " ".join(parts)


def _unit(value: int, unit: str, lang: str) -> str:
    if not value:
        return ""
    attempts: tuple[tuple[str, Literal["long", "short"]], ...] = (
        (lang, "long"),
        (lang, "short"),
        ("en", "long"),
    )
    for locale, length in attempts:
        try:
            text = str(format_unit(value, unit, length=length, locale=_locale(locale)))
        except (UnknownLocaleError, ValueError):
            continue
        if unit not in text:  # Babel echoes the unit id when the locale lacks the pattern
            return text
    return f"{value} {unit.removeprefix('duration-')}"


# --- output ---------------------------------------------------------------------------------


CSV_COLUMNS = (
    "record",
    "controller",
    "processor",
    "dpo",
    "representative",
    "system",
    "system_name",
    "purposes",
    "legal_basis",
    "data_subjects",
    "personal_data",
    "recipients",
    "third_country_transfers",
    "erasure_time_limit",
    "security_measures",
)


def render(ropa: Ropa, fmt: Format) -> str:
    """The record as CSV (one table), JSON, or a standalone HTML page."""
    if fmt == "csv":
        return to_csv(ropa)
    if fmt == "json":
        return to_json(ropa)
    return to_html(ropa)


def _joined(values: Iterable[str]) -> str:
    return "; ".join(values)


def _csv_row(ropa: Ropa, row: ControllerRow | ProcessorRow) -> list[str]:
    if isinstance(row, ControllerRow):
        controller, processor = ropa.organization.text(), ""
        purposes = row.purpose_name
        basis = row.legal_basis_text + (
            f": {row.legitimate_interest}" if row.legitimate_interest else ""
        )
    else:
        controller, processor = row.controller, ropa.organization.text()
        purposes = _joined(p.name for p in row.processing)
        basis = ""
    return [
        row.record,
        controller,
        processor,
        ropa.dpo.text() if ropa.dpo else "",
        ropa.representative.text() if ropa.representative else "",
        row.system,
        row.system_name,
        purposes,
        basis,
        _joined(s.name for s in row.subjects),
        _joined(c.name for c in row.categories),
        _joined(r.text(ropa.lang) for r in row.recipients),
        _joined(t.text() for t in row.transfers),
        row.erasure.text if row.erasure else "",
        _joined(row.security),
    ]


def to_csv(ropa: Ropa) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ropa_words(ropa.lang).columns
    english = ropa.lang == SOURCE_LANGUAGE
    writer.writerow(CSV_COLUMNS if english else [columns[c] for c in CSV_COLUMNS])
    rows: list[ControllerRow | ProcessorRow] = [*ropa.controller_rows, *ropa.processor_rows]
    for row in rows:
        writer.writerow(_csv_row(ropa, row))
    return out.getvalue()


def to_json(ropa: Ropa) -> str:
    data: dict[str, Any] = {
        "record": ropa_words(ropa.lang).record,
        "generated": ropa.generated.isoformat(),
        "manifest_digest": ropa.digest,
        "language": ropa.lang,
        "controller": asdict(ropa.organization),
        "dpo": asdict(ropa.dpo) if ropa.dpo else None,
        "representative": asdict(ropa.representative) if ropa.representative else None,
        "backups": ropa.backups or None,
        "security_note": ropa.security_note or None,
        "art30_1": [asdict(r) for r in ropa.controller_rows],
        "art30_2": [asdict(r) for r in ropa.processor_rows],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --- HTML -----------------------------------------------------------------------------------

_CSS = """
:root { color: #1a1a1a; background: #fff; font: 1rem/1.5 system-ui, sans-serif; }
body { margin: 0 auto; max-width: 90rem; padding: 1rem; }
a { color: #0b4f9c; }
.skip { position: absolute; left: -999px; }
.skip:focus { position: static; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0 2rem; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding: .5rem 0; }
th, td { border: 1px solid #767676; padding: .4rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #e8eef6; }
tbody th { background: #f6f8fb; }
ul { margin: 0; padding-left: 1.1rem; }
dt { font-weight: 600; }
dd { margin: 0 0 .5rem; }
@media print {
  .skip { display: none; }
  .scroll { overflow: visible; }
  table { font-size: 8pt; page-break-inside: auto; }
  tr { page-break-inside: avoid; }
  a { color: inherit; }
}
"""


def _cell(values: Sequence[str]) -> str:
    if not values:
        return "<td>—</td>"
    if len(values) == 1:
        return f"<td>{escape(values[0])}</td>"
    items = "".join(f"<li>{escape(v)}</li>" for v in values)
    return f"<td><ul>{items}</ul></td>"


def _party_html(label: str, party: Party | None) -> str:
    if party is None:
        return ""
    return f"<dt>{escape(label)}</dt><dd>{escape(party.text())}</dd>"


def _table(caption: str, head: Sequence[str], rows: Iterable[Sequence[Sequence[str]]]) -> str:
    ths = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = []
    for cells in rows:
        first = f'<th scope="row">{escape(" — ".join(cells[0]))}</th>'
        body.append("<tr>" + first + "".join(_cell(c) for c in cells[1:]) + "</tr>")
    return (
        f'<div class="scroll" role="region" tabindex="0" aria-label="{escape(caption)}">'
        f"<table><caption>{escape(caption)}</caption><thead><tr>{ths}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _common_cells(row: ControllerRow | ProcessorRow, lang: str) -> list[list[str]]:
    return [
        [s.name for s in row.subjects],
        [c.name for c in row.categories],
        [r.text(lang) for r in row.recipients],
        [t.text() for t in row.transfers],
        [row.erasure.text] if row.erasure else [],
        list(row.security),
    ]


_COMMON_HEAD = (
    "subjects",
    "data",
    "recipients",
    "transfers",
    "erasure",
    "security",
)


def _heads(lang: str, *keys: str) -> tuple[str, ...]:
    heads = ropa_words(lang).heads
    return tuple(heads[k] for k in (*keys, *_COMMON_HEAD))


def _controller_table(ropa: Ropa) -> str:
    head = _heads(ropa.lang, "system_purpose", "legal_basis")
    rows = []
    for row in ropa.controller_rows:
        basis = [
            row.legal_basis_text,
            *([row.legitimate_interest] if row.legitimate_interest else []),
        ]
        cells = _common_cells(row, ropa.lang)
        rows.append([[row.system_name, row.purpose_name], basis, *cells])
    return _table(ropa_words(ropa.lang).captions["controller"], head, rows)


def _processor_table(ropa: Ropa) -> str:
    head = _heads(ropa.lang, "system", "on_behalf", "processing")
    rows = []
    for row in ropa.processor_rows:
        processing = [p.name for p in row.processing] + (
            [row.description] if row.description else []
        )
        cells = _common_cells(row, ropa.lang)
        rows.append([[row.system_name], [row.controller], processing, *cells])
    return _table(ropa_words(ropa.lang).captions["processor"], head, rows)


def to_html(ropa: Ropa) -> str:
    """A standalone page: semantic tables with captions and header scopes, no JavaScript."""
    words = ropa_words(ropa.lang)
    org = ropa.organization
    parties = (
        _party_html(words.parties["controller"], org)
        + _party_html(words.parties["dpo"], ropa.dpo)
        + _party_html(words.parties["representative"], ropa.representative)
    )
    notes = "".join(f"<p>{escape(n)}</p>" for n in (ropa.backups, ropa.security_note) if n)
    sections = [f"<h2>{escape(words.sections['contacts'])}</h2><dl>{parties}</dl>{notes}"]
    sections.append(f"<h2>{escape(words.sections['controller'])}</h2>{_controller_table(ropa)}")
    if ropa.processor_rows:
        sections.append(f"<h2>{escape(words.sections['processor'])}</h2>{_processor_table(ropa)}")
    title = str(words.title(org.name))
    # The digest is code, not words: escaped with the sentence, then marked up in place.
    marker = "\x00digest\x00"
    generated = escape(str(words.generated(ropa.generated.isoformat(), marker)))
    generated = generated.replace(marker, f"<code>{escape(ropa.digest[:12])}</code>")
    return (
        f'<!doctype html>\n<html lang="{escape(ropa.lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<a class="skip" href="#main">{escape(words.skip)}</a>\n'
        f'<main id="main">\n<h1>{escape(title)}</h1>\n'
        f"<p>{generated}</p>\n"
        + "\n".join(f"<section>{s}</section>" for s in sections)
        + "\n</main>\n</body>\n</html>\n"
    )
