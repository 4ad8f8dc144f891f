"""Alembic migrations of Pledge's database, run programmatically (`pledge db upgrade`).

`upgrade(store)` brings the schema to the newest revision in one transaction per run, under a
lock so that `pledge serve` and `pledge worker` starting together do not race.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pledge.store.db import Store, describe_db_error
from pledge.store.errors import StoreError

HERE = Path(__file__).parent
#: Any 64-bit constant; PostgreSQL advisory lock taken while migrating.
MIGRATION_LOCK = 0x706C6564_6765_01


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


def head() -> str:
    """The newest revision this version of Pledge knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def upgrade(store: Store, revision: str = "head") -> str | None:
    """Migrate the database to `revision` (default: newest); returns the revision reached."""
    cfg = _config()
    try:
        with store.engine.begin() as conn:
            if store.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except DBAPIError as exc:
        raise StoreError(describe_db_error(exc, store.url)) from exc
    return current(store)


def current(store: Store) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    try:
        with store.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:
        raise StoreError(describe_db_error(exc, store.url)) from exc


def require_current(store: Store) -> None:
    """Refuse to run against a database older or newer than this code."""
    at, want = current(store), head()
    if at != want:
        where = store.url.render_as_string(hide_password=True)
        if at is None:
            raise StoreError(f"the database {where} has no Pledge tables; run `pledge db upgrade`")
        raise StoreError(
            f"the database {where} is at revision {at}, this Pledge needs {want}; "
            "run `pledge db upgrade` (or upgrade Pledge if the database is newer)"
        )
