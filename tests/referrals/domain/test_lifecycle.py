"""The referral lifecycle (FR-4): the whole MOVES table, walked verb by state."""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from services.kit.errors import Conflict
from services.referrals.domain.codes import OPEN_STATES, TASK_STATUS, UNDECIDED_STATES, State
from services.referrals.domain.lifecycle import MOVES, Verb, allowed, check_move
from tests.referrals.domain.assertions import assert_issue

UNDECIDED = {State.RECEIVED, State.TRIAGE}
TERMINAL = (
    State.DECLINED,
    State.REDIRECTED,
    State.CLOSED,
    State.CANCELLED,
    State.ADVICE_ONLY,
    State.SIGNPOSTED,
)

# The table written out by hand from FR-4 and the module docstring, so a change to MOVES is seen.
EXPECTED: dict[Verb, tuple[set[State], set[State]]] = {
    Verb.TRIAGE: ({State.RECEIVED}, {State.TRIAGE}),
    Verb.ACCEPT: (UNDECIDED, {State.ACCEPTED_WAITING}),
    Verb.DECLINE: (UNDECIDED, {State.DECLINED, State.ADVICE_ONLY, State.SIGNPOSTED}),
    Verb.REDIRECT: (UNDECIDED, {State.REDIRECTED}),
    Verb.START: (UNDECIDED | {State.ACCEPTED_WAITING}, {State.STARTED}),
    Verb.COMPLETE: ({State.ACCEPTED_WAITING, State.STARTED}, {State.CLOSED}),
    Verb.CANCEL: (UNDECIDED | {State.ACCEPTED_WAITING}, {State.CANCELLED}),
    Verb.ESCALATE: (UNDECIDED | {State.ACCEPTED_WAITING}, set()),
}

EVERY_VERB_AND_STATE = list(itertools.product(Verb, State))


def test_moves_table_is_exactly_the_specified_lifecycle() -> None:
    assert set(MOVES) == set(Verb)
    assert {verb: (set(sources), set(targets)) for verb, (sources, targets) in MOVES.items()} == EXPECTED


@pytest.mark.parametrize(("verb", "state"), EVERY_VERB_AND_STATE)
def test_allowed_agrees_with_moves_table(verb: Verb, state: State) -> None:
    assert allowed(verb, state) is (state in MOVES[verb][0])
    assert allowed(verb, state) is (state in EXPECTED[verb][0])


@pytest.mark.parametrize(("verb", "state"), [(v, s) for v, s in EVERY_VERB_AND_STATE if s in EXPECTED[v][0]])
def test_check_move_accepts_every_allowed_move(verb: Verb, state: State) -> None:
    check_move(verb, state)


@pytest.mark.parametrize(("verb", "state"), [(v, s) for v, s in EVERY_VERB_AND_STATE if s not in EXPECTED[v][0]])
def test_check_move_refuses_every_illegal_move_with_409(verb: Verb, state: State) -> None:
    with pytest.raises(Conflict) as info:
        check_move(verb, state)
    assert_issue(info.value, status=409, code="conflict", expression=("Task.businessStatus",))
    assert f"Cannot {verb.value} a referral that is {state.value}" in info.value.diagnostics
    for source in MOVES[verb][0]:
        assert source.value in info.value.diagnostics


@pytest.mark.parametrize(("verb", "target"), [(v, t) for v, t in EVERY_VERB_AND_STATE if t in EXPECTED[v][1]])
def test_check_move_accepts_every_target_the_verb_leads_to(verb: Verb, target: State) -> None:
    for source in MOVES[verb][0]:
        check_move(verb, source, target)


@pytest.mark.parametrize(("verb", "target"), [(v, t) for v, t in EVERY_VERB_AND_STATE if t not in EXPECTED[v][1]])
def test_check_move_refuses_a_target_the_verb_cannot_lead_to(verb: Verb, target: State) -> None:
    for source in MOVES[verb][0]:
        with pytest.raises(Conflict) as info:
            check_move(verb, source, target)
        assert_issue(info.value, status=409, code="conflict", expression=("Task.businessStatus",))
        assert info.value.diagnostics == f"{verb.value} cannot lead to {target.value}"


def test_accepted_waiting_cannot_go_back_to_received() -> None:
    assert all(State.RECEIVED not in targets for _, targets in MOVES.values())
    for verb in Verb:
        if allowed(verb, State.ACCEPTED_WAITING):
            with pytest.raises(Conflict):
                check_move(verb, State.ACCEPTED_WAITING, State.RECEIVED)


def test_accepted_waiting_cannot_be_triaged_again() -> None:
    with pytest.raises(Conflict) as info:
        check_move(Verb.TRIAGE, State.ACCEPTED_WAITING, State.TRIAGE)
    assert_issue(info.value, status=409, code="conflict", expression=("Task.businessStatus",))


@pytest.mark.parametrize(("verb", "state"), list(itertools.product(Verb, TERMINAL)))
def test_terminal_state_allows_no_verb(verb: Verb, state: State) -> None:
    assert not allowed(verb, state)
    with pytest.raises(Conflict):
        check_move(verb, state)


def test_terminal_states_are_exactly_the_states_that_are_not_open() -> None:
    assert set(TERMINAL) == set(State) - OPEN_STATES
    assert {s for s in State if any(allowed(v, s) for v in Verb)} == OPEN_STATES


def test_undecided_states_are_where_accept_decline_and_redirect_apply() -> None:
    for verb in (Verb.ACCEPT, Verb.DECLINE, Verb.REDIRECT):
        assert MOVES[verb][0] == UNDECIDED_STATES


def test_started_referral_can_only_be_completed() -> None:
    assert [v for v in Verb if allowed(v, State.STARTED)] == [Verb.COMPLETE]


def test_escalation_is_orthogonal_and_leads_to_no_state() -> None:
    check_move(Verb.ESCALATE, State.RECEIVED)
    for target in State:
        with pytest.raises(Conflict):
            check_move(Verb.ESCALATE, State.RECEIVED, target)


def test_decline_may_end_declined_advice_only_or_signposted() -> None:
    for target in (State.DECLINED, State.ADVICE_ONLY, State.SIGNPOSTED):
        check_move(Verb.DECLINE, State.TRIAGE, target)


def test_every_state_is_reachable_from_received() -> None:
    seen = {State.RECEIVED}
    queue = deque([State.RECEIVED])
    while queue:
        state = queue.popleft()
        for sources, targets in MOVES.values():
            if state in sources:
                for target in targets - seen:
                    seen.add(target)
                    queue.append(target)
    assert seen == set(State)


def test_every_open_state_can_reach_a_terminal_state_in_one_move() -> None:
    for state in OPEN_STATES:
        assert any(state in sources and targets & set(TERMINAL) for sources, targets in MOVES.values())


def test_every_state_has_a_fhir_task_status() -> None:
    assert set(TASK_STATUS) == set(State)
