"""Settings shared by every Continuum process; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service has. Built in `create_app`, never read at import time."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(description="SQLAlchemy async URL (sqlite+aiosqlite or postgresql+asyncpg)")
    max_body_bytes: int = 1_000_000
    default_page_size: int = 20
    max_page_size: int = 500
    event_target_url: str | None = Field(
        default=None, description="Where the outbox dispatcher delivers events (the gateway)"
    )
    dispatch_interval_seconds: float = 1.0
    dispatch_lease_seconds: float = Field(
        default=30.0,
        description="How long a claimed outbox event is held before it falls due again "
        "(a replica killed mid-delivery stalls its stream for at most this long)",
    )
    sweep_interval_seconds: float = 60.0
    run_background_tasks: bool = True
    retry_after_seconds: int = 5
    environment: Literal["development", "production"] = "development"
    auth_public_key_file: str | None = Field(
        default=None,
        description="PEM public key of the gateway's token issuer; unset turns token checks off (development only)",
    )

    token_url: str | None = Field(default=None, description="Where this service gets its own access tokens")
    client_id: str | None = None
    client_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _production_checks_tokens(self) -> ServiceSettings:
        if self.environment == "production" and not self.auth_public_key_file:
            raise ValueError("auth_public_key_file is required in production: tokens are always verified there")
        return self
