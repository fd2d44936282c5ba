"""Client settings (environment prefix `CLIENT_`)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the gateway is, where the clinicians' client secret is, and how long a sign-in lasts."""

    model_config = SettingsConfigDict(env_prefix="CLIENT_", extra="ignore", frozen=True)

    gateway_url: str = "http://127.0.0.1:8080"
    clients_file: str = "var/keys/dev-clients.json"
    client_id: str = "clinician-app"
    session_minutes: int = 55
    secure_cookies: bool = False
    timeout_seconds: float = 15.0
