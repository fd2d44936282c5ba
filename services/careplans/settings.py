"""Settings of the care-plans service (environment prefix `CAREPLANS_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Care-plans settings; everything has a development default."""

    model_config = SettingsConfigDict(env_prefix="CAREPLANS_", extra="ignore", frozen=True)

    database_url: str = "sqlite+aiosqlite:///var/careplans.db"
    # Clinical-domain §1.5: below these counts of answered items no score is published. They are
    # not DIALOG-authored; confirm them with clinical leads.
    sqol_minimum_items: int = Field(default=6, ge=1, le=8)
    treatment_minimum_items: int = Field(default=2, ge=1, le=3)
    report_small_cell_threshold: int = Field(default=5, ge=0)
    """Strata of a MeasureReport with fewer than this are suppressed (FR-82); 0 turns it off."""
    report_lookback_days: int = Field(default=365, ge=1)
    """The window, ending at the period end, that defines service users and DIALOG+ use (FR-83)."""
