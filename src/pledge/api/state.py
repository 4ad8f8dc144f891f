"""What every request of one running service shares: settings, store, manifest, meters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from pledge.api.keycache import KeyCache
from pledge.api.metrics import Metrics
from pledge.api.ratelimit import RateLimiter
from pledge.api.service import HealthCheck
from pledge.api.settings import ApiSettings
from pledge.config import Settings
from pledge.manifest_holder import ManifestHolder
from pledge.store.db import Store
from pledge.store.jobs import WorkerThread


@dataclass
class AppState:
    """The service's shared objects, reachable from any request as `state_of(request)`."""

    settings: Settings
    api: ApiSettings
    store: Store
    holder: ManifestHolder
    limiter: RateLimiter
    metrics: Metrics = field(default_factory=lambda: Metrics())
    start_worker: bool = False
    worker: WorkerThread | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    health: HealthCheck = field(init=False)
    key_cache: KeyCache = field(init=False)

    def __post_init__(self) -> None:
        self.health = HealthCheck(self.store)
        self.key_cache = KeyCache(self.api.key_cache_seconds)

    def worker_state(self) -> str:
        if not self.start_worker:
            return "disabled"
        if self.worker is not None and self.worker.is_alive():
            return "running"
        return "stopped"


def state_of(request: Request) -> AppState:
    state = request.app.state.pledge
    assert isinstance(state, AppState)
    return state
