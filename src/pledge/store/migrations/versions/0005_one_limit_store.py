"""One store of processing limits: request flags move into `processing_limits`.

Restriction and objection requests already wrote both tables; a sale/sharing opt-out wrote only
`subject_flags`, so the product's decisions did not see it. Its active rows become objections
to the pseudo-purposes `sale` and `sharing` (see `pledge.consent.limits`), then the old table
goes. Lifted flags are not carried over: nothing lifted them yet.

Revision ID: 0005_one_limit_store
Revises: 0004_consent_import
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pledge.store.migrations._frozen import BigId, UTCDateTime

revision = "0005_one_limit_store"
down_revision = "0004_consent_import"
branch_labels = None
depends_on = None

_MOVE = """
INSERT INTO processing_limits (subject, kind, purpose, active, request_id, recorded_at, actor)
SELECT 'subject:' || f.subject_id, 'objection', f.purpose, :on, f.request_id, f.created_at,
       'system:migration'
FROM subject_flags f
WHERE f.kind = 'opt_out_sale_sharing' AND f.lifted_at IS NULL
ORDER BY f.id
"""


def upgrade() -> None:
    op.get_bind().execute(sa.text(_MOVE), {"on": True})
    op.drop_index(op.f("ix_subject_flags_subject_id_lifted_at"), table_name="subject_flags")
    op.drop_table("subject_flags")


def downgrade() -> None:
    """The table comes back empty: its rows live on in `processing_limits`."""
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
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_subject_flags_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_subject_flags_request_id_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_flags")),
    )
    op.create_index(
        op.f("ix_subject_flags_subject_id_lifted_at"), "subject_flags", ["subject_id", "lifted_at"]
    )
