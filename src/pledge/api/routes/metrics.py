"""GET /metrics: Prometheus text format (requests, latency, jobs, audit head)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from pledge.api.auth import guard
from pledge.api.metrics import CONTENT_TYPE, Gauge
from pledge.api.service import audit_head_seq, job_counts
from pledge.api.state import state_of

router = APIRouter(tags=["service"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics of this process and the shared queue",
    **guard("metrics:read"),
)
def metrics(request: Request) -> PlainTextResponse:
    state = state_of(request)
    jobs = job_counts(state.store)
    gauges = [
        Gauge(
            "pledge_jobs",
            "Jobs in the durable queue by state.",
            {(("state", name),): float(count) for name, count in jobs.items()},
        ),
        Gauge(
            "pledge_audit_head_seq",
            "Sequence number of the newest audit event.",
            {(): float(audit_head_seq(state.store))},
        ),
        Gauge(
            "pledge_manifest_loaded_timestamp_seconds",
            "When the manifest in force was loaded (Unix time).",
            {(("digest", state.holder.manifest.digest[:12]),): state.holder.loaded_at.timestamp()},
        ),
    ]
    return PlainTextResponse(state.metrics.render(gauges), media_type=CONTENT_TYPE)
