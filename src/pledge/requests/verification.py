"""One-time e-mail codes that prove a person controls the address a request names (P-G8).

A code is 8 random digits, valid for `CODE_TTL`. Only an HMAC of it is stored, keyed with an
installation secret and bound to the request, so a copy of the database does not reveal codes
(8 digits are too few to hide behind a plain hash). `MAX_ATTEMPTS` wrong codes lock the request
for `LOCKOUT`; a lock cannot be ended by the right code, so guessing gains nothing. Codes are
compared in constant time. Every request gets a code the same way, whether or not the person
is known to the organisation, so neither the answers nor their timing tell the two apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from pledge.requests.model import VerificationCode
from pledge.store.db import store_of

CODE_DIGITS = 8
CODE_TTL = timedelta(minutes=30)
MAX_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
MAX_SENDS = 5

Outcome = Literal["ok", "wrong", "expired", "locked", "missing"]


def installation_key(session: Session, label: str) -> bytes:
    """A secret of this installation for `label`, stable across processes and rotations."""
    return store_of(session).vault.derive_key(f"requests/{label}")


def new_code() -> str:
    """A uniformly random code of `CODE_DIGITS` digits (leading zeros kept)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _digest(key: bytes, request_id: str, code: str) -> str:
    message = f"{request_id}\x00{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def issue(session: Session, request_id: str, now: datetime) -> str:
    """Store a fresh code for the request (replacing any earlier one) and return it."""
    code = new_code()
    digest = _digest(installation_key(session, "verification-code"), request_id, code)
    row = session.get(VerificationCode, request_id)
    if row is None:
        session.add(
            VerificationCode(
                request_id=request_id,
                code_hash=digest,
                expires_at=now + CODE_TTL,
                attempts=0,
                sent_count=1,
                created_at=now,
            )
        )
    else:
        row.code_hash = digest
        row.expires_at = now + CODE_TTL
        row.attempts = 0
        row.sent_count += 1
    session.flush()
    return code


def may_resend(session: Session, request_id: str, now: datetime) -> bool:
    """Whether another code may be sent: not locked, and under `MAX_SENDS` in all."""
    row = session.get(VerificationCode, request_id)
    if row is None:
        return True
    if row.locked_until is not None and now < row.locked_until:
        return False
    return row.sent_count < MAX_SENDS


@dataclass(frozen=True)
class Check:
    outcome: Outcome
    attempts_left: int


def check(session: Session, request_id: str, code: str, now: datetime) -> Check:
    """Check `code`; counts a failure, locks after `MAX_ATTEMPTS`, burns the code on success.

    The digest is always computed and compared, also when the answer is already known to be
    "locked" or "expired", so the time taken does not say which it is.
    """
    key = installation_key(session, "verification-code")
    given = _digest(key, request_id, code.strip()[:32])
    row = session.get(VerificationCode, request_id, with_for_update=True)
    stored = row.code_hash if row is not None else _digest(key, request_id, "-")
    matches = hmac.compare_digest(given, stored)
    if row is None:
        return Check("missing", 0)
    if row.locked_until is not None:
        if now < row.locked_until:
            return Check("locked", 0)
        row.locked_until = None
        row.attempts = 0
    if now >= row.expires_at:
        return Check("expired", MAX_ATTEMPTS - row.attempts)
    if not matches:
        row.attempts += 1
        if row.attempts >= MAX_ATTEMPTS:
            row.locked_until = now + LOCKOUT
        session.flush()
        return Check("wrong" if row.locked_until is None else "locked", MAX_ATTEMPTS - row.attempts)
    session.delete(row)
    session.flush()
    return Check("ok", MAX_ATTEMPTS)
