"""API keys: created once, shown once, stored as a hash, checked in constant time, revocable.

A key reads `plg_<id>_<secret>`. The id is public (it appears in logs, the audit log and
`pledge keys list`); the secret is 256 random bits, so a plain SHA-256 of the whole key is
enough to store — no salt or slow hash is needed against guessing, and checking a key needs no
other secret. Every creation and revocation is an audit event in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pledge.errors import NotFoundError
from pledge.store import audit
from pledge.store.tables import ApiKey, utcnow

ROLES = ("admin", "privacy_officer", "support_agent", "auditor", "service")
PREFIX = "plg"
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_DUMMY_HASH = hashlib.sha256(b"pledge/no-such-key").hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    """What may be shown about a key: everything but its secret."""

    id: str
    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def of(cls, row: ApiKey) -> KeyRecord:
        return cls(row.id, row.name, row.role, row.created_at, row.created_by, row.revoked_at)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def create(
    session: Session, name: str, role: str, *, actor: str = "system"
) -> tuple[KeyRecord, str]:
    """Create a key; returns its record and the full secret, which is never shown again."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("a key name has 1 to 200 characters")
    key_id = _new_id()
    secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        id=key_id,
        name=name,
        role=role,
        secret_hash=_hash(secret),
        created_at=utcnow(),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.append(session, actor, "api_key.created", "api_key", key_id, {"role": role})
    return KeyRecord.of(row), secret


def verify(session: Session, secret: str) -> KeyRecord | None:
    """The active key `secret` belongs to, or None; timing does not tell which part was wrong."""
    parts = secret.split("_", 2) if isinstance(secret, str) else []
    key_id = parts[1] if len(parts) == 3 and parts[0] == PREFIX else ""
    row = session.get(ApiKey, key_id) if 0 < len(key_id) <= 16 else None
    expected = row.secret_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(expected, _hash(secret if isinstance(secret, str) else ""))
    if row is None or not matches or row.revoked_at is not None:
        return None
    return KeyRecord.of(row)


def revoke(session: Session, key_id: str, *, actor: str = "system") -> KeyRecord:
    """Revoke a key (idempotent: revoking again changes nothing and records nothing)."""
    row = session.get(ApiKey, key_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"API key {key_id!r} does not exist; see `pledge keys list`")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit.append(session, actor, "api_key.revoked", "api_key", key_id, {"role": row.role})
    return KeyRecord.of(row)


def list_keys(session: Session, *, include_revoked: bool = True) -> list[KeyRecord]:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [KeyRecord.of(row) for row in session.scalars(query)]
