"""Requests to limit the use of sensitive personal information (CCPA §1798.121).

The `requests` table's `known_kind` check gains `limit_sensitive`. The limit itself is a row
of `processing_limits` (an objection to the pseudo-purpose `sensitive`), which needs no change.

Revision ID: 0007_limit_sensitive
Revises: 0006_consent_integrity
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0007_limit_sensitive"
down_revision = "0006_consent_integrity"
branch_labels = None
depends_on = None

_BEFORE = (
    "'access', 'portability', 'rectification', 'erasure', 'restriction', 'objection', "
    "'opt_out_sale_sharing'"
)
_AFTER = _BEFORE + ", 'limit_sensitive'"


def _kinds(kinds: str) -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_constraint(op.f("ck_requests_known_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_requests_known_kind"), f"kind IN ({kinds})")


def upgrade() -> None:
    _kinds(_AFTER)


def downgrade() -> None:
    """Fails while a limit request exists (the old check would not hold): delete those first."""
    _kinds(_BEFORE)
