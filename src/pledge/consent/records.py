"""The proof-of-consent log: append a choice (with its receipt and an audit event), read the
log back, and derive the current state from it.

The log is the only truth: there is no "current consent" table to drift from it. The state
of a subject is the fold of their records in id (= time) order, read through the manifest
that is in force now (a category's choice applies to the purposes its trackers serve).
Field names follow ISO/IEC TS 27560 and the Kantara consent receipt where they fit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pledge.consent.gpc import apply as apply_gpc
from pledge.consent.ids import hash_user_agent, is_device_ref, truncate_ip, uuid7
from pledge.consent.limits import fold
from pledge.consent.notice import notice_ref, tracker_categories
from pledge.consent.receipts import ReceiptSigner
from pledge.consent.tables import MECHANISMS, ConsentRecord, ProcessingLimit
from pledge.errors import PledgeError
from pledge.manifest.model import Manifest
from pledge.policy import consent_tables
from pledge.store import audit

RECEIPT_VERSION = "pledge-consent-receipt/1"
ALWAYS_ON = "strictly_necessary"
#: `made_by` of a choice the person made themselves (their device, their signed link).
PERSON = "person"


class ChoiceError(PledgeError):
    """A choice that does not fit the manifest; `errors` name where (JSON pointer) and why."""

    status = 422

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['pointer']}: {e['detail']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class NewChoice:
    """A choice as received, before validation. `subject` is a reference (`device:dv1-…` or
    `subject:…`, see `pledge.consent.subjects`); `made_by` says whose choice it is."""

    subject: str
    mechanism: str
    jurisdiction: str
    language: str
    collector: str
    purposes: Mapping[str, bool] = field(default_factory=dict)
    categories: Mapping[str, bool] = field(default_factory=dict)
    ip: str | None = None
    user_agent: str | None = None
    gpc_signal: bool = False
    made_by: str = PERSON


@dataclass(frozen=True)
class Recorded:
    id: str
    receipt: str
    payload: dict[str, Any]
    gpc_applied: bool


def validate(manifest: Manifest, choice: NewChoice) -> None:
    """Raise ChoiceError naming every field that does not fit the manifest."""
    errors: list[dict[str, str]] = []
    categories = tracker_categories(manifest)
    if choice.mechanism not in MECHANISMS:
        errors.append({"pointer": "/mechanism", "detail": f"one of {', '.join(MECHANISMS)}"})
    if choice.jurisdiction not in (*manifest.jurisdictions, "global"):
        known = ", ".join(manifest.jurisdictions)
        errors.append({"pointer": "/jurisdiction", "detail": f"not declared; one of {known}"})
    if choice.language not in manifest.languages:
        known = ", ".join(manifest.languages)
        errors.append({"pointer": "/language", "detail": f"not declared; one of {known}"})
    for key, value in choice.categories.items():
        where = f"/categories/{_escape(key)}"
        if key not in categories:
            known = ", ".join(categories)
            errors.append({"pointer": where, "detail": f"unknown tracker category; one of {known}"})
        elif key == ALWAYS_ON and not value:
            errors.append({"pointer": where, "detail": "strictly necessary is always on"})
    for key in choice.purposes:
        if key not in manifest.purposes:
            errors.append({"pointer": f"/purposes/{_escape(key)}", "detail": "unknown purpose"})
    if choice.mechanism == "withdrawal" and any(
        v for v in (*choice.categories.values(), *choice.purposes.values())
    ):
        errors.append({"pointer": "/mechanism", "detail": "a withdrawal only switches off"})
    if choice.mechanism == "custom" and not (choice.categories or choice.purposes):
        errors.append({"pointer": "/categories", "detail": "a custom choice names something"})
    if errors:
        raise ChoiceError(errors)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def normalise(manifest: Manifest, choice: NewChoice) -> tuple[dict[str, bool], dict[str, bool]]:
    """Purposes and categories as recorded: "accept all"/"reject all" spelled out in full."""
    optional = [c for c in tracker_categories(manifest) if c != ALWAYS_ON]
    purposes, categories = dict(choice.purposes), dict(choice.categories)
    if choice.mechanism in ("accept_all", "reject_all"):
        categories = dict.fromkeys(optional, choice.mechanism == "accept_all")
    elif choice.mechanism == "withdrawal" and not (purposes or categories):
        categories = dict.fromkeys(optional, False)
        purposes = {k: False for k, p in manifest.purposes.items() if p.is_consent}
    elif choice.mechanism == "gpc" and not (purposes or categories):
        categories = {}
    categories.pop(ALWAYS_ON, None)
    return purposes, categories


def record(
    session: Session,
    manifest: Manifest,
    signer: ReceiptSigner,
    choice: NewChoice,
    issuer: str,
) -> Recorded:
    """Validate, append one record with its signed receipt, and audit it, in `session`."""
    if choice.subject.startswith("device:") and not is_device_ref(choice.subject):
        raise ValueError("a device is named by its reference (pledge.consent.subjects)")
    validate(manifest, choice)
    purposes, categories = normalise(manifest, choice)
    outcome = apply_gpc(
        manifest, choice.jurisdiction, choice.mechanism, purposes, categories, choice.gpc_signal
    )
    chosen = replace(choice, purposes=outcome.purposes, categories=outcome.categories)
    row = new_row(chosen, uuid7(), notice_ref(manifest), gpc_applied=outcome.applied)
    payload = receipt_payload(manifest, row, issuer)
    row.receipt = signer.sign(payload)
    session.add(row)
    session.flush()
    details = {
        "subject": choice.subject,
        "mechanism": choice.mechanism,
        "jurisdiction": choice.jurisdiction,
        "notice_version": row.notice_version,
        "gpc_applied": outcome.applied,
        "granted": sorted(k for k, v in {**outcome.categories, **outcome.purposes}.items() if v),
        "on_behalf": choice.made_by != PERSON,
        "receipt_sha256": receipt_digest(row.receipt),
    }
    audit.append(session, choice.collector, "consent.recorded", "consent_record", row.id, details)
    return Recorded(row.id, row.receipt, payload, outcome.applied)


def new_row(
    choice: NewChoice, record_id: str, notice: tuple[str, str], *, gpc_applied: bool = False
) -> ConsentRecord:
    """The log row of `choice` as it is to be recorded (validated, normalised), timed now,
    neither signed nor added: `record` appends one, the importer bulk-inserts many."""
    notice_id, notice_version = notice
    return ConsentRecord(
        id=record_id,
        recorded_at=datetime.now(UTC),
        subject=choice.subject,
        mechanism=choice.mechanism,
        choices={"categories": dict(choice.categories), "purposes": dict(choice.purposes)},
        notice_id=notice_id,
        notice_version=notice_version,
        jurisdiction=choice.jurisdiction,
        language=choice.language,
        ip_prefix=truncate_ip(choice.ip),
        user_agent_sha256=hash_user_agent(choice.user_agent),
        gpc_signal=choice.gpc_signal,
        gpc_applied=gpc_applied,
        collector=choice.collector,
        made_by=choice.made_by[:200],
        receipt="",
    )


def receipt_digest(receipt: str) -> str:
    """SHA-256 of a receipt, as its audit event holds it (binds the record to the chain)."""
    return hashlib.sha256(receipt.encode()).hexdigest()


def made_by(row: ConsentRecord) -> str:
    """Whose choice a record is; records from before `made_by` existed: from the collector."""
    if row.made_by:
        return row.made_by
    return PERSON if row.collector == "visitor" else f"staff:{row.collector}"


def receipt_payload(manifest: Manifest, row: ConsentRecord, issuer: str) -> dict[str, Any]:
    """The receipt's claims: Kantara consent receipt names, JWT registered claims."""
    when = int(row.recorded_at.timestamp())
    return {
        "iss": issuer,
        "jti": row.id,
        "iat": when,
        "sub": row.subject,
        "version": RECEIPT_VERSION,
        "consentReceiptID": row.id,
        "consentTimestamp": when,
        "collectionMethod": row.mechanism,
        "piiPrincipalId": row.subject,
        "piiControllers": [
            {
                "piiController": manifest.organization.name,
                "email": manifest.organization.contact.email,
            }
        ],
        "jurisdiction": row.jurisdiction,
        "language": row.language,
        "notice": {"id": row.notice_id, "version": row.notice_version},
        "choices": row.choices,
        "proof": {"ipPrefix": row.ip_prefix, "userAgentSha256": row.user_agent_sha256},
        "gpc": {"signal": row.gpc_signal, "applied": row.gpc_applied},
        "madeBy": made_by(row),
        "onBehalf": made_by(row) != PERSON,
    }


