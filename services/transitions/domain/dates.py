"""Ages and deadlines with calendar-month arithmetic (FR-53, FR-57, FR-63, FR-65).

Adding months keeps the day of the month, or takes the month's last day when it is shorter:
a 29 February birth reaches 18 on 28 February in a year that is not a leap year, and
31 March + 6 months is 30 September. Every age here is defined by that one function, so "the
day before the 18th birthday" and "the 18th birthday" mean the same thing to every rule.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date


def add_months(start: date, months: int) -> date:
    """`start` plus whole calendar months; a day the month lacks becomes its last day."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def age_in_months(birth: date, on: date) -> int:
    """Whole months of age on a date (the months added to `birth` that do not pass `on`)."""
    if on < birth:
        return 0
    months = (on.year - birth.year) * 12 + on.month - birth.month
    while months > 0 and add_months(birth, months) > on:
        months -= 1
    return months


def age_in_years(birth: date, on: date) -> int:
    """Whole years of age on a date."""
    return age_in_months(birth, on) // 12


def describe_age(months: int) -> str:
    """An age as `17y 6m`."""
    return f"{months // 12}y {months % 12}m"


@dataclass(frozen=True)
class Thresholds:
    """The configurable age thresholds (Q-TR-12: configurable, never hard exclusions)."""

    worklist_from_months: int = 17 * 12  # P-6: suggested default 17y0m
    phase1_deadline_months: int = 17 * 12 + 6  # Q-TR-02: before 17½
    adult_years: int = 18  # Q-TR-22: CYP is 0 to 17 years + 364 days
    young_adult_to_years: int = 25  # P-10: young-adult band 18-25 by default

    def __post_init__(self) -> None:
        if not 0 < self.worklist_from_months <= self.phase1_deadline_months:
            raise ValueError("the worklist lead-in age must be positive and not after the phase-1 deadline")
        if not 0 < self.adult_years <= self.young_adult_to_years:
            raise ValueError("the young-adult band must start at adulthood and end at or after it")


DEFAULT = Thresholds()


def phase1_deadline(birth: date, thresholds: Thresholds = DEFAULT) -> date:
    """The date by which the pre-transition discussion is due: DOB + 17 years 6 months (FR-53)."""
    return add_months(birth, thresholds.phase1_deadline_months)


def worklist_from(birth: date, thresholds: Thresholds = DEFAULT) -> date:
    """The date from which a young person appears on the phase-1 worklist (DOB + 17y0m)."""
    return add_months(birth, thresholds.worklist_from_months)


def adulthood(birth: date, thresholds: Thresholds = DEFAULT) -> date:
    """The 18th birthday: the default planned action date (FR-57)."""
    return add_months(birth, thresholds.adult_years * 12)


def late_initiation(discussed_on: date, birth: date, thresholds: Thresholds = DEFAULT) -> bool:
    """A discussion on or after the 17½ deadline is late (FR-53)."""
    return discussed_on >= phase1_deadline(birth, thresholds)


def on_worklist(birth: date, today: date, thresholds: Thresholds = DEFAULT) -> bool:
    """Whether a young person is at or past the worklist lead-in age today."""
    return today >= worklist_from(birth, thresholds)


def is_cyp(birth: date, on: date, thresholds: Thresholds = DEFAULT) -> bool:
    """Whether the person is a child or young person on a date: under 18 (FR-65)."""
    return on < adulthood(birth, thresholds)


def age_band(birth: date, on: date, thresholds: Thresholds = DEFAULT) -> str:
    """The reporting age band at the event date (FR-65): `0-17`, `18-25`, then `26+`."""
    years = age_in_years(birth, on)
    if years < thresholds.adult_years:
        return f"0-{thresholds.adult_years - 1}"
    if years <= thresholds.young_adult_to_years:
        return f"{thresholds.adult_years}-{thresholds.young_adult_to_years}"
    return f"{thresholds.young_adult_to_years + 1}+"


def overdue(planned: date, actioned: bool, today: date) -> bool:
    """A plan not actioned by its planned date is overdue from the day after it (FR-57)."""
    return not actioned and today > planned


def days_until(deadline: date, today: date) -> int:
    """Days from today to a deadline (negative once it has passed)."""
    return (deadline - today).days


def continuity_gap(cyp_end: date, adult_start: date | None) -> int | None:
    """Days without care between the CYPMHS end and the adult start (FR-63); 0 when they
    overlap or meet, None when the adult start is not known."""
    if adult_start is None:
        return None
    return max(0, (adult_start - cyp_end).days)
