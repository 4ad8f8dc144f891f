"""The consent service of one installation: records choices and answers decisions fast.

Decisions are on the product's hot path, so the derived state of a subject is cached in
memory and dropped on every write this process makes. Writes by other processes (another
API process, the request engine setting a restriction) reach the cache through the change
feed (`pledge.api.changes`), which reads the audit log every fraction of a second and hands
the new events to `apply_changes`: every such write is audited in its own transaction, and
the chain's order is commit order, so nothing is missed. While a feed reports in
(`watched`), entries live `watched_ttl`; without one, `ttl` bounds how stale they can be.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pledge.consent import limits, programs, records
from pledge.consent.export import READ_ACTIONS
from pledge.consent.receipts import ReceiptSigner, signer_for
from pledge.manifest.model import Manifest
from pledge.policy import Decision, SubjectState, decide
from pledge.store.audit import Event
from pledge.store.db import Store

DEFAULT_TTL = 5.0
WATCHED_TTL = 60.0
MAX_ENTRIES = 100_000
#: Audit actions whose `details.subject` names the subject whose state changed.
SUBJECT_ACTIONS = frozenset(
    {
        "consent.recorded",
        "consent.restriction_set",
        "consent.restriction_lifted",
        "consent.objection_set",
        "consent.objection_lifted",
    }
)


@dataclass(frozen=True)
class _Entry:
    at: float
    manifest: Manifest  # the one it was derived under: an identity check is cheaper than a digest
    digest: str
    derived: records.Derived


class ConsentService:
    def __init__(self, store: Store, ttl: float = DEFAULT_TTL) -> None:
        self.store = store
        self.ttl = ttl
        self.watched_ttl = max(ttl, WATCHED_TTL)
        self._watched_until = -float("inf")
        self._cache: dict[str, _Entry] = {}
        self._programmes: dict[tuple[str, str | None, str | None], tuple[float, bool | None]] = {}
        self._epoch = 0  # bumped by every invalidation; a read that straddles one is not kept
        self._lock = threading.Lock()

    @property
    def signer(self) -> ReceiptSigner:
        return signer_for(Path(self.store.settings.data_dir))

    # -- writes -----------------------------------------------------------------------------

    def record(
        self, manifest: Manifest, choice: records.NewChoice, issuer: str
    ) -> records.Recorded:
        signer = self.signer
        with self.store.transaction() as session:
            done = records.record(session, manifest, signer, choice, issuer)
        self.invalidate(choice.subject)
        return done

    def set_participation(
        self, manifest: Manifest, programme: str, kind: str, scope_id: str, joined: bool, actor: str
    ) -> int:
        with self.store.transaction() as session:
            row = programs.set_participation(
                session, manifest, programme, kind, scope_id, joined, actor
            )
        self.invalidate_programmes()
        return row

    # -- invalidation -----------------------------------------------------------------------

    def invalidate(self, subject: str | None = None) -> None:
        """Drop `subject`'s cached state (every subject's with None)."""
        with self._lock:
            self._epoch += 1
            if subject is None:
                self._cache.clear()
                self._programmes.clear()
            else:
                self._cache.pop(subject, None)

    def invalidate_programmes(self) -> None:
        with self._lock:
            self._epoch += 1
            self._programmes.clear()

    def apply_changes(self, events: Iterable[Event]) -> None:
        """Drop what the audit `events` (written by any process) changed.

        A consent event that does not name its subject (a bulk import, say) drops
        everything: being unsure costs a re-read, never a stale answer.
        """
        for event in events:
            subject = event.details.get("subject")
            if event.action in READ_ACTIONS:
                continue
            if event.action in SUBJECT_ACTIONS and isinstance(subject, str):
                self.invalidate(subject)
            elif event.action.startswith("programme."):
                self.invalidate_programmes()
            elif event.action.startswith("consent."):
                self.invalidate(subject if isinstance(subject, str) else None)

    def watched(self, until: float) -> None:
        """A change feed is current up to monotonic time `until`: keep entries longer."""
        self._watched_until = until

    # -- reads --------------------------------------------------------------------------------

    def _fresh(self, at: float, now: float) -> bool:
        limit = self.watched_ttl if now < self._watched_until else self.ttl
        return now - at < limit

    def cached(self, manifest: Manifest, subject: str) -> records.Derived | None:
        """The subject's state if the cache has it fresh, else None (no database work)."""
        entry = self._cache.get(subject)
        if entry is None or (entry.manifest is not manifest and entry.digest != manifest.digest):
            return None
        return entry.derived if self._fresh(entry.at, time.monotonic()) else None

    def derived(self, manifest: Manifest, subject: str) -> records.Derived:
        """The subject's state, from the cache when fresh (a read of the log otherwise)."""
        found = self.cached(manifest, subject)
        if found is not None:
            return found
        epoch, now = self._epoch, time.monotonic()
        with self.store.reader() as session:
            derived = records.derive(
                manifest, records.records_of(session, subject), limits.limits_of(session, subject)
            )
        with self._lock:
            if epoch == self._epoch:
                if len(self._cache) >= MAX_ENTRIES:
                    self._cache.clear()
                self._cache[subject] = _Entry(now, manifest, manifest.digest, derived)
        return derived

    def programme_choice(self, programme: str, scope: programs.Scope) -> bool | None:
        key = (programme, scope.organisation, scope.installation)
        now = time.monotonic()
        found = self._programmes.get(key)
        if found is not None and self._fresh(found[0], now):
            return found[1]
        epoch = self._epoch
        with self.store.reader() as session:
            value = programs.participation(session, programme, scope)
        with self._lock:
            if epoch == self._epoch:
                if len(self._programmes) >= MAX_ENTRIES:
                    self._programmes.clear()
                self._programmes[key] = (now, value)
        return value

    def state(
        self,
        manifest: Manifest,
        subject: str,
        *,
        jurisdiction: str | None = None,
        scope: programs.Scope | None = None,
        gpc: bool = False,
    ) -> SubjectState:
        chosen: dict[str, bool] = {}
        if scope is not None and (scope.organisation or scope.installation):
            for programme in manifest.programs:
                value = self.programme_choice(programme, scope)
                if value is not None:
                    chosen[programme] = value
        return _state(self.derived(manifest, subject), jurisdiction, chosen, gpc)

    def decide(
        self,
        manifest: Manifest,
        subject: str,
        purpose: str,
        *,
        jurisdiction: str | None = None,
        scope: programs.Scope | None = None,
        gpc: bool = False,
    ) -> Decision:
        state = self.state(manifest, subject, jurisdiction=jurisdiction, scope=scope, gpc=gpc)
        return decide(manifest, purpose, state)

    def decide_cached(
        self,
        manifest: Manifest,
        subject: str,
        purpose: str,
        *,
        jurisdiction: str | None = None,
        gpc: bool = False,
    ) -> Decision | None:
        """`decide` without a programme scope, if it needs no database read; else None.

        The event loop calls this first and only goes to a thread for `decide`.
        """
        derived = self.cached(manifest, subject)
        if derived is None:
            return None
        return decide(manifest, purpose, _state(derived, jurisdiction, {}, gpc))


def _state(
    derived: records.Derived, jurisdiction: str | None, programmes: dict[str, bool], gpc: bool
) -> SubjectState:
    return SubjectState(
        jurisdiction=jurisdiction or derived.jurisdiction or "global",
        consents=derived.consents,
        programmes=programmes,
        restricted=derived.restricted,
        objected=derived.objected,
        gpc=gpc or derived.gpc,
    )


_services: dict[int, tuple[Store, ConsentService]] = {}
_lock = threading.Lock()


def service_for(store: Store) -> ConsentService:
    """The one consent service of `store` in this process."""
    with _lock:
        found = _services.get(id(store))
        if found is None or found[0] is not store:
            found = _services[id(store)] = (store, ConsentService(store))
        return found[1]
