"""Data subject requests: requests, their steps, verification codes, packages, subject flags.

Revision ID: 0003_requests
Revises: 0002_consent
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pledge.store.migrations._frozen import BigId, UTCDateTime

revision = "0003_requests"
down_revision = "0002_consent"
branch_labels = None
depends_on = None

_STATES = (
    "'unverified', 'verified', 'awaiting_approval', 'in_progress', 'completed', 'denied', "
    "'forwarded', 'failed'"
)
_KINDS = (
    "'access', 'portability', 'rectification', 'erasure', 'restriction', 'objection', "
    "'opt_out_sale_sharing'"
)


def _fk(column: str, target: str, table: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    ref = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{ref}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("jurisdiction", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("approval_required", sa.Boolean(), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("subject_created", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("extended_due_at", UTCDateTime(), nullable=True),
        sa.Column("confirm_by", UTCDateTime(), nullable=True),
        sa.Column("extend_notice_by", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("job_id", BigId, nullable=True),
        sa.CheckConstraint(f"state IN ({_STATES})", name=op.f("ck_requests_known_state")),
        sa.CheckConstraint(f"kind IN ({_KINDS})", name=op.f("ck_requests_known_kind")),
        _fk("subject_id", "subjects.id", "requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_requests_reference")),
    )
    op.create_index(op.f("ix_requests_state_due_at"), "requests", ["state", "due_at"])
    op.create_index(op.f("ix_requests_subject_id"), "requests", ["subject_id"])
    op.create_index(op.f("ix_requests_received_at"), "requests", ["received_at"])
    op.create_table(
        "request_steps",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'running', 'done', 'failed', 'skipped')",
            name=op.f("ck_request_steps_known_state"),
        ),
        _fk("request_id", "requests.id", "request_steps"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_steps")),
    )
    op.create_index(op.f("ix_request_steps_request_id"), "request_steps", ["request_id"])
    op.create_table(
        "request_codes",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _fk("request_id", "requests.id", "request_codes"),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_request_codes")),
    )
    op.create_table(
        "request_packages",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("downloaded_at", UTCDateTime(), nullable=True),
        _fk("request_id", "requests.id", "request_packages"),
        _fk("subject_id", "subjects.id", "request_packages"),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_request_packages")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_request_packages_token_hash")),
    )
    op.create_table(
        "subject_flags",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('restriction', 'objection', 'opt_out_sale_sharing')",
            name=op.f("ck_subject_flags_known_kind"),
        ),
        _fk("subject_id", "subjects.id", "subject_flags"),
        _fk("request_id", "requests.id", "subject_flags", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_flags")),
    )
    op.create_index(
        op.f("ix_subject_flags_subject_id_lifted_at"), "subject_flags", ["subject_id", "lifted_at"]
    )


def downgrade() -> None:
    op.drop_table("subject_flags")
    op.drop_table("request_packages")
    op.drop_table("request_codes")
    op.drop_table("request_steps")
    op.drop_table("requests")
