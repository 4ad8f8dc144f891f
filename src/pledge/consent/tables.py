"""The consent tables: append-only logs whose current state is always derived.

`consent_records` is the proof-of-consent log (ISO/IEC TS 27560 / Kantara field names where
they fit), `programme_participation` records joins and leaves of a programme per organisation
or installation, and `processing_limits` is the hook the data subject request engine fills
when a person restricts processing or objects (GDPR art. 18 and 21); `consent_imports`
maps each imported row to the record it became. None of them is ever updated: a change is a
new row, and the newest row per key wins. Database triggers refuse UPDATE and DELETE
(migrations 0002_consent, 0004_consent_import), like the audit tables.

No raw personal data: a subject is a keyed hash of a device id (`device:dv1-…`, see
`pledge.consent.subjects`) or a vault subject id, the IP address is truncated and the user
agent only kept as a SHA-256.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pledge.store.tables import Base, BigId, one_of, utcnow

MECHANISMS = ("accept_all", "reject_all", "custom", "gpc", "api", "import", "withdrawal")
SCOPE_KINDS = ("organisation", "installation")
LIMIT_KINDS = ("restriction", "objection")


class ConsentRecord(Base):
    """One recorded choice: `choices` holds {"purposes": {id: bool}, "categories": {id: bool}}."""

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint(one_of("mechanism", MECHANISMS), name="known_mechanism"),
        Index(None, "subject", "recorded_at"),
        Index(None, "recorded_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUIDv7, time-ordered
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    subject: Mapped[str] = mapped_column(String(80))  # "device:dv1-<hash>" or "subject:<id>"
    mechanism: Mapped[str] = mapped_column(String(16))
    choices: Mapped[dict[str, Any]] = mapped_column()
    notice_id: Mapped[str] = mapped_column(String(100))
    notice_version: Mapped[str] = mapped_column(String(64))
    jurisdiction: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    ip_prefix: Mapped[str | None] = mapped_column(String(64))
    user_agent_sha256: Mapped[str | None] = mapped_column(String(64))
    gpc_signal: Mapped[bool] = mapped_column(Boolean, default=False)
    gpc_applied: Mapped[bool] = mapped_column(Boolean, default=False)
    collector: Mapped[str] = mapped_column(String(200))  # who wrote it: "visitor", "api:…"
    #: Whose choice: "person" (their own device or signed link), "staff:<key name>" (recorded
    #: on their behalf), "import:<source>"; NULL on records from before 0006.
    made_by: Mapped[str | None] = mapped_column(String(200))
    receipt: Mapped[str] = mapped_column(Text)  # compact JWS over the record


class ProgrammeParticipation(Base):
    """A join (`joined` true) or leave of a programme by an organisation or installation."""

    __tablename__ = "programme_participation"
    __table_args__ = (
        CheckConstraint(one_of("scope_kind", SCOPE_KINDS), name="known_scope_kind"),
        Index(None, "programme", "scope_kind", "scope_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    programme: Mapped[str] = mapped_column(String(64))
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[str] = mapped_column(String(200))
    joined: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))


class ProcessingLimit(Base):
    """A restriction or objection for a subject, for one purpose or (purpose NULL) all.

    Written by the data subject request engine; `active` false lifts an earlier row.
    """

    __tablename__ = "processing_limits"
    __table_args__ = (
        CheckConstraint(one_of("kind", LIMIT_KINDS), name="known_kind"),
        Index(None, "subject", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(80))  # "subject:<vault id>" or "device:<id>"
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))


APPEND_ONLY = ("consent_records", "programme_participation", "processing_limits")
"""The logs whose rows are never updated or deleted (triggers of migration 0002_consent)."""


class ConsentImport(Base):
    """The log record an imported row became, under the row's import key (idempotency).

    Append-only like the log (migration 0004_consent_import). `given_at` is when the person
    chose, in the system the row came from; the record's `recorded_at` is when it was imported.
    """

    __tablename__ = "consent_imports"
    __table_args__ = (Index(None, "batch"),)

    import_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_digest: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(ForeignKey("consent_records.id"), unique=True)
    batch: Mapped[str] = mapped_column(String(36))
    source: Mapped[str] = mapped_column(String(100))
    given_at: Mapped[datetime] = mapped_column()
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
