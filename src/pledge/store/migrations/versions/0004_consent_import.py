"""Consent import: which log record each imported row became, under its import key.

Append-only like the consent log (triggers refuse UPDATE and DELETE): the import key makes a
second import of the same file add nothing (see `pledge.consent.importer`).

Revision ID: 0004_consent_import
Revises: 0003_requests
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pledge.store.migrations._frozen import UTCDateTime, append_only

revision = "0004_consent_import"
down_revision = "0003_requests"
branch_labels = None
depends_on = None

TABLE = "consent_imports"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("import_key", sa.String(64), nullable=False),
        sa.Column("content_digest", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("batch", sa.String(36), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("given_at", UTCDateTime(), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["consent_records.id"],
            name=op.f("fk_consent_imports_record_id_consent_records"),
        ),
        sa.PrimaryKeyConstraint("import_key", name=op.f("pk_consent_imports")),
        sa.UniqueConstraint("record_id", name=op.f("uq_consent_imports_record_id")),
    )
    op.create_index(op.f("ix_consent_imports_batch"), TABLE, ["batch"])
    _append_only()


def _append_only() -> None:
    """No UPDATE or DELETE (nor TRUNCATE on PostgreSQL), like the log it points into."""
    append_only(TABLE, "the consent log")


def downgrade() -> None:
    op.drop_table(TABLE)
