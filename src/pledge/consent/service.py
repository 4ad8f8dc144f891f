"""The consent service of one installation: records choices and answers decisions fast.

Decisions are on the product's hot path, so the derived state of a subject is cached in
memory for `ttl` seconds and dropped on every write this process makes. Writes by other
processes (another API process, the request engine setting a restriction) become visible
within `ttl`; call `invalidate(subject)` after a write in this process to see it at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pledge.consent import programs, records
from pledge.consent.receipts import ReceiptSigner, signer_for
from pledge.manifest.model import Manifest
from pledge.policy import Decision, SubjectState, decide
from pledge.store.db import Store

DEFAULT_TTL = 5.0
MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class _Entry:
    at: float
    digest: str
    derived: records.Derived


class ConsentService:
    def __init__(self, store: Store, ttl: float = DEFAULT_TTL) -> None:
        self.store = store
        self.ttl = ttl
        self._cache: dict[str, _Entry] = {}
        self._programmes: dict[tuple[str, str | None, str | None], tuple[float, bool | None]] = {}
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
        with self._lock:
            self._programmes.clear()
        return row

    def invalidate(self, subject: str | None = None) -> None:
        with self._lock:
            if subject is None:
                self._cache.clear()
            else:
                self._cache.pop(subject, None)

    # -- reads --------------------------------------------------------------------------------

    def derived(self, manifest: Manifest, subject: str) -> records.Derived:
        """The subject's state, from the cache when fresh (a read of the log otherwise)."""
        now = time.monotonic()
        entry = self._cache.get(subject)
        if entry is not None and now - entry.at < self.ttl and entry.digest == manifest.digest:
            return entry.derived
        with self.store.reader() as session:
            derived = records.derive(
                manifest, records.records_of(session, subject), records.limits_of(session, subject)
            )
        with self._lock:
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.clear()
            self._cache[subject] = _Entry(now, manifest.digest, derived)
        return derived

    def is_cached(self, manifest: Manifest, subject: str) -> bool:
        entry = self._cache.get(subject)
        return (
            entry is not None
            and time.monotonic() - entry.at < self.ttl
            and entry.digest == manifest.digest
        )

    def programme_choice(self, programme: str, scope: programs.Scope) -> bool | None:
        key = (programme, scope.organisation, scope.installation)
        now = time.monotonic()
        found = self._programmes.get(key)
        if found is not None and now - found[0] < self.ttl:
            return found[1]
        with self.store.reader() as session:
            value = programs.participation(session, programme, scope)
        with self._lock:
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
        derived = self.derived(manifest, subject)
        chosen: dict[str, bool] = {}
        if scope is not None and (scope.organisation or scope.installation):
            for programme in manifest.programs:
                value = self.programme_choice(programme, scope)
                if value is not None:
                    chosen[programme] = value
        return SubjectState(
            jurisdiction=jurisdiction or derived.jurisdiction or "global",
            consents=derived.consents,
            programmes=chosen,
            restricted=derived.restricted,
            objected=derived.objected,
            gpc=gpc or derived.gpc,
        )

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


_services: dict[int, tuple[Store, ConsentService]] = {}
_lock = threading.Lock()


def service_for(store: Store) -> ConsentService:
    """The one consent service of `store` in this process."""
    with _lock:
        found = _services.get(id(store))
        if found is None or found[0] is not store:
            found = _services[id(store)] = (store, ConsentService(store))
        return found[1]
