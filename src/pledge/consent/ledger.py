"""The consent log proves itself: every record checked against its receipt and the audit chain.

Triggers keep honest code from changing the log, but not someone with the database: SQLite's
`INSERT OR REPLACE` (closed by migration 0006) or PostgreSQL's
`session_replication_role = replica` get past them. So `verify` checks, for every record:

- its receipt: the signature verifies with a published receipt key, and the claims equal the
  stored row (id, subject, mechanism, choices, notice, proof, GPC, time, whose choice);
- its binding to the hash-chained audit log: the `consent.recorded` event written in the same
  transaction names the record and holds the SHA-256 of its receipt; an import's one
  `consent.imported` event holds the count and SHA-256 of its batch's receipts in id order; a
  `consent.receipts_reissued` event does the same for receipts re-signed when device ids
  were hashed.

A changed row breaks its receipt (and its receipt's digest); a deleted row leaves an audit
event naming a record that is not there (or a batch short of records); a row slipped in has
no event; swapping rows changes ids the receipts sign. The audit chain itself is
`pledge.store.audit.verify`'s: `pledge audit verify` runs both. No write path takes a lock
for this: the binding rides on the audit event each write appends anyway (see
docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pledge.consent import receipts
from pledge.consent.importer import IMPORTED
from pledge.consent.records import PERSON, made_by, receipt_digest
from pledge.consent.tables import ConsentImport, ConsentRecord
from pledge.store.db import Store
from pledge.store.tables import AuditEvent

RECORDED = "consent.recorded"
RECORD_TYPE = "consent_record"  # the object type `records.record` audits a record under
REISSUED = "consent.receipts_reissued"
MAX_PROBLEMS = 100


@dataclass(frozen=True)
class Problem:
    record: str  # a record id, or `batch <id>` for an import batch
    reason: str

    def __str__(self) -> str:
        return f"{self.record}: {self.reason}"


@dataclass
class LedgerResult:
    """What `verify` found: the records checked and every problem (the first MAX_PROBLEMS)."""

    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    more: int = 0  # problems found beyond those listed

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, record: str, reason: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(record, reason))
        else:
            self.more += 1

    def summary(self) -> str:
        if self.ok:
            return f"consent log ok: {self.records} records match their receipts and audit events"
        more = f" (and {self.more} more)" if self.more else ""
        return f"consent log FAILED: {len(self.problems)} problem(s){more}"


@dataclass
class _Bindings:
    """What the audit log says about the consent log."""

    recorded: dict[str, str | None] = field(default_factory=dict)  # record -> receipt sha256
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)  # batch -> event details
    reissues: list[dict[str, Any]] = field(default_factory=list)
    reissued: dict[str, int] = field(default_factory=dict)  # record -> index in reissues


def published_keys(data_dir: Path) -> dict[str, Any]:
    """The receipt keys as a JWKS, without creating a key where there is none."""
    if (data_dir / receipts.KEY_FILE).exists():
        return receipts.ReceiptSigner(data_dir).jwks()
    return {"keys": [k.jwk() for k in receipts.read_published(data_dir / receipts.JWKS_FILE)]}


def verify(store: Store) -> LedgerResult:
    """Check every consent record against its receipt and the audit log (see the module)."""
    jwks = published_keys(Path(store.settings.data_dir))
    result = LedgerResult()
    with store.reader() as session:
        bindings = _bindings(session)
        batch_of = dict(session.execute(select(ConsentImport.record_id, ConsentImport.batch)).all())
        seen: dict[str, list[tuple[str, str]]] = {}  # batch -> (id, receipt) in id order
        regrouped: dict[int, list[str]] = {}  # reissue -> receipts in id order
        present: set[str] = set()
        query = select(ConsentRecord).order_by(ConsentRecord.id).execution_options(yield_per=1000)
        for row in session.scalars(query):
            result.records += 1
            present.add(row.id)
            _check_receipt(row, jwks, result)
            _check_binding(row, bindings, batch_of, seen, regrouped, result)
    _check_missing(bindings, batch_of, present, seen, regrouped, result)
    return result


def _bindings(session: Session) -> _Bindings:
    found = _Bindings()
    query = (
        select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id, AuditEvent.details)
        .where(AuditEvent.action.in_((RECORDED, IMPORTED, REISSUED)))
        .order_by(AuditEvent.seq)
    )
    for action, object_type, object_id, text in session.execute(query):
        details = json.loads(text)
        if action == RECORDED and object_type == RECORD_TYPE and object_id:
            found.recorded[object_id] = details.get("receipt_sha256")
        elif action == IMPORTED and object_id:
            found.batches[object_id] = details
        elif action == REISSUED:
            for record in details.get("records", []):
                found.reissued[record] = len(found.reissues)
            found.reissues.append(details)
    return found


def expected_claims(row: ConsentRecord) -> dict[str, Any]:
    """The receipt claims a record's columns fix (the rest name the controller and issuer)."""
    return {
        "jti": row.id,
        "consentReceiptID": row.id,
        "sub": row.subject,
        "piiPrincipalId": row.subject,
        "collectionMethod": row.mechanism,
        "jurisdiction": row.jurisdiction,
        "language": row.language,
        "notice": {"id": row.notice_id, "version": row.notice_version},
        "choices": row.choices,
        "proof": {"ipPrefix": row.ip_prefix, "userAgentSha256": row.user_agent_sha256},
        "gpc": {"signal": row.gpc_signal, "applied": row.gpc_applied},
    }