def records_of(session: Session, subject: str) -> Sequence[ConsentRecord]:
    """Every record of `subject`, oldest first."""
    query = select(ConsentRecord).where(ConsentRecord.subject == subject)
    return session.scalars(query.order_by(ConsentRecord.id)).all()


@dataclass(frozen=True)
class Derived:
    """A subject's current choices, folded from the log (and limits from the requests)."""

    consents: dict[str, bool]
    categories: dict[str, bool]
    jurisdiction: str | None
    gpc: bool
    notice_version: str | None
    last_record: str | None
    restricted: frozenset[str]
    objected: frozenset[str]


def derive(
    manifest: Manifest, rows: Iterable[ConsentRecord], limits: Iterable[ProcessingLimit] = ()
) -> Derived:
    """Fold the log: later records override earlier ones per category and per purpose.

    A category's choice applies to every purpose its trackers serve (a purpose served by two
    categories runs only if both were allowed in that record); an explicit purpose choice in
    the same record wins over its category's.
    """
    by_category = consent_tables(manifest).category_purposes
    consents: dict[str, bool] = {}
    categories: dict[str, bool] = {}
    jurisdiction = notice_version = last = None
    gpc = False
    for row in rows:
        chosen = row.choices
        record_purposes: dict[str, bool] = {}
        for category, value in dict(chosen.get("categories", {})).items():
            categories[category] = bool(value)
            for purpose in by_category.get(category, ()):
                record_purposes[purpose] = record_purposes.get(purpose, True) and bool(value)
        record_purposes.update({k: bool(v) for k, v in dict(chosen.get("purposes", {})).items()})
        consents.update(record_purposes)
        jurisdiction, notice_version, last = row.jurisdiction, row.notice_version, row.id
        gpc = row.gpc_applied
    active = fold(limits)
    return Derived(
        consents,
        categories,
        jurisdiction,
        gpc,
        notice_version,
        last,
        active["restriction"],
        active["objection"],
    )


def record_as_dict(row: ConsentRecord) -> dict[str, Any]:
    """A record for the API and the export (ISO/IEC TS 27560-style names)."""
    return {
        "id": row.id,
        "recorded_at": row.recorded_at.isoformat().replace("+00:00", "Z"),
        "subject": row.subject,
        "mechanism": row.mechanism,
        "choices": row.choices,
        "notice": {"id": row.notice_id, "version": row.notice_version},
        "jurisdiction": row.jurisdiction,
        "language": row.language,
        "proof": {"ip_prefix": row.ip_prefix, "user_agent_sha256": row.user_agent_sha256},
        "gpc": {"signal": row.gpc_signal, "applied": row.gpc_applied},
        "collector": row.collector,
        "made_by": made_by(row),
        "on_behalf": made_by(row) != PERSON,
        "receipt": row.receipt,
    }


def export_page(session: Session, after: str | None, limit: int) -> Sequence[ConsentRecord]:
    """Records after id `after` (keyset paging: the log is append-only and ids time-ordered)."""
    query = select(ConsentRecord).order_by(ConsentRecord.id).limit(limit)
    if after:
        query = query.where(ConsentRecord.id > after)
    return session.scalars(query).all()
