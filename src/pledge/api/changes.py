"""The change feed: each API process follows the audit log to drop what others changed.

Caches in one process (consent state, verified API keys) must not outlive a change written
by another: a choice recorded through another API process, a restriction set by a worker, a
key revoked with `pledge keys revoke`. Every such change is audited in its own transaction
(DESIGN §2 rule 3), and appenders take turns on the chain's head until they commit, so the
audit log's sequence is commit order. A thread reads the events after the last one seen every
`interval` (one indexed range query; none when nothing changed) and hands them to the
followers. A change shows in every process within about `interval` of its commit.

When the feed cannot tell what changed (more events than a page since the last poll, or it
starts), the followers drop everything; when it cannot read at all, it stops vouching
(`watched`) and the followers fall back to their short time-to-live.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.orm import Session

from pledge.api.keycache import KeyCache
from pledge.errors import PledgeError
from pledge.store import audit
from pledge.store.audit import Event
from pledge.store.db import Store

log = logging.getLogger("pledge.api.changes")

POLL_SECONDS = 0.2
#: How long after a successful poll its followers may still trust their caches.
VOUCH_SECONDS = 1.0
PAGE = audit.MAX_PAGE


class Follower(Protocol):
    """Something holding derived state that the audit events may make stale."""

    def apply_changes(self, events: Sequence[Event]) -> None: ...

    def invalidate(self) -> None: ...

    def watched(self, until: float) -> None: ...


class KeyRevocations:
    """The key cache as a follower: a revoked key is forgotten in every process."""

    def __init__(self, cache: KeyCache) -> None:
        self.cache = cache

    def apply_changes(self, events: Sequence[Event]) -> None:
        for event in events:
            if event.action == "api_key.revoked" and event.object_id:
                self.cache.forget(event.object_id)

    def invalidate(self) -> None:
        self.cache.clear()

    def watched(self, until: float) -> None:
        """Keys keep their own time-to-live (`PLEDGE_KEY_CACHE_SECONDS`)."""


class ChangeFeed:
    """Polls the audit log for new events and passes them to `followers` (see module doc)."""

    def __init__(
        self, store: Store, followers: Sequence[Follower], interval: float = POLL_SECONDS
    ) -> None:
        self.store = store
        self.followers = tuple(followers)
        self.interval = interval
        self.last_seq: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        """Follow the log from its head on (again, after a `stop`)."""
        self.last_seq = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pledge-changes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # a bug must not stop the feed; the caches stop being vouched for
                log.exception("change feed: poll failed")
            self._stop.wait(self.interval)

    def poll(self) -> None:
        """One round: read new events, hand them on, vouch for the followers' caches."""
        started = time.monotonic()
        try:
            with self.store.reader() as session:
                events, position = self._read(session)
        except PledgeError as exc:
            if not self._failing:
                log.warning("change feed: cannot read the audit log (%s); caches expire", exc)
            self._failing = True
            return
        if self._failing:
            log.info("change feed: reading the audit log again")
            self._failing = False
        if position is not None:  # (re)positioned: what came before is unknown
            self.last_seq = position
            for follower in self.followers:
                follower.invalidate()
        elif events:
            self.last_seq = events[-1].seq
            for follower in self.followers:
                follower.apply_changes(events)
        for follower in self.followers:
            follower.watched(started + VOUCH_SECONDS)

    def _read(self, session: Session) -> tuple[list[Event], int | None]:
        """New events, or a new position (the head) when starting or too far behind."""
        if self.last_seq is None:
            return [], audit.head(session)[0]
        page = audit.list_events(session, None, str(self.last_seq), PAGE)
        if page.next_cursor is not None:
            return [], audit.head(session)[0]
        return page.events, None
