"""One exception hierarchy for Pledge.

Every message names where the problem is (file, line, key, request) and says what to do,
so callers can show it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pledge.manifest.findings import Finding


class PledgeError(Exception):
    """Base class of every error Pledge raises on purpose."""


class ManifestError(PledgeError):
    """The manifest cannot be used: it could not be read, parsed or validated."""

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = tuple(findings)

    def __str__(self) -> str:
        lines = [self.args[0]]
        lines.extend(f.format() for f in self.findings if f.severity == "error")
        return "\n".join(lines)


class ConfigError(PledgeError):
    """The runtime configuration (environment, files) is unusable."""


class NotFoundError(PledgeError):
    """Something named by the caller does not exist (a notice id, a language, a key)."""


class OutputError(PledgeError):
    """An output file or folder could not be written."""
