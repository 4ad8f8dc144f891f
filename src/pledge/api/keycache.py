"""A short-lived, in-process cache of verified API keys (see `KeyCache`)."""

from __future__ import annotations

import hashlib
import threading
import time

from pledge.apikeys import KeyRecord


class KeyCache:
    """Keys verified in the last few seconds, by a hash of the secret (never the secret).

    Checking a key is a database read; a service answering many requests with the same key
    need not repeat it every time. Revoking takes effect at once in the process that revokes
    (`forget`), and in the others when their change feed (`pledge.api.changes`) sees the
    revocation in the audit log, a fraction of a second later; `ttl` bounds it when no feed
    runs. Unknown keys are never cached, so a key created a moment ago works at once.

    A check that started before a `forget` must not put back what was forgotten: callers
    take a `token()` before reading the database and hand it to `put`, which ignores stale
    ones.
    """

    def __init__(self, ttl: float = 5.0, max_size: int = 10_000) -> None:
        self.ttl, self.max_size = ttl, max_size
        self._entries: dict[bytes, tuple[float, KeyRecord]] = {}
        self._epoch = 0
        self._lock = threading.Lock()

    @staticmethod
    def _digest(secret: str) -> bytes:
        return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()

    def get(self, secret: str) -> KeyRecord | None:
        if self.ttl <= 0:
            return None
        digest = self._digest(secret)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[digest]
                return None
            return entry[1]

    def token(self) -> int:
        """Take before a database check; `put` drops the result if a forget came between."""
        return self._epoch

    def put(self, secret: str, record: KeyRecord, token: int | None = None) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if token is not None and token != self._epoch:
                return
            if len(self._entries) >= self.max_size:
                self._entries.clear()
            self._entries[self._digest(secret)] = (time.monotonic() + self.ttl, record)

    def forget(self, key_id: str) -> None:
        """Stop trusting key `key_id` (revoked here or, as the change feed saw, elsewhere)."""
        with self._lock:
            self._epoch += 1
            for digest in [d for d, (_, r) in self._entries.items() if r.id == key_id]:
                del self._entries[digest]

    def clear(self) -> None:
        """Trust nothing cached (the change feed lost track of what changed)."""
        with self._lock:
            self._epoch += 1
            self._entries.clear()
