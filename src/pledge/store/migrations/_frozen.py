"""Frozen copies of what the migrations build with; only migrations import this module.

A migration is history: it must build the same schema whatever the live code later becomes,
so it never imports `pledge.store.tables` or a service's tables (and loading the migrations
registers no models). What several revisions share lives here, as it was when they were
written; changing it would change history, so a new revision copies rather than edits.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: 64-bit ids on PostgreSQL; SQLite needs INTEGER PRIMARY KEY to alias its rowid.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.DateTime):
    """The column type of `pledge.store.tables.UTCDateTime` as DDL: a timezone-aware time."""

    def __init__(self) -> None:
        super().__init__(timezone=True)


def append_only(table: str, log: str) -> None:
    """Triggers refusing UPDATE and DELETE on `table` (and TRUNCATE on PostgreSQL).

    On PostgreSQL they call `pledge_append_only()`, created by 0001_core; on SQLite the
    message names `log` ("the audit log", "the consent log").
    """
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION pledge_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION pledge_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'pledge: {verb} on {table} refused: "
            f"{log} is append-only'); END"
        )
