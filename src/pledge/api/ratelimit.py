"""Rate limiting for public routes: a token bucket per client address.

In-process buckets are exact for one API process; with N processes each admits its share,
which keeps abuse bounded without a shared store (see docs/decisions.md).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from fastapi import Request

from pledge.api.problems import Problem


@dataclass
class _Bucket:
    tokens: float
    updated: float


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
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

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
