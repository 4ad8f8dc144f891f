"""Programme participation (P-S6): joins and leaves per organisation or installation.

Append-only like the consent log; the newest row per (programme, scope) is the state, and
with no row the manifest's default for the jurisdiction applies (`policy.programme_default`).
An installation's own choice wins over its organisation's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pledge.consent.tables import SCOPE_KINDS, ProgrammeParticipation
from pledge.errors import NotFoundError
from pledge.manifest.model import Manifest
from pledge.store import audit


@dataclass(frozen=True)
class Scope:
    organisation: str | None = None
    installation: str | None = None


def set_participation(
    session: Session,
    manifest: Manifest,
    programme: str,
    scope_kind: str,
    scope_id: str,
    joined: bool,
    actor: str,
) -> int:
    """Record a join or leave (audited in the same transaction); returns the row id."""
    if programme not in manifest.programs:
        raise NotFoundError(f"no programme {programme!r} in the manifest")
    if scope_kind not in SCOPE_KINDS:
        raise ValueError(f"scope must be one of {', '.join(SCOPE_KINDS)}")
    row = ProgrammeParticipation(
        programme=programme,
        scope_kind=scope_kind,
        scope_id=scope_id,
        joined=joined,
        recorded_at=datetime.now(UTC),
        actor=actor,
    )
    session.add(row)
    session.flush()
    action = "programme.joined" if joined else "programme.left"
    details = {"programme": programme, "scope": scope_kind, "scope_id": scope_id}
    audit.append(session, actor, action, "programme", programme, details)
    return row.id


def participation(session: Session, programme: str, scope: Scope) -> bool | None:
    """The explicit choice for `scope` (installation first), or None for the default."""
    for kind, scope_id in (
        ("installation", scope.installation),
        ("organisation", scope.organisation),
    ):
        if not scope_id:
            continue
        query = (
            select(ProgrammeParticipation.joined)
            .where(
                ProgrammeParticipation.programme == programme,
                ProgrammeParticipation.scope_kind == kind,
                ProgrammeParticipation.scope_id == scope_id,
            )
            .order_by(ProgrammeParticipation.id.desc())
            .limit(1)
        )
        found = session.execute(query).scalar_one_or_none()
        if found is not None:
            return bool(found)
    return None
