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

from sqlalchemy import update
from sqlalchemy.orm import Session

from pledge.requests.tables import VerificationCode
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

    The same work whatever the answer: two digests (the code given and a stand-in for a
    missing row), one comparison, one locked read, and for any answer but "ok" one UPDATE
    (matching no row when there is no code), so the time taken does not tell an unknown
    request from a wrong, expired or locked code.
    """
    key = installation_key(session, "verification-code")
    given = _digest(key, request_id, code.strip()[:32])
    stand_in = _digest(key, request_id, "-")
    row = session.get(VerificationCode, request_id, with_for_update=True)
    matches = hmac.compare_digest(given, row.code_hash if row is not None else stand_in)
    result, attempts, locked_until = _judge(row, matches, now)
    if result.outcome == "ok":
        assert row is not None
        session.delete(row)
        session.flush()
        return result
    session.execute(
        update(VerificationCode)
        .where(VerificationCode.request_id == request_id)
        .values(attempts=attempts, locked_until=locked_until)
    )
    return result


def _judge(
    row: VerificationCode | None, matches: bool, now: datetime
) -> tuple[Check, int, datetime | None]:
    """The answer, and the row's attempts and lock after it (unchanged unless a wrong code)."""
    if row is None:
        return Check("missing", 0), 0, None
    attempts, locked_until = row.attempts, row.locked_until
    if locked_until is not None:
        if now < locked_until:
            return Check("locked", 0), attempts, locked_until
        attempts, locked_until = 0, None
    if now >= row.expires_at:
        return Check("expired", MAX_ATTEMPTS - attempts), attempts, locked_until
    if matches:
        return Check("ok", MAX_ATTEMPTS), attempts, locked_until
    attempts += 1
    if attempts >= MAX_ATTEMPTS:
        locked_until = now + LOCKOUT
        return Check("locked", MAX_ATTEMPTS - attempts), attempts, locked_until
    return Check("wrong", MAX_ATTEMPTS - attempts), attempts, locked_until
