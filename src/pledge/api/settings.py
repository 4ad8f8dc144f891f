"""Settings of the HTTP face, read from `PLEDGE_*` like the rest (see `pledge.config`).

They live here rather than in `pledge.config` because only the API uses them; they are read
from the same environment, so an operator sets them the same way.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """CORS, rate limits, body limit and proxy trust of the API."""

    model_config = SettingsConfigDict(env_prefix="PLEDGE_", extra="ignore")

    cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed to call the API from a browser; "
        "empty: CORS off.",
    )
    public_rate: float = Field(
        default=10.0, gt=0, description="Requests per second per client address on public routes."
    )
    public_burst: int = Field(
        default=60, ge=1, description="Burst of requests a client may make on public routes."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted (413 above)."
    )
    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a checked API key is trusted without a database read; a key "
        "revoked outside this process stops working within this time (0: check every time).",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated proxy addresses whose X-Forwarded-For is believed; "
        "empty: the socket's peer is the client.",
    )

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]
