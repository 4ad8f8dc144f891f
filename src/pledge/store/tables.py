"""The tables of Pledge's own database (SQLAlchemy 2 typed declarative).

Designed for what comes next: data subject requests, consent records and complaints add their
own tables in later migrations and point at `subjects.id`; nothing here holds a raw identity
in clear text (DESIGN §2 rule 4). Times are timezone-aware UTC everywhere; the audit log keeps
its time as the canonical text that is hashed, so the chain never depends on a driver's
datetime handling.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: 64-bit ids on PostgreSQL; SQLite needs INTEGER PRIMARY KEY to alias its rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")

JOB_STATES = ("queued", "running", "done", "failed")
IDENTITY_KINDS = ("email", "phone", "user_id", "customer_id")


def one_of(column: str, values: tuple[str, ...]) -> str:
    """The text of a check constraint keeping `column` within a vocabulary defined once."""
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite stores naive text, read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Pledge stores aware datetimes only; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Subject(Base):
    """A person Pledge holds data about, with their own data key (wrapped by the master key).

    Shredding sets `wrapped_key` and `key_id` to NULL and `shredded_at` to the time: the check
    constraint keeps "has a key" and "is shredded" mutually exclusive.
    """

    __tablename__ = "subjects"
    __table_args__ = (
        CheckConstraint(
            "(shredded_at IS NULL AND wrapped_key IS NOT NULL AND key_id IS NOT NULL) OR "
            "(shredded_at IS NOT NULL AND wrapped_key IS NULL AND key_id IS NULL)",
            name="key_or_shredded",
        ),
        Index(None, "key_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    key_id: Mapped[str | None] = mapped_column(String(32))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    shredded_at: Mapped[datetime | None] = mapped_column()


class Identity(Base):
    """One identity of a subject (an e-mail, a phone, …): ciphertext plus keyed blind index."""

    __tablename__ = "identities"
    __table_args__ = (
        UniqueConstraint("kind", "blind_index"),
        CheckConstraint(one_of("kind", IDENTITY_KINDS), name="known_kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    blind_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VaultKey(Base):
    """Installation-wide secrets wrapped by the master key (the blind-index secret).

    Its `key_id` also names the master key that new data keys must be wrapped with, which is
    how a rotation in progress is seen by every process (see `vault.rotate_master`).
    """

    __tablename__ = "vault_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """One link of the append-only, hash-chained audit log (see `pledge.store.audit`)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(None, "object_type", "object_id"),
        Index(None, "action"),
        Index(None, "actor"),
        Index(None, "occurred_at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[str] = mapped_column(String(27))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement "the chain had this hash at this seq", for anchoring elsewhere."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(27))
    key_id: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class Job(Base):
    """A durable unit of work (see `pledge.store.jobs`).

    `lease_token` is new on every claim and fences the worker: completion and checkpoints
    only count while the token still matches, so a worker whose lease was taken over cannot
    finish the job a second time.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(one_of("state", JOB_STATES), name="known_state"),
        Index(None, "state", "run_at"),
        Index(None, "state", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="queued")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    progress: Mapped[dict[str, Any] | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class ApiKey(Base):
    """An API key: only the SHA-256 of its secret is stored (see `pledge.apikeys`)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column()


def table(model: type[Base]) -> Table:
    """The Core table of a model, typed, for set-based statements (claims, bulk updates)."""
    return cast(Table, model.__table__)
