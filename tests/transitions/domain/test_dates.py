"""Ages and deadlines at their edges: 17½, the lead-in age, the 18th birthday, 29 February (FR-53, FR-57,
FR-63, FR-65)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.transitions.domain import dates
from services.transitions.domain.dates import Thresholds


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2008, 3, 15), 210, date(2025, 9, 15)),
        (date(2008, 3, 31), 6, date(2008, 9, 30)),
        (date(2008, 1, 31), 1, date(2008, 2, 29)),
        (date(2009, 1, 31), 1, date(2009, 2, 28)),
        (date(2008, 2, 29), 12, date(2009, 2, 28)),
        (date(2008, 2, 29), 48, date(2012, 2, 29)),
        (date(2008, 12, 15), 1, date(2009, 1, 15)),
        (date(2008, 12, 15), 0, date(2008, 12, 15)),
        (date(2008, 5, 31), 216, date(2026, 5, 31)),
    ],
)
def test_calendar_month_arithmetic(start: date, months: int, expected: date) -> None:
    assert dates.add_months(start, months) == expected


def test_the_17_and_a_half_deadline_of_the_requirement() -> None:
    """FR-53: DOB 2008-03-15 gives deadline 2025-09-15."""
    assert dates.phase1_deadline(date(2008, 3, 15)) == date(2025, 9, 15)


def test_a_discussion_on_the_deadline_is_late_and_the_day_before_is_not() -> None:
    """FR-53: a discussion dated 2025-09-15 is late, one dated 2025-09-14 on time."""
    birth = date(2008, 3, 15)
    assert dates.late_initiation(date(2025, 9, 15), birth) is True
    assert dates.late_initiation(date(2025, 9, 14), birth) is False
    assert dates.late_initiation(date(2025, 9, 16), birth) is True


@pytest.mark.parametrize(
    ("birth", "deadline", "eighteenth"),
    [
        (date(2008, 2, 29), date(2025, 8, 29), date(2026, 2, 28)),  # 18th birthday in a common year
        (date(2004, 2, 29), date(2021, 8, 29), date(2022, 2, 28)),
        (date(2007, 8, 29), date(2025, 2, 28), date(2025, 8, 29)),  # deadline falls on a missing 29 Feb
        (date(2006, 8, 31), date(2024, 2, 29), date(2024, 8, 31)),  # ... and on a leap day that exists
        (date(2007, 8, 31), date(2025, 2, 28), date(2025, 8, 31)),
        (date(2008, 3, 31), date(2025, 9, 30), date(2026, 3, 31)),  # 30-day month takes its last day
    ],
)
def test_missing_days_resolve_to_the_last_day_of_the_month(birth: date, deadline: date, eighteenth: date) -> None:
    assert dates.phase1_deadline(birth) == deadline
    assert dates.adulthood(birth) == eighteenth
    assert dates.late_initiation(deadline - timedelta(days=1), birth) is False
    assert dates.late_initiation(deadline, birth) is True


@pytest.mark.parametrize(
    "birth", [date(2008, 10, 1), date(2008, 2, 29), date(2007, 12, 31), date(2008, 1, 1), date(2008, 3, 31)]
)
def test_the_day_before_the_18th_birthday_is_cyp_and_the_birthday_is_not(birth: date) -> None:
    """FR-65: CYP is 0 to 17 years plus 364 days; age is computed at the event date."""
    eighteenth = dates.adulthood(birth)
    day_before = eighteenth - timedelta(days=1)
    assert dates.is_cyp(birth, day_before) is True
    assert dates.age_band(birth, day_before) == "0-17"
    assert dates.age_in_years(birth, day_before) == 17
    assert dates.is_cyp(birth, eighteenth) is False
    assert dates.age_band(birth, eighteenth) == "18-25"
    assert dates.age_in_years(birth, eighteenth) == 18


def test_a_29_february_birth_turns_18_on_28_february_in_a_common_year() -> None:
    birth = date(2008, 2, 29)
    assert dates.is_cyp(birth, date(2026, 2, 27))
    assert not dates.is_cyp(birth, date(2026, 2, 28))
    assert dates.age_band(birth, date(2026, 3, 1)) == "18-25"


@pytest.mark.parametrize(
    ("on", "band"),
    [
        (date(2008, 10, 1), "0-17"),
        (date(2034, 9, 30), "18-25"),
        (date(2034, 10, 1), "26+"),
        (date(2060, 1, 1), "26+"),
    ],
)
def test_age_bands(on: date, band: str) -> None:
    assert dates.age_band(date(2008, 10, 1), on) == band


def test_age_bands_are_configurable() -> None:
    """P-10: the young-adult band is configurable (16-25 and 18-25 both appear in the seeds)."""
    wide = Thresholds(adult_years=18, young_adult_to_years=30)
    assert dates.age_band(date(2000, 1, 1), date(2029, 6, 1), wide) == "18-30"
    assert dates.age_band(date(2000, 1, 1), date(2031, 6, 1), wide) == "31+"


def test_ages_in_months_and_years() -> None:
    birth = date(2008, 3, 15)
    assert dates.age_in_months(birth, date(2025, 9, 14)) == 209
    assert dates.age_in_months(birth, date(2025, 9, 15)) == 210
    assert dates.age_in_months(birth, date(2000, 1, 1)) == 0
    assert dates.describe_age(210) == "17y 6m"
    assert dates.age_in_months(date(2008, 1, 31), date(2008, 2, 29)) == 1  # the month's last day counts


def test_the_worklist_lead_in_age_starts_on_the_17th_birthday() -> None:
    """P-6: at or past 17y0m by default."""
    birth = date(2008, 10, 1)
    assert dates.worklist_from(birth) == date(2025, 10, 1)
    assert not dates.on_worklist(birth, date(2025, 9, 30))
    assert dates.on_worklist(birth, date(2025, 10, 1))
    earlier = Thresholds(worklist_from_months=16 * 12 + 6)
    assert dates.on_worklist(birth, date(2025, 4, 1), earlier)


def test_overdue_starts_the_day_after_the_planned_date() -> None:
    """FR-57: the day after the planned date with no action gives overdue."""
    planned = date(2026, 10, 1)
    assert not dates.overdue(planned, False, planned - timedelta(days=1))
    assert not dates.overdue(planned, False, planned)
    assert dates.overdue(planned, False, planned + timedelta(days=1))
    assert not dates.overdue(planned, True, planned + timedelta(days=30))


def test_the_continuity_gap() -> None:
    """FR-63: days between the CYPMHS end and the adult start; none when they overlap or meet."""
    end = date(2026, 10, 1)
    assert dates.continuity_gap(end, date(2026, 10, 11)) == 10
    assert dates.continuity_gap(end, end) == 0
    assert dates.continuity_gap(end, date(2026, 9, 1)) == 0
    assert dates.continuity_gap(end, None) is None


def test_days_until_a_deadline() -> None:
    assert dates.days_until(date(2026, 1, 10), date(2026, 1, 5)) == 5
    assert dates.days_until(date(2026, 1, 5), date(2026, 1, 10)) == -5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"worklist_from_months": 0},
        {"worklist_from_months": 211, "phase1_deadline_months": 210},
        {"adult_years": 26, "young_adult_to_years": 25},
        {"adult_years": 0},
    ],
)
def test_thresholds_that_contradict_each_other_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must"):
        Thresholds(**kwargs)
