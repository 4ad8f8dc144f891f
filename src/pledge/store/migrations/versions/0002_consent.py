"""Consent: the proof-of-consent log, programme participation, processing limits.

All three tables are append-only logs (triggers refuse UPDATE and DELETE); current state is
derived from the newest row per key (see `pledge.consent.records`).

Revision ID: 0002_consent
Revises: 0001_core
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pledge.store.migrations._frozen import BigId, UTCDateTime, append_only

revision = "0002_consent"
down_revision = "0001_core"
branch_labels = None
depends_on = None

APPEND_ONLY = ("consent_records", "programme_participation", "processing_limits")


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("mechanism", sa.String(16), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("notice_id", sa.String(100), nullable=False),
        sa.Column("notice_version", sa.String(64), nullable=False),
        sa.Column("jurisdiction", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("ip_prefix", sa.String(64), nullable=True),
        sa.Column("user_agent_sha256", sa.String(64), nullable=True),
        sa.Column("gpc_signal", sa.Boolean(), nullable=False),
        sa.Column("gpc_applied", sa.Boolean(), nullable=False),
        sa.Column("collector", sa.String(200), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "mechanism IN ('accept_all', 'reject_all', 'custom', 'gpc', 'api', 'import', "
            "'withdrawal')",
            name=op.f("ck_consent_records_known_mechanism"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(
        op.f("ix_consent_records_subject_recorded_at"),
        "consent_records",
        ["subject", "recorded_at"],
    )
    op.create_index(op.f("ix_consent_records_recorded_at"), "consent_records", ["recorded_at"])
    op.create_table(
        "programme_participation",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("programme", sa.String(64), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String(200), nullable=False),
        sa.Column("joined", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "scope_kind IN ('organisation', 'installation')",
            name=op.f("ck_programme_participation_known_scope_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_participation")),
    )
    op.create_index(
        op.f("ix_programme_participation_programme_scope_kind_scope_id"),
        "programme_participation",
        ["programme", "scope_kind", "scope_id"],
    )
    op.create_table(
        "processing_limits",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "kind IN ('restriction', 'objection')", name=op.f("ck_processing_limits_known_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_limits")),
    )
    op.create_index(
        op.f("ix_processing_limits_subject_kind"), "processing_limits", ["subject", "kind"]
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    """Like the audit tables: no UPDATE or DELETE (nor TRUNCATE on PostgreSQL).

    Reuses `pledge_append_only()` created by 0001_core on PostgreSQL.
    """
    for table in APPEND_ONLY:
        append_only(table, "the consent log")


def downgrade() -> None:
    for table in APPEND_ONLY:
        op.drop_table(table)
