"""The five-phase machine (FR-59): the whole STEPS table, walked step by phase."""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from services.kit.errors import Conflict
from services.transitions.domain.phases import (
    CASE_STATUS,
    DISPLAY,
    NUMBER,
    OPEN,
    OPERATIONS,
    STAY,
    STEPS,
    Phase,
    Step,
    allowed,
    check_step,
    next_phase,
)

P = Phase
# The table written out by hand from the five phases (Q-TR-01 to Q-TR-06) and the module
# docstring, so that any change to STEPS is seen here.
EXPECTED: dict[Step, tuple[set[Phase], set[Phase]]] = {
    Step.RECORD_DISCUSSION: ({P.DISCUSSION}, {P.SUPPORT}),
    Step.DECIDE_SUPPORT: ({P.SUPPORT}, {P.PLANNING, P.NOT_NEEDED}),
    Step.REOPEN: ({P.NOT_NEEDED}, {P.SUPPORT}),
    Step.RECORD_MEETING: ({P.PLANNING}, {P.PLANNING}),
    Step.SHARE_PLAN: ({P.PLANNING}, {P.PLANNING}),
    Step.RECORD_AGREEMENT: ({P.PLANNING}, {P.PLANNING, P.ACTION}),
    Step.SET_ACTION_DATE: ({P.ACTION}, {P.ACTION}),
    Step.ACTION_PLAN: ({P.ACTION}, {P.EVALUATION}),
    Step.RECORD_FEEDBACK: ({P.EVALUATION}, {P.EVALUATION}),
    Step.RECORD_HANDOVER: ({P.EVALUATION}, {P.EVALUATION}),
    Step.RECORD_ALTERNATIVE: ({P.EVALUATION}, {P.EVALUATION}),
    Step.REVIEW: ({P.EVALUATION}, {P.EVALUATION}),
    Step.CLOSE: ({P.EVALUATION}, {P.CLOSED}),
    Step.FLAG_HIGH_RISK: (set(OPEN), set()),  # stays where it is
    Step.ESCALATE: ({P.EVALUATION, P.CLOSED}, {P.EVALUATION}),
}
EVERY_PAIR = list(itertools.product(Step, Phase))


def test_the_table_is_exactly_the_specified_machine() -> None:
    assert set(STEPS) == set(Step)
    assert {s: (set(a), set(b)) for s, (a, b) in STEPS.items()} == EXPECTED


@pytest.mark.parametrize(("step", "phase"), EVERY_PAIR)
def test_every_step_in_every_phase_is_allowed_exactly_as_specified(step: Step, phase: Phase) -> None:
    expected = phase in EXPECTED[step][0]
    assert allowed(step, phase) is expected
    if expected:
        check_step(step, phase)
    else:
        with pytest.raises(Conflict) as info:
            check_step(step, phase)
        error = info.value
        assert (error.status, error.issues[0].code, error.expression) == (409, "conflict", ("Task.businessStatus",))
        assert f"Cannot {step.value}" in error.diagnostics
        assert "FR-59" in error.diagnostics


@pytest.mark.parametrize(("step", "target"), EVERY_PAIR)
def test_every_step_leads_only_where_specified(step: Step, target: Phase) -> None:
    for source in EXPECTED[step][0]:
        if target in (EXPECTED[step][1] or {source}):
            assert next_phase(step, source, target) is target
        else:
            with pytest.raises(Conflict) as info:
                check_step(step, source, target)
            assert info.value.expression == ("Task.businessStatus",)


def test_a_step_with_one_destination_needs_no_target() -> None:
    assert next_phase(Step.RECORD_DISCUSSION, P.DISCUSSION) is P.SUPPORT
    assert next_phase(Step.RECORD_MEETING, P.PLANNING) is P.PLANNING
    assert next_phase(Step.ESCALATE, P.CLOSED) is P.EVALUATION
    assert next_phase(Step.FLAG_HIGH_RISK, P.ACTION) is P.ACTION


def test_the_high_risk_flag_never_moves_a_case() -> None:
    assert STEPS[Step.FLAG_HIGH_RISK][1] == STAY
    for phase in OPEN:
        assert next_phase(Step.FLAG_HIGH_RISK, phase) is phase


def test_a_step_with_two_destinations_must_be_told_which() -> None:
    with pytest.raises(ValueError, match="several"):
        next_phase(Step.DECIDE_SUPPORT, P.SUPPORT)


def test_phases_complete_in_order_one_to_five() -> None:
    """FR-59: the only moves between numbered phases go from n to n+1."""
    for step, (sources, targets) in STEPS.items():
        for source, target in itertools.product(sources, targets):
            if source in NUMBER and target in NUMBER and source is not target:
                assert NUMBER[target] == NUMBER[source] + 1, (step, source, target)


def test_recording_phase_4_while_in_phase_2_is_a_conflict() -> None:
    """FR-59's acceptance test, in the domain."""
    for step in (Step.SET_ACTION_DATE, Step.ACTION_PLAN):
        with pytest.raises(Conflict):
            check_step(step, P.SUPPORT)


def test_every_phase_is_reachable_from_the_first() -> None:
    seen = {P.DISCUSSION}
    queue = deque([P.DISCUSSION])
    while queue:
        phase = queue.popleft()
        for sources, targets in STEPS.values():
            if phase in sources:
                for target in targets - seen:
                    seen.add(target)
                    queue.append(target)
    assert seen == set(Phase)


def test_every_open_phase_can_still_reach_closed() -> None:
    for start in OPEN:
        seen, queue = {start}, deque([start])
        while queue:
            phase = queue.popleft()
            for sources, targets in STEPS.values():
                if phase in sources:
                    for target in targets - seen:
                        seen.add(target)
                        queue.append(target)
        assert P.CLOSED in seen, start


def test_a_closed_case_only_reopens_for_a_declined_referral() -> None:
    assert [s for s in Step if allowed(s, P.CLOSED)] == [Step.ESCALATE]
    assert [s for s in Step if allowed(s, P.NOT_NEEDED)] == [Step.REOPEN]


def test_clients_cannot_call_the_escalation_step() -> None:
    assert Step.ESCALATE not in OPERATIONS
    assert set(OPERATIONS) == set(Step) - {Step.ESCALATE}


def test_every_phase_has_a_display_and_a_task_status() -> None:
    assert set(DISPLAY) == set(Phase) == set(CASE_STATUS)
    assert {p for p, s in CASE_STATUS.items() if s == "in-progress"} == set(OPEN)
    assert sorted(NUMBER.values()) == [1, 2, 3, 4, 5]
