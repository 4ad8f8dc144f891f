"""Consent integrity: whose choice a record is, and no REPLACE past the append-only triggers.

`consent_records.made_by` says whether the person made a choice themselves (`person`), staff
recorded it on their behalf (`staff:<key name>`) or it was imported (`import:<source>`);
older rows keep NULL (read as their `collector` says).

On SQLite `INSERT OR REPLACE` (and `REPLACE INTO`) deletes the row it conflicts with without
firing DELETE triggers (unless `recursive_triggers` is on, which no connection can be trusted
to set), so the append-only logs could be rewritten without DDL. A BEFORE INSERT trigger runs
before the conflict is resolved: it refuses any insert whose key (or unique column) already
exists. PostgreSQL has no REPLACE; `ON CONFLICT DO UPDATE` fires the UPDATE trigger.

Device ids already stored in clear are hashed by `pledge consent hash-device-ids` (the key
lives in the vault, which migrations do not open); see docs/consent.md.

Revision ID: 0006_consent_integrity
Revises: 0005_one_limit_store
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_consent_integrity"
down_revision = "0005_one_limit_store"
branch_labels = None
depends_on = None

#: Table -> the columns whose existing value an insert must not replace.
UNIQUE_KEYS = {
    "consent_records": ("id",),
    "programme_participation": ("id",),
    "processing_limits": ("id",),
    "consent_imports": ("import_key", "record_id"),
}


def upgrade() -> None:
    op.add_column("consent_records", sa.Column("made_by", sa.String(200), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in UNIQUE_KEYS.items():
        taken = " OR ".join(f"{c} = NEW.{c}" for c in columns)
        op.execute(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {taken}) "
            f"BEGIN SELECT RAISE(ABORT, 'pledge: REPLACE on {table} refused: "
            "the consent log is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in UNIQUE_KEYS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
    op.drop_column("consent_records", "made_by")  # SQLite 3.35+: no table rebuild
