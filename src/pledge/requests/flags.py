"""Restriction, objection, sale/sharing opt-out and sensitive-data limit, as processing limits.

A restricted subject's data is not processed for the purposes concerned (GDPR Art. 18, 21,
CCPA §1798.120, §1798.121). The request jobs write them to the consent layer's
`processing_limits` (`pledge.consent.limits`), the one store the product's decisions read, so
what a request sets is what `policy.decide` honours; an opt-out of sale or sharing is an
objection to the pseudo-purposes `sale` and `sharing`, a limit on the use of sensitive
personal information one to the pseudo-purpose `sensitive`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from pledge.consent.ids import vault_subject
from pledge.consent.limits import active_limits, set_limit
from pledge.policy import SALE, SENSITIVE, SHARING

#: The purpose of a limit that covers every purpose.
ALL_PURPOSES = "*"
#: Request kinds whose limit is an objection to pseudo-purposes, whatever the person chose.
_PSEUDO = {
    "opt_out_sale_sharing": (SALE, SHARING),
    "limit_sensitive": (SENSITIVE,),
}
__all__ = [
    "ALL_PURPOSES",
    "SALE",
    "SENSITIVE",
    "SHARING",
    "limit_for",
    "record",
    "restrictions_for",
]


def limit_for(kind: str, purposes: Iterable[str]) -> tuple[str, list[str]]:
    """The limit kind and purposes a request of `kind` sets; `purposes` are the person's
    choice (none: every purpose), used by restriction and objection."""
    pseudo = _PSEUDO.get(kind)
    if pseudo is not None:
        return "objection", list(pseudo)
    return kind, [p for p in purposes if p] or [ALL_PURPOSES]


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
