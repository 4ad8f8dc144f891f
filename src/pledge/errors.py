"""One exception hierarchy for Pledge, with whose fault each error is.

Every message names where the problem is (file, line, key, request) and says what to do, never
which person. Each class says the HTTP `status` a face answers with (as Datasette does:
`status = 404`); below 500 the caller caused it (`client_fault`) and sees the message, from
500 on Pledge or what it depends on failed, and the caller sees only a reference id while the
message goes to the log.

    PledgeError                       500  base: a server fault unless a class says otherwise
    ├── ManifestError                 422  the manifest cannot be read, parsed or validated
    ├── ConfigError                   503  the runtime configuration is unusable
    │   └── ConnectorConfigError      503  a connection cannot be opened as configured
    ├── NotFoundError                 404  something the caller named does not exist
    ├── QueryError                    400  a query parameter (filter, cursor) is malformed
    ├── OutputError                   500  an output file or folder cannot be written
    ├── PersonalDataError             500  raw personal data was about to enter the audit log
    ├── StoreError                    503  the database cannot be used right now
    ├── LeaseLostError                503  a worker lost its job's lease to another worker
    ├── VaultError                    500  encrypted data cannot be read or written
    │   ├── ShreddedError             410  the subject's key was destroyed on purpose
    │   └── IdentityError             422  an identity value is not valid for its kind
    ├── PlanError                     500  a data subject request cannot be planned safely
    └── ConnectorError                503  one of the organisation's stores failed

Errors of one service stay beside it and set their own status: `mail.errors` (MailError 500,
DeliveryError 503), `requests.service.RequestError` 400 (TransitionError 409),
`consent.records.ChoiceError` 422, `consent.import_formats.ImportFileError` 422,
`consent.importer.ImportConflict` 409, `notices.versions.PublishRefused` 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from pledge.manifest.findings import Finding


class PledgeError(Exception):
    """Base class of every error Pledge raises on purpose."""

    status: ClassVar[int] = 500
    """The HTTP status a face answers with; below 500 the message is for the caller."""

    @property
    def client_fault(self) -> bool:
        """The caller caused it and can fix it: show the message. Otherwise log it."""
        return self.status < 500


class ManifestError(PledgeError):
    """The manifest cannot be used: it could not be read, parsed or validated."""

    status = 422

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = tuple(findings)

    def __str__(self) -> str:
        lines = [self.args[0]]
        lines.extend(f.format() for f in self.findings if f.severity == "error")
        return "\n".join(lines)


class ConfigError(PledgeError):
    """The runtime configuration (environment, files) is unusable."""

    status = 503


class ConnectorConfigError(ConfigError):
    """A connection cannot be opened as configured (variable unset, wrong kind of URL)."""


class NotFoundError(PledgeError):
    """Something named by the caller does not exist (a notice id, a language, a key)."""

    status = 404


class QueryError(PledgeError, ValueError):
    """A query parameter (an audit filter, a cursor) is malformed."""

    status = 400


class OutputError(PledgeError):
    """An output file or folder could not be written."""


class PersonalDataError(PledgeError, ValueError):
    """Raw personal data was about to enter the audit log; pass it through `hash_identity`."""


# --- the store, the vault and the job queue (re-exported by `pledge.store.errors`) -----------


class StoreError(PledgeError):
    """The database cannot be used right now: locked, missing, unreachable or not migrated."""

    status = 503


class LeaseLostError(PledgeError):
    """A worker no longer holds the lease on its job: another worker took it over.

    Raised from `ctx.checkpoint()` and on completion; the work of the current transaction is
    rolled back, so nothing is done twice.
    """

    status = 503


class VaultError(PledgeError):
    """Encrypted data cannot be read or written (wrong key, tampered ciphertext, bad identity)."""


class ShreddedError(VaultError):
    """The subject's data key was destroyed on purpose: its encrypted data is gone for good."""

    status = 410


class IdentityError(VaultError, ValueError):
    """An identity value is not valid for its kind (an e-mail without `@`, a phone with letters)."""

    status = 422


# --- the request engine and its connectors -----------------------------------------------------


class PlanError(PledgeError):
    """A request cannot be planned safely; `problems` lists every reason, none with values."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)

    def __str__(self) -> str:
        return "\n  - ".join([self.args[0], *self.problems])


class ConnectorError(PledgeError):
    """A store could not be read or changed. The message names connection and table only."""

    status = 503

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        """The database's error code where it gives one (a retry decision can use it)."""
