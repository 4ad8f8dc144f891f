"""`pledge consent hash-device-ids`: device ids stored in clear before 0006 become references.

The key of the references lives in the vault, which migrations do not open, so this is a
command (run it once after `pledge db upgrade`; running it again changes nothing). In one
transaction it lifts the append-only triggers of `consent_records` and `processing_limits`
(the only sanctioned rewrite of the log), replaces each clear `device:<id>` by its reference,
re-signs the record's receipt with the same claims but the new subject (`iat` is the
re-signing, `reissued` says why; `consentTimestamp` keeps when the person chose), puts the
triggers back and writes one `consent.receipts_reissued` audit event holding the record ids
and the SHA-256 of the new receipts, which `pledge.consent.ledger` checks them against.

Audit events written before hold the clear ids and stay as they are: the hash chain forbids
rewriting them (docs/consent.md says what that means).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from pledge.consent import subjects
from pledge.consent.ids import is_device_ref
from pledge.consent.ledger import REISSUED
from pledge.consent.receipts import b64url_decode, signer_for
from pledge.consent.tables import ConsentRecord, ProcessingLimit
from pledge.store import audit
from pledge.store.db import Store, store_of
from pledge.store.vault import Vault

REASON = "device id replaced by its keyed reference"
_TABLES = ("consent_records", "processing_limits")


def hash_device_ids(store: Store, *, actor: str) -> tuple[int, int]:
    """Rewrite clear device ids; returns (records, limits) changed."""
    vault = store.vault  # opened before the transaction (SQLite's one writer)
    signer = signer_for(Path(store.settings.data_dir))
    with store.transaction() as session:
        rows = _clear(session, ConsentRecord.subject, ConsentRecord)
        limits = _clear(session, ProcessingLimit.subject, ProcessingLimit)
        if not rows and not limits:
            return 0, 0
        new: list[str] = []
        with _triggers_lifted(session):
            for row in rows:
                subject = subjects.reference(vault, row.subject)
                receipt = signer.sign(_claims(row.receipt, subject))
                session.execute(
                    update(ConsentRecord)
                    .where(ConsentRecord.id == row.id)
                    .values(subject=subject, receipt=receipt)
                )
                new.append(receipt)
            _rehash_limits(session, vault, limits)
        details = {
            "records": [row.id for row in rows],
            "receipts_sha256": hashlib.sha256("\n".join(new).encode()).hexdigest(),
            "limits": len(limits),
            "reason": REASON,
        }
        audit.append(session, actor, REISSUED, "consent_log", None, details)
    return len(rows), len(limits)


def _clear(session: Session, column: Any, model: Any) -> list[Any]:
    found = session.scalars(select(model).where(column.like("device:%")).order_by(model.id))
    return [row for row in found if not is_device_ref(row.subject)]


def _claims(receipt: str, subject: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(b64url_decode(receipt.split(".")[1]))
    now = datetime.now(UTC)
    claims.update(sub=subject, piiPrincipalId=subject, iat=int(now.timestamp()))
    claims["reissued"] = {"at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "reason": REASON}
    return claims


def _rehash_limits(session: Session, vault: Vault, limits: list[ProcessingLimit]) -> None:
    for limit in limits:
        session.execute(
            update(ProcessingLimit)
            .where(ProcessingLimit.id == limit.id)
            .values(subject=subjects.reference(vault, limit.subject))
        )


@contextmanager
def _triggers_lifted(session: Session) -> Iterator[None]:
    """The UPDATE triggers off for this transaction only (DDL is transactional on both)."""
    if store_of(session).is_postgres:
        for table in _TABLES:
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        yield
        for table in _TABLES:
            session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))
        return
    names = [f"{table}_no_update" for table in _TABLES]
    saved = [
        session.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"), {"n": n}
        ).scalar_one()
        for n in names
    ]
    for name in names:
        session.execute(text(f"DROP TRIGGER {name}"))
    yield
    for sql in saved:
        session.execute(text(sql))
