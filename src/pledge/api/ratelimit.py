"""Rate limiting for public routes: a token bucket per client address.

`RateLimiter` keeps its buckets in the process: exact for one API process. The API processes
of `pledge serve --workers N` share theirs instead (`SharedRateLimiter`): buckets in one small
file that each process maps into memory, each slot guarded by a byte-range lock, so the
limit holds for the port as a whole and not N times over.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from pledge.api.problems import Problem


@dataclass
class _Bucket:
    tokens: float
    updated: float


def _spend(
    tokens: float, updated: float, now: float, rate: float, burst: int
) -> tuple[float, float]:
    """Refill a bucket to `now` and take one token: (tokens left, 0) or (tokens, seconds to
    wait). The one rule of both limiters."""
    tokens = min(burst, tokens + max(0.0, now - updated) * rate)
    if tokens >= 1:
        return tokens - 1, 0.0
    return tokens, (1 - tokens) / rate


class RateLimiter:
    """`rate` requests per second with bursts of `burst`, per key (client address)."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; returns 0 when allowed, else seconds until the next token."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._evict(now)
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens, wait = _spend(bucket.tokens, bucket.updated, now, self.rate, self.burst)
            bucket.updated = now
            return wait

    def _evict(self, now: float) -> None:
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.burst
        ]
        for key in full or list(self._buckets)[: self.max_keys // 10]:
            del self._buckets[key]

    def check(self, request: Request) -> None:
        """FastAPI dependency body: raise 429 with Retry-After when over the limit."""
        client = request.client.host if request.client else "unknown"
        wait = self.take(client)
        if wait:
            raise Problem(
                429,
                "Too many requests",
                "Slow down and try again later.",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


#: Slots of the shared bucket file; two addresses hashed to one slot share a bucket, which only
#: makes the limit stricter for them (rare with this many slots).
SLOTS = 65_536
_SLOT = struct.Struct("dd")  # tokens, updated (time.monotonic: one clock for every process)


def create_bucket_file(path: Path) -> None:
    """An empty bucket file (every slot full) for `SharedRateLimiter`s to map."""
    with open(path, "wb") as out:
        out.truncate(SLOTS * _SLOT.size)


class SharedRateLimiter(RateLimiter):
    """`RateLimiter` whose buckets live in the file at `path`, shared by every process mapping
    it. A byte-range lock on the slot orders processes; the in-process lock orders threads
    (POSIX record locks do not exclude threads of one process)."""

    def __init__(self, rate: float, burst: int, path: Path) -> None:
        super().__init__(rate, burst)
        self._file = open(path, "r+b")  # noqa: SIM115 - open for the limiter's lifetime
        self._map = mmap.mmap(self._file.fileno(), SLOTS * _SLOT.size)

    def take(self, key: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        offset = int.from_bytes(digest, "big") % SLOTS * _SLOT.size
        with self._lock:
            fcntl.lockf(self._file, fcntl.LOCK_EX, _SLOT.size, offset)
            try:
                tokens, updated = _SLOT.unpack_from(self._map, offset)
                if updated == 0.0:  # never used
                    tokens, updated = float(self.burst), now
                tokens, wait = _spend(tokens, updated, now, self.rate, self.burst)
                _SLOT.pack_into(self._map, offset, tokens, now)
                return wait
            finally:
                fcntl.lockf(self._file, fcntl.LOCK_UN, _SLOT.size, offset)

    def close(self) -> None:
        self._map.close()
        self._file.close()
