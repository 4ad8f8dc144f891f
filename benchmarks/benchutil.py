"""What the store benchmarks share: a throw-away PostgreSQL database and a migrated store."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pledge.config import Settings
from pledge.store import Store
from pledge.store.migrations import upgrade

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def postgres_db() -> Iterator[str | None]:
    """A fresh database on the local PostgreSQL (None when unreachable), dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception:
        yield None
        return
    name = f"pledge_bench_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def open_store(root: Path, url: str | None = None) -> Store:
    """A migrated store in `root` (SQLite) or at `url`."""
    settings = Settings(data_dir=root, database_url=url or "", checkpoint_every=1000)
    store = Store(settings)
    upgrade(store)
    return store
