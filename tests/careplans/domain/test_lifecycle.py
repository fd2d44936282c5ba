"""The care-plan lifecycle: the whole MOVES table, walked verb by status."""

from __future__ import annotations

import itertools

import pytest

from services.careplans.domain.codes import PlanStatus
from services.careplans.domain.lifecycle import MOVES, Verb, allowed, is_open, next_status
from services.kit.errors import Conflict
from tests.careplans.domain.assertions import assert_issue

D, A, C, R = PlanStatus.DRAFT, PlanStatus.ACTIVE, PlanStatus.COMPLETED, PlanStatus.REVOKED

# The table written out by hand from the module docstring, so a change to MOVES is seen.
EXPECTED: dict[Verb, dict[PlanStatus, PlanStatus]] = {
    Verb.ACTIVATE: {D: A},
    Verb.REVISE: {D: D, A: A},
    Verb.REVIEW: {A: A},
    Verb.COMPLETE: {A: C},
    Verb.SUPERSEDE: {A: R},
}


@pytest.mark.parametrize(("verb", "status"), list(itertools.product(Verb, PlanStatus)))
def test_every_verb_in_every_status(verb: Verb, status: PlanStatus) -> None:
    expected = EXPECTED[verb].get(status)
    assert allowed(verb, status) is (expected is not None)
    if expected is not None:
        assert next_status(verb, status) is expected
        return
    with pytest.raises(Conflict) as info:
        next_status(verb, status)
    assert_issue(info.value, status=409, code="conflict", expression=("CarePlan.status",))


def test_the_table_covers_every_verb_and_only_open_plans_change() -> None:
    assert set(MOVES) == set(Verb)
    assert [s for s in PlanStatus if is_open(s)] == [D, A]
    assert all(not allowed(v, s) for v in Verb for s in (C, R))