def _check_receipt(row: ConsentRecord, jwks: Mapping[str, Any], result: LedgerResult) -> None:
    claims = receipts.verify(row.receipt, jwks)
    if claims is None:
        result.add(row.id, "the receipt's signature does not verify with a published key")
        return
    expected = expected_claims(row)
    if "reissued" not in claims:  # a re-signed receipt's iat is its re-signing
        expected["iat"] = int(row.recorded_at.timestamp())
    if "madeBy" in claims or row.made_by is not None:
        expected["madeBy"] = made_by(row)
        expected["onBehalf"] = made_by(row) != PERSON
    differ = sorted(k for k, v in expected.items() if claims.get(k) != v)
    if differ:
        result.add(row.id, f"the stored row differs from its receipt in {', '.join(differ)}")


def _check_binding(
    row: ConsentRecord,
    bindings: _Bindings,
    batch_of: Mapping[str, str],
    seen: dict[str, list[tuple[str, str]]],
    regrouped: dict[int, list[str]],
    result: LedgerResult,
) -> None:
    if row.id in bindings.reissued:
        regrouped.setdefault(bindings.reissued[row.id], []).append(row.receipt)
    batch = batch_of.get(row.id)
    if batch is not None:
        seen.setdefault(batch, []).append((row.id, row.receipt))
        if batch not in bindings.batches:
            result.add(row.id, f"import batch {batch} has no consent.imported audit event")
        return
    if row.id not in bindings.recorded:
        result.add(row.id, "no audit event records it: it was added outside Pledge")
        return
    digest = bindings.recorded[row.id]
    if (
        digest is not None
        and row.id not in bindings.reissued
        and digest != receipt_digest(row.receipt)
    ):
        result.add(row.id, "its receipt is not the one its audit event holds: it was replaced")


def _digest(receipts_in_order: Iterable[str]) -> str:
    """As the importer computes `receipts_sha256`: receipts in id order, newline-joined."""
    return hashlib.sha256("\n".join(receipts_in_order).encode()).hexdigest()


def _check_missing(
    bindings: _Bindings,
    batch_of: Mapping[str, str],
    present: set[str],
    seen: Mapping[str, list[tuple[str, str]]],
    regrouped: Mapping[int, list[str]],
    result: LedgerResult,
) -> None:
    for record in bindings.recorded:
        if record not in present:
            result.add(record, "named by its consent.recorded audit event but missing")
    for record, batch in batch_of.items():
        if record not in present:
            result.add(record, f"listed in import batch {batch} but missing from the log")
    for batch, details in bindings.batches.items():
        rows = seen.get(batch, [])
        if len(rows) != details.get("imported"):
            result.add(
                f"batch {batch}",
                f"its audit event counts {details.get('imported')} records, the log holds "
                f"{len(rows)} (records {details.get('first_record')}…{details.get('last_record')})",
            )
        elif not any(r in bindings.reissued for r, _ in rows) and _digest(
            receipt for _, receipt in rows
        ) != details.get("receipts_sha256"):
            result.add(f"batch {batch}", "its receipts are not those its audit event holds")
    for index, details in enumerate(bindings.reissues):
        got = regrouped.get(index, [])
        if len(got) != len(details.get("records", [])) or _digest(got) != details.get(
            "receipts_sha256"
        ):
            result.add("reissue", "re-signed receipts differ from those its audit event holds")
