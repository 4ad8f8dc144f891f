"""Restriction, objection and sale/sharing opt-out of a request, as processing limits.

A restricted subject's data is not processed for the purposes concerned (GDPR Art. 18, 21,
CCPA §1798.120). The request jobs write them to the consent layer's `processing_limits`
(`pledge.consent.limits`), the one store the product's decisions read, so what a request sets
is what `policy.decide` honours; an opt-out of sale or sharing is an objection to the
pseudo-purposes `sale` and `sharing`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from pledge.consent.ids import vault_subject
from pledge.consent.limits import active_limits, set_limit
from pledge.policy import SALE, SHARING

#: The purpose of a limit that covers every purpose.
ALL_PURPOSES = "*"
__all__ = ["ALL_PURPOSES", "SALE", "SHARING", "record", "restrictions_for"]


def restrictions_for(session: Session, subject_id: str) -> set[str]:
    """Purposes limited for the subject by any kind (`*`: all of them). Whether a purpose may
    run is `policy.decide`'s answer (the decision API), not a test on this set."""
    return set().union(*active_limits(session, vault_subject(subject_id)).values())


def record(
    session: Session,
    subject_id: str,
    kind: str,
    purposes: Iterable[str],
    request_id: str | None,
) -> list[str]:
    """Set limits of `kind` (idempotent: a purpose already limited so is not added twice)."""
    subject = vault_subject(subject_id)
    existing = active_limits(session, subject).get(kind, frozenset())
    added = []
    for purpose in dict.fromkeys(purposes):
        if purpose in existing:
            continue
        set_limit(
            session,
            subject,
            kind,
            purpose=None if purpose == ALL_PURPOSES else purpose,
            request_id=request_id,
            actor="system",
        )
        added.append(purpose)
    return added
