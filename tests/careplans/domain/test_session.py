"""DIALOG+ session rules (FR-35, FR-36): up to three domains, actions, and reviewing open actions first."""

from __future__ import annotations

import pytest

from services.careplans.domain.codes import EXT_ACTION_REVIEW, ActionReview, GoalKind, Performer
from services.careplans.domain.dialog import ITEM_BY_ID
from services.careplans.domain.session import (
    ActionState,
    AgreedAction,
    ChosenDomain,
    Review,
    action_activity,
    actions_of,
    check_session,
    domain_goal,
    record_review,
)
from services.kit.errors import FhirError, RequiredMissing, Unprocessable
from tests.careplans.domain.assertions import assert_issue

ACTION = AgreedAction("Write to the council", Performer.PERSON, None, "2026-01-19", "action-where")


def chosen(item: str, *actions: AgreedAction, where: str = "domain-where") -> ChosenDomain:
    return ChosenDomain(
        ITEM_BY_ID[item], "what works", "best case", "options", GoalKind.RECOVERY, actions or (ACTION,), where
    )


OPEN = ActionState("a-1", "Call the GP", open=True)
OPEN_2 = ActionState("a-2", "Join the walking group", open=True)
CLOSED = ActionState("a-3", "Fill the form", open=False)


def test_up_to_three_distinct_domains_each_with_an_action() -> None:
    check_session([chosen("accommodation"), chosen("leisure"), chosen("mental-health")], [], [])
    check_session([], [], [OPEN])


def test_a_fourth_domain_is_refused_naming_it() -> None:
    domains = [
        chosen(i, where=f"d{n}") for n, i in enumerate(("accommodation", "leisure", "mental-health", "friendships"))
    ]
    with pytest.raises(Unprocessable) as info:
        check_session(domains, [], [])
    assert_issue(info.value, status=422, code="business-rule", expression=("d3",))


def test_a_domain_chosen_twice_or_without_actions_is_refused() -> None:
    with pytest.raises(Unprocessable):
        check_session([chosen("leisure"), chosen("leisure", where="second")], [], [])
    empty = ChosenDomain(ITEM_BY_ID["leisure"], "u", "l", "e", GoalKind.RECOVERY, (), "empty")
    with pytest.raises(RequiredMissing) as info:
        check_session([empty], [], [])
    assert_issue(info.value, status=422, code="required", expression=("empty",))


def test_an_action_for_someone_else_names_them() -> None:
    other = AgreedAction("Sister drives to the group", Performer.OTHER, None, "2026-01-19", "other-action")
    with pytest.raises(RequiredMissing) as info:
        check_session([chosen("friendships", other)], [], [])
    assert_issue(info.value, status=422, code="required", expression=("other-action",))


def test_new_actions_wait_until_every_open_action_is_reviewed() -> None:
    with pytest.raises(Unprocessable) as info:
        check_session([chosen("leisure")], [Review("a-1", ActionReview.DONE, "ok", "r0")], [OPEN, OPEN_2, CLOSED])
    assert [i.expression for i in info.value.issues] == [("CarePlan.activity.where(id='a-2')",)]
    assert "Join the walking group" in info.value.issues[0].diagnostics
    check_session(
        [chosen("leisure")],
        [Review("a-1", ActionReview.DONE, "ok", "r0"), Review("a-2", ActionReview.DROPPED, "no", "r1")],
        [OPEN, OPEN_2, CLOSED],
    )


def test_a_session_without_new_actions_may_review_some_or_none() -> None:
    check_session([], [], [OPEN, OPEN_2])
    check_session([], [Review("a-2", ActionReview.PARTLY, "halfway", "r0")], [OPEN, OPEN_2])


@pytest.mark.parametrize(
    ("review", "actions"),
    [
        (Review("nope", ActionReview.DONE, "x", "r0"), [OPEN]),
        (Review("a-3", ActionReview.DONE, "x", "r0"), [CLOSED]),
    ],
)
def test_a_review_names_an_open_action_of_the_plan(review: Review, actions: list[ActionState]) -> None:
    with pytest.raises(Unprocessable) as info:
        check_session([], [review], actions)
    assert_issue(info.value, status=422, code="business-rule", expression=("r0",))


def test_an_action_is_reviewed_once_per_session() -> None:
    with pytest.raises(FhirError) as info:
        check_session(
            [], [Review("a-1", ActionReview.DONE, "x", "r0"), Review("a-1", ActionReview.DONE, "x", "r1")], [OPEN]
        )
    assert info.value.expression == ("r1",)


@pytest.mark.parametrize(
    ("outcome", "status", "still_open"),
    [
        (ActionReview.DONE, "completed", False),
        (ActionReview.PARTLY, "in-progress", True),
        (ActionReview.NOT_DONE, "not-started", True),
        (ActionReview.DROPPED, "cancelled", False),
    ],
)
def test_a_review_sets_the_status_and_keeps_a_note(outcome: ActionReview, status: str, still_open: bool) -> None:
    activity = action_activity(
        ACTION,
        activity_id="a-1",
        item=ITEM_BY_ID["leisure"],
        goal="Goal/g-1",
        subject="Patient/p",
        clinician="PractitionerRole/w",
    )
    record_review(activity, Review("a-1", outcome, "how it went", "r0"), "PractitionerRole/w", "2026-02-01T10:00:00Z")
    assert activity["detail"]["status"] == status
    note = activity["progress"][0]
    assert (note["text"], note["extension"][0]) == (
        "how it went",
        {"url": EXT_ACTION_REVIEW, "valueCode": outcome.value},
    )
    assert actions_of({"activity": [activity]})[0].open is still_open


@pytest.mark.parametrize(
    ("who", "performer", "expected"),
    [
        (Performer.PERSON, None, "Patient/p"),
        (Performer.CLINICIAN, None, "PractitionerRole/w"),
        (Performer.OTHER, "RelatedPerson/sister", "RelatedPerson/sister"),
    ],
)
def test_an_action_is_done_by_the_person_the_clinician_or_someone_named(
    who: Performer, performer: str | None, expected: str
) -> None:
    action = AgreedAction("x", who, performer, "2026-01-19", "w")
    activity = action_activity(
        action,
        activity_id="a-1",
        item=ITEM_BY_ID["leisure"],
        goal="Goal/g-1",
        subject="Patient/p",
        clinician="PractitionerRole/w",
    )
    detail = activity["detail"]
    assert detail["performer"] == [{"reference": expected}]
    assert (detail["scheduledPeriod"], detail["goal"], detail["status"]) == (
        {"end": "2026-01-19"},
        [{"reference": "Goal/g-1"}],
        "not-started",
    )
    assert detail["reasonCode"][0]["coding"][1]["code"] == "leisure"


def test_a_domain_goal_is_in_the_persons_words_and_linked_to_the_domain() -> None:
    goal = domain_goal(chosen("accommodation"), "Patient/p", "2026-01-05")
    assert goal["description"] == {"text": "best case"}
    assert goal["expressedBy"] == {"reference": "Patient/p"}
    assert [c["code"] for c in goal["category"][0]["coding"]] == ["1037681000000106", "accommodation"]
    assert goal["category"][1]["coding"][0]["code"] == "recovery"
