"""Alembic environment: runs on the connection `pledge.store.migrations.upgrade` passes in.

No target metadata: revisions are written by hand as frozen history (they import no live
tables), and `tests/store/test_store_db.py` compares the schema they build with the models.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
