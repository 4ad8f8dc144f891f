"""The manifest a running service uses, swapped only for one that passes `pledge check`.

A reload with errors keeps the old manifest and reports why, so a typo in production never
takes the service down or changes its behaviour half-way.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pledge.errors import ManifestError
from pledge.manifest.findings import Finding, has_errors
from pledge.manifest.load import check
from pledge.manifest.model import Manifest

log = logging.getLogger("pledge.manifest")


@dataclass(frozen=True)
class ReloadOutcome:
    ok: bool
    digest: str
    findings: tuple[Finding, ...] = field(default=())


class ManifestHolder:
    """Holds the current manifest; `reload()` is safe to call from a signal or a request."""

    def __init__(self, path: str) -> None:
        self.path = path
        result = check(path)
        if result.manifest is None or has_errors(result.findings):
            raise ManifestError(f"{path}: the manifest has errors", result.findings)
        self._manifest: Manifest = result.manifest
        self.loaded_at = datetime.now(UTC)
        self.last_error: ReloadOutcome | None = None
        self._lock = threading.Lock()

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    def reload(self) -> ReloadOutcome:
        with self._lock:
            result = check(self.path)
            if result.manifest is None or has_errors(result.findings):
                outcome = ReloadOutcome(False, self._manifest.digest, tuple(result.findings))
                self.last_error = outcome
                errors = sum(f.severity == "error" for f in result.findings)
                log.error("manifest reload refused: %d errors; keeping %s", errors, self.path)
                return outcome
            self._manifest = result.manifest
            self.loaded_at = datetime.now(UTC)
            self.last_error = None
            log.info("manifest reloaded: %s", result.manifest.digest[:12])
            return ReloadOutcome(True, result.manifest.digest, tuple(result.findings))
