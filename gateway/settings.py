"""Gateway settings (environment prefix `GATEWAY_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Where the services are, how long to wait for them, and the gateway's own database."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    database_url: str = "sqlite+aiosqlite:///var/gateway.db"
    referrals_url: str = "http://127.0.0.1:8081"
    careplans_url: str = "http://127.0.0.1:8082"
    transitions_url: str = "http://127.0.0.1:8083"
    upstream_timeout_seconds: float = 10.0
    delivery_interval_seconds: float = 1.0
    idempotency_window_hours: int = 24
    public_url: str = "http://127.0.0.1:8080"
    auth_private_key_file: str | None = None
    clients_file: str | None = None
    rate_limit_per_second: float = Field(
        default=1000.0, description="Requests a second each client may send on average (0 switches limiting off)"
    )
    rate_limit_burst: int = Field(default=2000, description="Requests each client may send at once")
