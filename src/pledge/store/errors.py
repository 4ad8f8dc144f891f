"""Errors of the store, vault, audit log and job queue.

They extend `pledge.errors.PledgeError`, so faces (CLI, API) handle them with everything else.
Messages say which database or file is involved and what to do, never which person.
"""

from __future__ import annotations

from pledge.errors import PledgeError


class StoreError(PledgeError):
    """The database cannot be used right now: locked, missing, unreachable or not migrated."""


class VaultError(PledgeError):
    """Encrypted data cannot be read or written (wrong key, tampered ciphertext, bad identity)."""


class ShreddedError(VaultError):
    """The subject's data key was destroyed on purpose: its encrypted data is gone for good."""


class IdentityError(VaultError, ValueError):
    """An identity value is not valid for its kind (an e-mail without `@`, a phone with letters)."""


class LeaseLostError(PledgeError):
    """A worker no longer holds the lease on its job: another worker took it over.

    Raised from `ctx.checkpoint()` and on completion; the work of the current transaction is
    rolled back, so nothing is done twice.
    """


class QueryError(PledgeError, ValueError):
    """A query parameter (an audit filter, a cursor) is malformed."""


class PersonalDataError(PledgeError, ValueError):
    """Raw personal data was about to enter the audit log; pass it through `hash_identity`."""
