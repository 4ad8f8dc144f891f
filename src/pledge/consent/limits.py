"""Restriction and objection (GDPR Art. 18 and 21): the hook the request engine fills.

When a restriction or objection request is carried out, the request engine calls
`set_limit` in its own transaction (it writes the audit event here too); lifting a
restriction is another call with `active=False`. Decisions read the newest row per
(kind, purpose); `purpose=None` means every purpose.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from pledge.consent.tables import LIMIT_KINDS, ProcessingLimit
from pledge.store import audit


def set_limit(
    session: Session,
    subject: str,
    kind: str,
    *,
    purpose: str | None = None,
    active: bool = True,
    request_id: str | None = None,
    actor: str,
) -> int:
    """Record a restriction/objection (or its end) for `subject` (`subject:<vault id>`)."""
    if kind not in LIMIT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(LIMIT_KINDS)}")
    row = ProcessingLimit(
        subject=subject,
        kind=kind,
        purpose=purpose,
        active=active,
        request_id=request_id,
        recorded_at=datetime.now(UTC),
        actor=actor,
    )
    session.add(row)
    session.flush()
    action = f"consent.{kind}_{'set' if active else 'lifted'}"
    details = {"subject": subject, "purpose": purpose or "*", "request": request_id}
    audit.append(session, actor, action, "processing_limit", str(row.id), details)
    return row.id
