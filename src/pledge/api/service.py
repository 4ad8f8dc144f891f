"""What the API needs from the store that the store's own modules do not offer (yet).

Routes call these and never touch SQL. Each is small and read-only except `record_reload`;
candidates to move into `pledge.store` (see the notes in the functions).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from pledge.errors import PledgeError
from pledge.manifest_holder import ManifestHolder, ReloadOutcome
from pledge.store import audit, jobs
from pledge.store.db import Store
from pledge.store.migrations import current, head
from pledge.store.tables import utcnow

log = logging.getLogger("pledge.api")
JOB_STATES = ("queued", "running", "done", "failed")
EXPORT_PAGE = 1000


#: Jobs that failed for good within this window make the service `degraded` on /health.
FAILED_JOBS_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class DatabaseStatus:
    ok: bool
    detail: str
    #: Jobs failed for good within `FAILED_JOBS_WINDOW` (0 when the database is down).
    failed_jobs: int = 0


class HealthCheck:
    """Whether the database answers and has this code's schema.

    The answer is reused for `max_age` seconds (the schema revision for `revision_every`), so
    a load balancer or an attacker polling /health cannot turn it into database load. Call
    `fresh()` first: when it returns a status, no database work is needed.
    """

    def __init__(self, store: Store, max_age: float = 1.0, revision_every: float = 60.0) -> None:
        self.store = store
        self.max_age = max_age
        self.revision_every = revision_every
        self._head = head()  # reading the migration scripts costs milliseconds: once
        self._revision: str | None = None
        self._revision_at = -float("inf")
        self._last: DatabaseStatus | None = None
        self._last_at = -float("inf")
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Check for real next time."""
        with self._lock:
            self._last, self._last_at, self._revision_at = None, -float("inf"), -float("inf")

    def fresh(self) -> DatabaseStatus | None:
        """The last answer if it is recent enough, else None."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._last_at <= self.max_age:
                return self._last
        return None

    def status(self) -> DatabaseStatus:
        """The recent answer, or a new check (a database read; call from a thread)."""
        return self.fresh() or self._check()

    def _check(self) -> DatabaseStatus:
        try:
            with self._lock:
                due = time.monotonic() - self._revision_at > self.revision_every
            if due:
                revision = current(self.store)
                with self._lock:
                    self._revision, self._revision_at = revision, time.monotonic()
            if self._revision != self._head:
                found = self._revision or "none"
                status = DatabaseStatus(False, f"at revision {found}, needs {self._head}")
            else:
                status = DatabaseStatus(True, "ok", recent_failures(self.store))
        except PledgeError as exc:
            log.error("health: %s", exc)
            with self._lock:
                self._revision_at = -float("inf")
            status = DatabaseStatus(False, "unreachable")
        with self._lock:
            self._last, self._last_at = status, time.monotonic()
        return status


def recent_failures(store: Store) -> int:
    """Jobs that failed for good within `FAILED_JOBS_WINDOW` (also proves the database reads)."""
    with store.reader() as session:
        return jobs.failed_since(session, utcnow() - FAILED_JOBS_WINDOW)


def job_counts(store: Store) -> dict[str, int]:
    """Jobs per state (every known state present, zero when none)."""
    with store.reader() as session:
        return jobs.count_by_state(session)


def audit_head_seq(store: Store) -> int:
    """The sequence number of the newest audit event (0 for an empty log)."""
    with store.reader() as session:
        return audit.head(session)[0]


def export_lines(store: Store, since: int = 0) -> Iterator[bytes]:
    """Audit events after seq `since` as JSON Lines, page by page (one short read each).

    Keyset pages keep the database free between pages, so a long download never holds a
    transaction open; the chain is append-only, so the pages join up exactly.
    """
    cursor: str | None = str(since) if since else None
    while True:
        with store.reader() as session:
            page = audit.list_events(session, None, cursor, EXPORT_PAGE)
        if page.events:
            yield b"".join(
                json.dumps(e.as_dict(), ensure_ascii=False).encode() + b"\n" for e in page.events
            )
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def record_reload(store: Store, actor: str, outcome: ReloadOutcome, before: str) -> None:
    """Write the reload to the audit log: which manifest is in force from when is evidence."""
    errors = sum(f.severity == "error" for f in outcome.findings)
    action = "manifest.reloaded" if outcome.ok else "manifest.reload_refused"
    details = {"digest": outcome.digest, "previous_digest": before, "errors": errors}
    try:
        with store.transaction() as session:
            audit.append(session, actor, action, "manifest", outcome.digest[:16], details)
    except PledgeError as exc:  # the reload stands; only its record is missing
        log.error("could not record the manifest reload in the audit log: %s", exc)


def record_manifest_in_force(store: Store, digest: str, actor: str) -> bool:
    """At start: record `manifest.loaded` unless the log's last manifest event has this digest.

    With the reload events this gives auditors, from the audit log alone, which manifest (and
    so which promises) was in force from when. Returns whether an event was written.
    """
    try:
        with store.reader() as session:
            last = audit.list_events(
                session, audit.EventFilter(object_type="manifest", newest_first=True), limit=1
            ).events
        if last and last[0].details.get("digest") == digest:
            return False
        with store.transaction() as session:
            audit.append(
                session, actor, "manifest.loaded", "manifest", digest[:16], {"digest": digest}
            )
    except PledgeError as exc:
        log.error("could not record the manifest in force in the audit log: %s", exc)
        return False
    return True


def reload_manifest(store: Store, holder: ManifestHolder, actor: str) -> ReloadOutcome:
    """Reload the manifest (kept when it has errors) and record the outcome."""
    before = holder.manifest.digest
    outcome = holder.reload()
    if outcome.ok and outcome.digest == before:
        return outcome  # nothing changed; nothing to record
    record_reload(store, actor, outcome, before)
    return outcome
