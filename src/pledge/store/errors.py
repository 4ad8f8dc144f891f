"""Errors of the store, vault, audit log and job queue.

They live in the one tree of `pledge.errors` (drawn there, with each one's HTTP status) and are
re-exported here, where the store's callers have always imported them. Messages say which
database or file is involved and what to do, never which person.
"""

from __future__ import annotations

from pledge.errors import (
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
    "StoreError",
    "VaultError",
]
