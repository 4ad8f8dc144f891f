"""Pledge's own database: the store and what lives in it.

- `db`: engines, `Store` (sessions, `transaction()`), SQLite/PostgreSQL specifics
- `tables` and `migrations`: the schema and its Alembic history (`upgrade(store)`)
- `vault`, `keyfiles`, `rotation`: per-subject keys, blind indexes, crypto-shredding,
  master key rotation
- `audit`, `signing`: the hash-chained audit log and its signed checkpoints
- `jobs`: the durable job queue and its workers

Services use these; faces (API, web, CLI) go through services (DESIGN §2 rule 1), except the
operator commands in `pledge.cli` that manage the store itself.
"""

from __future__ import annotations

from pledge.store.db import Store, store_of
from pledge.store.errors import (
    IdentityError,
    LeaseLostError,
    PersonalDataError,
    QueryError,
    ShreddedError,
    StoreError,
    VaultError,
)

__all__ = [
    "IdentityError",
    "LeaseLostError",
    "PersonalDataError",
    "QueryError",
    "ShreddedError",
    "Store",
    "StoreError",
    "VaultError",
    "store_of",
]
