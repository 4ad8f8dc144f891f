"""What every request of one running app shares: the installation, and the app's own meters.

The installation (`pledge.runtime`) holds the settings, store and manifest every face
shares; the rest here (rate limiter, metrics, key cache, embedded worker) belongs to this app.
"""

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
from pledge.requests.preflight import Monitor
from pledge.runtime.installation import Installation
from pledge.store.db import Store
from pledge.store.jobs import WorkerThread


@dataclass
class AppState:
    """The app's shared objects, reachable from any request as `state_of(request)`."""

    installation: Installation
    api: ApiSettings
    limiter: RateLimiter
    metrics: Metrics = field(default_factory=lambda: Metrics())
    start_worker: bool = False
    worker: WorkerThread | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    preflight: Monitor | None = None
    """The datasets checked against the databases (`pledge serve`), in the background."""
    health: HealthCheck = field(init=False)
    key_cache: KeyCache = field(init=False)

    def __post_init__(self) -> None:
        if self.installation.holder is None:
            raise ValueError("an app serves a manifest: the installation has none")
        self.health = HealthCheck(self.store)
        self.key_cache = KeyCache(self.api.key_cache_seconds)

    @property
    def settings(self) -> Settings:
        return self.installation.settings

    @property
    def store(self) -> Store:
        return self.installation.store

    @property
    def holder(self) -> ManifestHolder:
        holder = self.installation.holder
        assert holder is not None  # checked when built
        return holder

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
