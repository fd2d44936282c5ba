"""The NHS England waiting clock (FR-12 to FR-15, FR-21) and the reporting age bands (FR-65)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from services.referrals.domain.waiting import (
    CONDITIONS,
    Event,
    Milestone,
    age_band,
    clock_stop,
    condition_times,
    expected_wait_days,
    response_target_met,
    wait,
)

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # Monday


def at(days: float = 0, hours: float = 0) -> datetime:
    return START + timedelta(days=days, hours=hours)


def event(milestone: Milestone, days: float) -> Event:
    return Event(milestone, at(days))


A_TO_C = [
    event(Milestone.SEEN, 2),
    event(Milestone.ASSESSED, 5),
    event(Milestone.BASELINE_OUTCOME, 6),
]
TREATMENT = (
    Milestone.CLINICAL_INTERVENTION,
    Milestone.SOCIAL_INTERVENTION,
    Milestone.INTERVENTION,
    Milestone.CAREPLAN_COMPLETED,
)

# ---------------------------------------------------------------- clock stop (FR-12)


def test_clock_does_not_stop_without_events() -> None:
    assert clock_stop([]) is None


def test_clock_does_not_stop_with_seen_assessed_and_baseline_only() -> None:
    assert clock_stop(A_TO_C) is None


def test_coproduced_careplan_completion_stops_the_clock_at_that_time() -> None:
    completed = at(days=9, hours=3)
    events = [*A_TO_C, Event(Milestone.CAREPLAN_COMPLETED, completed)]
    assert clock_stop(events) == completed


@pytest.mark.parametrize("treatment", TREATMENT)
def test_any_intervention_or_careplan_meets_the_fourth_condition(treatment: Milestone) -> None:
    assert clock_stop([*A_TO_C, event(treatment, 8)]) == at(8)


@pytest.mark.parametrize("missing", [Milestone.SEEN, Milestone.ASSESSED, Milestone.BASELINE_OUTCOME])
def test_clock_does_not_stop_while_one_of_a_to_c_is_missing(missing: Milestone) -> None:
    events = [e for e in A_TO_C if e.milestone is not missing]
    events += [event(m, 8) for m in TREATMENT]
    assert clock_stop(events) is None


def test_clock_stop_is_the_latest_of_the_four_earliest_times() -> None:
    events = [
        event(Milestone.SEEN, 1),
        event(Milestone.SEEN, 10),
        event(Milestone.ASSESSED, 3),
        event(Milestone.ASSESSED, 20),
        event(Milestone.BASELINE_OUTCOME, 7),
        event(Milestone.BASELINE_OUTCOME, 30),
        event(Milestone.CLINICAL_INTERVENTION, 5),
        event(Milestone.CAREPLAN_COMPLETED, 4),
    ]
    assert clock_stop(events) == at(7)


def test_clock_stop_can_be_set_by_the_contact_coming_last() -> None:
    events = [
        event(Milestone.ASSESSED, 1),
        event(Milestone.BASELINE_OUTCOME, 2),
        event(Milestone.INTERVENTION, 3),
        event(Milestone.SEEN, 12),
    ]
    assert clock_stop(events) == at(12)


def test_duplicate_milestones_count_from_their_earliest_time() -> None:
    events = [
        *A_TO_C,
        event(Milestone.CAREPLAN_COMPLETED, 15),
        event(Milestone.CAREPLAN_COMPLETED, 9),
        event(Milestone.CAREPLAN_COMPLETED, 12),
    ]
    assert clock_stop(events) == at(9)


def test_clock_stop_does_not_depend_on_event_order() -> None:
    events = [*A_TO_C, event(Milestone.SEEN, 1), event(Milestone.SOCIAL_INTERVENTION, 11)]
    expected = clock_stop(events)
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    assert clock_stop(shuffled) == clock_stop(list(reversed(events))) == expected == at(11)


def test_condition_times_reports_each_condition_earliest_or_none() -> None:
    events = [event(Milestone.SEEN, 4), event(Milestone.SEEN, 2), event(Milestone.SOCIAL_INTERVENTION, 6)]
    times = condition_times(events)
    assert tuple(times) == CONDITIONS
    assert times == {
        "seen": at(2),
        "assessed": None,
        "baseline-outcome": None,
        "intervention-or-careplan": at(6),
    }


# ---------------------------------------------------------------- four-week standard (FR-13, FR-14)


def test_referral_waiting_29_days_without_a_stop_breaches_four_weeks() -> None:
    result = wait(START, [], [], now=at(29))
    assert result.clock_stop is None
    assert result.days_waiting == 29
    assert result.target_days == 28
    assert result.breach is True


def test_referral_waiting_exactly_28_days_does_not_breach() -> None:
    result = wait(START, [], [], now=at(28))
    assert result.days_waiting == 28
    assert result.breach is False


def test_days_waiting_counts_whole_days_only() -> None:
    result = wait(START, [], [], now=at(28, hours=23))
    assert result.days_waiting == 28
    assert result.breach is False


def test_stopped_clock_measures_to_the_stop_not_to_now() -> None:
    events = [*A_TO_C, event(Milestone.CAREPLAN_COMPLETED, 20)]
    result = wait(START, events, [], now=at(90))
    assert result.clock_stop == at(20)
    assert result.days_waiting == 20
    assert result.breach is False


def test_stop_after_29_days_is_a_breach_however_late_now_is() -> None:
    events = [*A_TO_C, event(Milestone.INTERVENTION, 29)]
    assert wait(START, events, [], now=at(400)).breach is True


def test_target_is_configurable_per_service() -> None:
    assert wait(START, [], [], now=at(300), target_days=365).breach is False
    assert wait(START, [], [], now=at(366), target_days=365).breach is True


def test_first_and_second_contact_intervals_are_in_days() -> None:
    contacts = [at(9, hours=5), at(2, hours=1), at(5)]
    result = wait(START, [], contacts, now=at(10))
    assert result.first_contact == at(2, hours=1)
    assert result.second_contact == at(5)
    assert result.days_to_first_contact == 2
    assert result.days_to_second_contact == 5


def test_one_contact_gives_no_second_contact_time() -> None:
    result = wait(START, [], [at(3)], now=at(10))
    assert result.days_to_first_contact == 3
    assert result.second_contact is None
    assert result.days_to_second_contact is None


def test_no_contacts_gives_no_contact_times() -> None:
    result = wait(START, [], [], now=at(10))
    assert result.first_contact is None
    assert result.days_to_first_contact is None
    assert result.days_to_second_contact is None


# ---------------------------------------------------------------- urgent response targets (FR-21)


def test_very_urgent_referral_seen_after_five_hours_misses_the_four_hour_target() -> None:
    assert response_target_met(START, at(hours=5), now=at(hours=6), hours=4) is False


def test_very_urgent_referral_seen_after_three_hours_meets_the_target() -> None:
    assert response_target_met(START, at(hours=3), now=at(hours=6), hours=4) is True


def test_referral_seen_exactly_at_the_deadline_meets_the_target() -> None:
    assert response_target_met(START, at(hours=4), now=at(hours=4), hours=4) is True


def test_target_is_undecided_while_not_yet_seen_within_the_window() -> None:
    assert response_target_met(START, None, now=at(hours=3), hours=4) is None
    assert response_target_met(START, None, now=at(hours=4), hours=4) is None


def test_target_is_missed_when_not_seen_and_the_window_has_passed() -> None:
    assert response_target_met(START, None, now=at(hours=4) + timedelta(seconds=1), hours=4) is False


def test_liaison_one_hour_target_counts_minutes() -> None:
    assert response_target_met(START, START + timedelta(minutes=59), now=at(hours=2), hours=1) is True
    assert response_target_met(START, START + timedelta(minutes=61), now=at(hours=2), hours=1) is False


# ---------------------------------------------------------------- expected wait (FR-15)


def test_expected_wait_is_the_median_once_the_sample_is_big_enough() -> None:
    assert expected_wait_days([40, 10, 30, 20, 50], configured=99) == 30


def test_expected_wait_median_of_an_even_sample() -> None:
    assert expected_wait_days([10, 20, 30, 40, 50, 60], configured=99) == 35


def test_expected_wait_uses_the_configured_estimate_below_the_minimum_sample() -> None:
    assert expected_wait_days([1, 2, 3, 4], configured=21) == 21


def test_expected_wait_is_none_with_no_sample_and_no_estimate() -> None:
    assert expected_wait_days([], configured=None) is None


def test_expected_wait_minimum_sample_is_configurable() -> None:
    assert expected_wait_days([7, 9], configured=21, minimum_sample=2) == 8
    assert expected_wait_days([7, 9, 11], configured=21, minimum_sample=4) == 21


# ---------------------------------------------------------------- age bands (FR-65)


@pytest.mark.parametrize(
    ("birth", "on", "band"),
    [
        (date(2008, 6, 15), date(2026, 6, 14), "0-17"),  # the day before the 18th birthday
        (date(2008, 6, 15), date(2026, 6, 15), "18-25"),  # the 18th birthday
        (date(2008, 1, 1), date(2025, 12, 31), "0-17"),
        (date(2008, 1, 1), date(2026, 1, 1), "18-25"),
        (date(2000, 6, 15), date(2026, 6, 14), "18-25"),  # the day before the 26th birthday
        (date(2000, 6, 15), date(2026, 6, 15), "26-64"),
        (date(1961, 6, 15), date(2026, 6, 14), "26-64"),
        (date(1961, 6, 15), date(2026, 6, 15), "65+"),
        (date(2026, 1, 5), date(2026, 1, 5), "0-17"),  # born today
        # A 29 February birth reaches 18 (and 26, and 65) in a common year: on 1 March.
        (date(2008, 2, 29), date(2026, 2, 28), "0-17"),
        (date(2008, 2, 29), date(2026, 3, 1), "18-25"),
        (date(2000, 2, 29), date(2026, 2, 28), "18-25"),
        (date(2000, 2, 29), date(2026, 3, 1), "26-64"),
        (date(2008, 2, 29), date(2024, 2, 29), "0-17"),  # a real birthday: 16
        # A 1 March birth is still 17 on 29 February of a leap year.
        (date(2006, 3, 1), date(2024, 2, 29), "0-17"),
        (date(2006, 3, 1), date(2024, 3, 1), "18-25"),
    ],
)
def test_age_band_at_the_event_date(birth: date, on: date, band: str) -> None:
    assert age_band(birth, on) == band
