"""Restriction, objection and sale/sharing opt-out, as flags the policy layer honours.

A restricted subject's data is not processed for the purposes concerned (GDPR Art. 18, 21,
CCPA §1798.120). The flags are written by the request jobs and read here, so the consent
service's `decide()` and the product (through the API) ask one function.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from pledge.requests.model import SubjectFlag
from pledge.store.tables import utcnow

#: The purpose of a flag that covers every purpose.
ALL_PURPOSES = "*"
#: Pseudo-purposes an opt-out of sale or sharing sets (CCPA "sale", CPRA "sharing").
SALE, SHARING = "sale", "sharing"


def restrictions_for(session: Session, subject_id: str) -> set[str]:
    """Purposes the subject's data must not be processed for (`*` means all of them)."""
    query = select(SubjectFlag.purpose).where(
        SubjectFlag.subject_id == subject_id, SubjectFlag.lifted_at.is_(None)
    )
    return set(session.execute(query).scalars())


def is_restricted(session: Session, subject_id: str, purpose: str) -> bool:
    """Whether `purpose` (or a parent of it, or every purpose) is restricted for the subject."""
    flags = restrictions_for(session, subject_id)
    if ALL_PURPOSES in flags:
        return True
    parts = purpose.split(".")
    return any(".".join(parts[:i]) in flags for i in range(1, len(parts) + 1))


def record(
    session: Session,
    subject_id: str,
    kind: str,
    purposes: Iterable[str],
    request_id: str | None,
) -> list[str]:
    """Set flags (idempotent: a purpose already flagged by this kind is not added twice)."""
    existing = set(
        session.execute(
            select(SubjectFlag.purpose).where(
                SubjectFlag.subject_id == subject_id,
                SubjectFlag.kind == kind,
                SubjectFlag.lifted_at.is_(None),
            )
        ).scalars()
    )
    added = []
    for purpose in dict.fromkeys(purposes):
        if purpose in existing:
            continue
        session.add(
            SubjectFlag(
                subject_id=subject_id,
                kind=kind,
                purpose=purpose,
                request_id=request_id,
                created_at=utcnow(),
            )
        )
        added.append(purpose)
    session.flush()
    return added
