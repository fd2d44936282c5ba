"""Settings of the transitions service (environment prefix `TRANSITIONS_`)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings
from services.transitions.domain.dates import Thresholds


class Settings(ServiceSettings):
    """Transitions settings; everything has a development default. Ages are configurable (Q-TR-12)."""

    model_config = SettingsConfigDict(env_prefix="TRANSITIONS_", extra="ignore", frozen=True)

    database_url: str = "sqlite+aiosqlite:///var/transitions.db"
    gateway_url: str = Field(
        default="http://127.0.0.1:8080",
        description="The gateway, through which this service reads caseloads and patients and sends referrals",
    )
    upstream_timeout_seconds: float = 10.0
    timezone: str = Field(default="Europe/London", description="Where 'today' is, for deadlines and due dates")
    worklist_from_months: int = Field(default=17 * 12, description="Lead-in age of the phase-1 worklist (P-6)")
    phase1_deadline_months: int = Field(default=17 * 12 + 6, description="Phase 1 is due before this age (17½)")
    adult_years: int = Field(default=18, description="CYP is 0 to this age less a day (FR-65)")
    young_adult_to_years: int = Field(default=25, description="The young-adult band ends at this age (P-10)")
    report_small_cell_threshold: int = Field(
        default=5, ge=0, description="Strata of a MeasureReport with fewer than this are suppressed (FR-82); 0: off"
    )

    @property
    def thresholds(self) -> Thresholds:
        """The age thresholds the domain works with."""
        return Thresholds(
            self.worklist_from_months, self.phase1_deadline_months, self.adult_years, self.young_adult_to_years
        )

    @model_validator(mode="after")
    def _thresholds_are_consistent(self) -> Settings:
        self.thresholds  # noqa: B018 - raises ValueError when the ages contradict each other
        return self
