"""The tables of data subject requests, on the store's `Base` (migration 0003_requests).

Nothing here holds a person's identity or corrections in clear text: what the request needs
of them (the address to write to, the details, the identities the engine starts from) is
sealed with the subject's vault key in `sealed`, so shredding the subject also shreds every
request it made. Codes and tokens are stored as SHA-256 digests only; a stolen database does
not let anyone verify a request or download a package.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from pledge.manifest.jurisdictions import REQUEST_KINDS as REQUEST_KINDS  # the one list
from pledge.store.tables import Base, BigId, one_of, utcnow

STATES = (
    "unverified",
    "verified",
    "awaiting_approval",
    "in_progress",
    "completed",
    "denied",
    "forwarded",
    "failed",
)
STEP_STATES = ("pending", "running", "done", "failed", "skipped")


class DataRequest(Base):
    """One request of one person; `id` is unguessable and names it in URLs and jobs.

    `reference` is the short human reference in mails and on the phone. `token_hash` is the
    digest of the status token the person got at intake (the only way to read the status
    without an API key).
    """

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint(one_of("state", STATES), name="known_state"),
        CheckConstraint(one_of("kind", REQUEST_KINDS), name="known_kind"),
        Index(None, "state", "due_at"),
        Index(None, "subject_id"),
        Index(None, "received_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(20), default="unverified")
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    jurisdiction: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="web")
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    subject_created: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    extended_due_at: Mapped[datetime | None] = mapped_column()
    confirm_by: Mapped[datetime | None] = mapped_column()
    extend_notice_by: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Staff-written reasons and notes (extension, denial): shown to the person, never audited.
    notes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: What execution reported: counts, field names, forwarded systems — never values.
    result: Mapped[dict[str, Any] | None] = mapped_column()
    job_id: Mapped[int | None] = mapped_column(BigId)


class RequestStep(Base):
    """One step of a request's execution, for `show` and `retry`; details hold no values."""

    __tablename__ = "request_steps"
    __table_args__ = (CheckConstraint(one_of("state", STEP_STATES), name="known_state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    detail: Mapped[dict[str, Any] | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class VerificationCode(Base):
    """The one live code of a request: digest, expiry, failed attempts, lockout."""

    __tablename__ = "request_codes"

    request_id: Mapped[str] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    sent_count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RequestPackage(Base):
    """An access or portability package: the zip sealed with the subject's key.

    Downloaded once with the token whose digest is `token_hash`, before `expires_at`; staff
    may download it through the admin API. Shredding the subject makes `sealed` unreadable.
    """

    __tablename__ = "request_packages"

    request_id: Mapped[str] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    downloaded_at: Mapped[datetime | None] = mapped_column()
