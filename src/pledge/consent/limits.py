"""Restriction, objection, opt-outs and limits: the one store of processing limits.

When a restriction, objection or opt-out request is carried out, the request jobs call
`set_limit` in their own transaction (it writes the audit event here too); lifting a
restriction is another call with `active=False`. Decisions read the newest row per
(kind, purpose); `purpose=None` means every purpose. An opt-out of sale or sharing (CCPA
§1798.120) is an objection to the pseudo-purposes `sale` and `sharing`, which
`policy.decide` applies to every purpose the manifest marks as sale or sharing; a limit on the
use of sensitive personal information (§1798.121) is an objection to the pseudo-purpose
`sensitive`, which it applies to every purpose using a sensitive category beyond the uses the
law permits (`policy.limitable_sensitive_purposes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pledge.consent.ids import is_device_ref
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
    """Record a restriction/objection (or its end) for `subject` (`subject:<vault id>`, or a
    device's keyed reference: never a clear device id, which is a visitor's credential)."""
    if kind not in LIMIT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(LIMIT_KINDS)}")
    if subject.startswith("device:") and not is_device_ref(subject):
        raise ValueError("a device is named by its reference (pledge.consent.subjects)")
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


def fold(limits: Iterable[ProcessingLimit]) -> dict[str, frozenset[str]]:
    """Active purposes per kind (`*` for all), the newest row per (kind, purpose) winning."""
    latest: dict[tuple[str, str | None], bool] = {}
    for limit in limits:
        latest[(limit.kind, limit.purpose)] = limit.active
    return {
        kind: frozenset(p or "*" for (k, p), on in latest.items() if on and k == kind)
        for kind in LIMIT_KINDS
    }


def limits_of(session: Session, subject: str) -> list[ProcessingLimit]:
    """Every limit row of `subject`, oldest first."""
    query = select(ProcessingLimit).where(ProcessingLimit.subject == subject)
    return list(session.scalars(query.order_by(ProcessingLimit.id)))


def active_limits(session: Session, subject: str) -> Mapping[str, frozenset[str]]:
    return fold(limits_of(session, subject))
