"""The waiting-time clock, as NHS England defines it (FR-12 to FR-14, FR-21).

The clock starts when the first request is received (the earliest receipt in a redirect chain)
and stops at the earliest moment when all four hold: (a) the person has been seen (face to face,
telephone or video), (b) a meaningful assessment is complete, (c) a baseline outcome score is
recorded, and (d) a clinical or social intervention has started or a co-produced care plan is
complete. With the earliest time of each, the stop is the latest of those four earliest times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from math import ceil
from statistics import median


class Milestone(StrEnum):
    """Things that happen on the way to the clock stop."""

    SEEN = "seen"
    ASSESSED = "assessed"
    BASELINE_OUTCOME = "baseline-outcome-recorded"
    CLINICAL_INTERVENTION = "clinical-intervention-started"
    SOCIAL_INTERVENTION = "social-intervention-started"
    INTERVENTION = "intervention-started"
    CAREPLAN_COMPLETED = "coproduced-careplan-completed"


_TREATMENT = frozenset(
    {
        Milestone.CLINICAL_INTERVENTION,
        Milestone.SOCIAL_INTERVENTION,
        Milestone.INTERVENTION,
        Milestone.CAREPLAN_COMPLETED,
    }
)
CONDITIONS = ("seen", "assessed", "baseline-outcome", "intervention-or-careplan")


@dataclass(frozen=True)
class Event:
    """A milestone at a moment."""

    milestone: Milestone
    at: datetime


def _earliest(events: Iterable[Event], kinds: frozenset[Milestone]) -> datetime | None:
    times = [e.at for e in events if e.milestone in kinds]
    return min(times) if times else None


def condition_times(events: Sequence[Event]) -> dict[str, datetime | None]:
    """When each of the four conditions was first met (None: not yet)."""
    return {
        "seen": _earliest(events, frozenset({Milestone.SEEN})),
        "assessed": _earliest(events, frozenset({Milestone.ASSESSED})),
        "baseline-outcome": _earliest(events, frozenset({Milestone.BASELINE_OUTCOME})),
        "intervention-or-careplan": _earliest(events, _TREATMENT),
    }


def clock_stop(events: Sequence[Event]) -> datetime | None:
    """The clock stop: when the last of the four conditions was first met, or None."""
    times = condition_times(events)
    if any(t is None for t in times.values()):
        return None
    return max(t for t in times.values() if t is not None)


@dataclass(frozen=True)
class Wait:
    """A referral's wait as of `now` (FR-13, FR-14)."""

    clock_start: datetime
    clock_stop: datetime | None
    days_waiting: int
    target_days: int
    breach: bool
    first_contact: datetime | None
    second_contact: datetime | None

    @property
    def days_to_first_contact(self) -> int | None:
        """Whole days from clock start to the first contact (the CYP proxy)."""
        return _days(self.clock_start, self.first_contact)

    @property
    def days_to_second_contact(self) -> int | None:
        """Whole days from clock start to the second contact (the adult proxy)."""
        return _days(self.clock_start, self.second_contact)


def _days(start: datetime, end: datetime | None) -> int | None:
    return None if end is None else (end - start).days


def wait(
    clock_start: datetime,
    events: Sequence[Event],
    contacts: Sequence[datetime],
    now: datetime,
    target_days: int = 28,
) -> Wait:
    """The wait: days from clock start to the stop (or now); a breach past the target (FR-13)."""
    stop = clock_stop(events)
    days = ((stop or now) - clock_start).days
    ordered = sorted(contacts)
    return Wait(
        clock_start=clock_start,
        clock_stop=stop,
        days_waiting=days,
        target_days=target_days,
        breach=days > target_days,
        first_contact=ordered[0] if ordered else None,
        second_contact=ordered[1] if len(ordered) > 1 else None,
    )


def response_target_met(received: datetime, seen: datetime | None, now: datetime, hours: float) -> bool | None:
    """Whether an urgent response target was met (FR-21): None while still within it."""
    deadline = received + timedelta(hours=hours)
    if seen is not None:
        return seen <= deadline
    return False if now > deadline else None


def expected_wait_days(recent_waits: Sequence[int], configured: int | None, minimum_sample: int = 5) -> int | None:
    """What to tell a person about their wait (FR-15): the service's recent median, else its estimate."""
    if len(recent_waits) >= minimum_sample:
        return ceil(median(recent_waits))  # round up: better to under-promise a wait
    return configured


def age_band(birth: date, on: date) -> str:
    """The reporting age band at a date (CYP is under 18: FR-65)."""
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if years < 18:
        return "0-17"
    if years < 26:
        return "18-25"
    if years < 65:
        return "26-64"
    return "65+"
