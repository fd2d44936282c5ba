"""Settings of the referrals service (environment prefix `REFERRALS_`)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Referrals settings; everything has a development default."""

    model_config = SettingsConfigDict(env_prefix="REFERRALS_", extra="ignore", frozen=True)

    database_url: str = "sqlite+aiosqlite:///var/referrals.db"
    crisis_house_over_limit: Literal["reject", "warn"] = "reject"
    bank_holidays: tuple[date, ...] = ()
    expected_wait_minimum_sample: int = 5
    expected_wait_lookback_days: int = 180
    report_small_cell_threshold: int = 5
    """Strata of a MeasureReport with fewer people than this are suppressed (FR-82); 0 turns it off."""
