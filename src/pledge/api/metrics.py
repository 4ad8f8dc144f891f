"""Prometheus metrics without a client library: counters and a latency histogram per route.

Requests are labelled by route *template* (`/notices/{notice_id}`), never by the raw path, so
neither an attacker nor a person's identifier in a URL can create series. The text exposition
format (version 0.0.4) is small enough to write here.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
UNMATCHED = "unmatched"
_access = logging.getLogger("pledge.access")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
                break
        self.total += 1
        self.sum += seconds


class Metrics:
    """Request counters and latencies of one process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = {}
        self._latency: dict[tuple[str, str], _Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, route, str(status))
            self._requests[key] = self._requests.get(key, 0) + 1
            hist = self._latency.get((method, route))
            if hist is None:
                hist = self._latency[(method, route)] = _Histogram()
            hist.observe(seconds)

    def render(self, gauges: Iterable[Gauge] = ()) -> str:
        """The exposition text: request counters, latency histograms, then `gauges`."""
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted((k, _copy(h)) for k, h in self._latency.items())
        out = [
            "# HELP pledge_http_requests_total HTTP requests answered, by route and status.",
            "# TYPE pledge_http_requests_total counter",
        ]
        for (method, route, status), count in requests:
            labels = _labels({"method": method, "route": route, "status": status})
            out.append(f"pledge_http_requests_total{labels} {count}")
        out += [
            "# HELP pledge_http_request_duration_seconds Time to answer, by route template.",
            "# TYPE pledge_http_request_duration_seconds histogram",
        ]
        for (method, route), hist in latency:
            base = {"method": method, "route": route}
            cumulative = 0
            for bound, count in zip(BUCKETS, hist.counts, strict=True):
                cumulative += count
                le = _labels({**base, "le": _number(bound)})
                out.append(f"pledge_http_request_duration_seconds_bucket{le} {cumulative}")
            inf = _labels({**base, "le": "+Inf"})
            out.append(f"pledge_http_request_duration_seconds_bucket{inf} {hist.total}")
            out.append(f"pledge_http_request_duration_seconds_sum{_labels(base)} {hist.sum:.6f}")
            out.append(f"pledge_http_request_duration_seconds_count{_labels(base)} {hist.total}")
        for gauge in gauges:
            out += gauge.lines()
        return "\n".join(out) + "\n"


def _copy(hist: _Histogram) -> _Histogram:
    return _Histogram(list(hist.counts), hist.total, hist.sum)


@dataclass(frozen=True)
class Gauge:
    """One gauge family: name, help, and values by label set."""

    name: str
    help: str
    values: Mapping[tuple[tuple[str, str], ...], float]

    def lines(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge"]
        for labels, value in sorted(self.values.items()):
            lines.append(f"{self.name}{_labels(dict(labels))} {_number(value)}")
        return lines


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class MetricsMiddleware:
    """Times every HTTP request and counts it under its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            account(self.metrics, scope, template, status, start, self.access_log)


def account(
    metrics: Metrics, scope: Scope, template: str, status: int, start: float, access_log: bool
) -> None:
    """Count one answered request under its route template (and log it when asked).

    Shared by the middleware and the lean routes (`pledge.api.fastpath`), which bypass it.
    """
    method = scope["method"] if scope["method"] in _METHODS else "OTHER"
    elapsed = time.perf_counter() - start
    metrics.observe(method, template, status, elapsed)
    if access_log:  # the template, not the path: no identifiers in the log
        _access.info("%s %s %d %.1fms", method, template, status, elapsed * 1000)
