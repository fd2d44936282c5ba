"""The activation gate and plan content (FR-37 to FR-39, FR-41 to FR-43, FR-49, FR-51)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.careplans.domain.codes import (
    CS_CATEGORY,
    EXT_ADVANCE_DECISION,
    EXT_ADVOCACY,
    EXT_AGREEMENT,
    EXT_CAPACITY,
    EXT_COMPLEX_NEEDS,
    EXT_COPY_HELD,
    EXT_CRISIS_CONTACT,
    EXT_CRISIS_PREFERENCE,
    EXT_EPISODE,
    EXT_FUNDING,
    EXT_LONG_TERM,
    EXT_PHB,
    EXT_PHYSICAL_HEALTH_CONDITION,
    EXT_SECTION,
    EXT_WARNING_SIGN,
    PHYSICAL_HEALTH_CONDITION,
    AgreementMethod,
    CareTeamRole,
    Category,
    CompletionReason,
    GoalKind,
    ReviewOutcome,
    Section,
)
from services.careplans.domain.content import add_member, set_complex_needs, set_flag, set_period, set_section
from services.careplans.domain.fhir import complex_extension, concept, reference, set_extension, simple
from services.careplans.domain.plans import (
    Agreement,
    CapacityAssessment,
    GoalFacts,
    PathwayBack,
    PlanReview,
    agreement_extension,
    at,
    capacity_extension,
    check_activation,
    check_capacity,
    check_completion,
    check_fields,
    check_review,
    pathway_extension,
)
from services.kit.errors import FhirError, RequiredMissing, UnknownCode, Unprocessable

PERSON = "Patient/p-1"
RECOVERY = [GoalFacts("Goal/g-1", frozenset({GoalKind.RECOVERY}), True)]


def plan(category: Category = Category.DIALOG_PLUS) -> dict[str, Any]:
    """A draft plan of a category with nothing but its header."""
    return {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "category": [concept(CS_CATEGORY, category.value)],
        "subject": reference(PERSON),
    }


def agreed(body: dict[str, Any]) -> dict[str, Any]:
    set_extension(
        body, EXT_AGREEMENT, agreement_extension(Agreement("2026-01-05T09:00:00Z", AgreementMethod.VERBAL, PERSON))
    )
    body["contributor"] = [reference(PERSON)]
    return body


def personalised() -> dict[str, Any]:
    """A personalised plan that passes the gate with a recovery goal."""
    body = agreed(plan())
    for section in Section:
        set_section(body, section, "none identified")
    set_period(body, "2026-01-05", None, True)
    return body


def crisis() -> dict[str, Any]:
    body = agreed(plan(Category.CRISIS))
    body["extension"] += [
        complex_extension(EXT_WARNING_SIGN, ("sign", "String", "not sleeping"), ("action", "String", "call the team")),
        complex_extension(EXT_CRISIS_CONTACT, ("name", "String", "Crisis line"), ("telecom", "String", "0800")),
        simple(EXT_CRISIS_PREFERENCE, "Code", "crisis-cafe"),
        simple(EXT_PHYSICAL_HEALTH_CONDITION, "String", PHYSICAL_HEALTH_CONDITION),
        simple(EXT_COPY_HELD, "Boolean", True),
    ]
    return body


def waiting() -> dict[str, Any]:
    body = agreed(plan(Category.WAITING_SUPPORT))
    body["author"] = reference("PractitionerRole/w")
    body["activity"] = [
        {
            "detail": {
                "status": "scheduled",
                "description": "calls",
                "scheduledTiming": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}},
            }
        }
    ]
    return body


def gaps(body: dict[str, Any], goals: list[GoalFacts] = RECOVERY) -> list[str]:
    with pytest.raises(Unprocessable) as info:
        check_activation(body, goals)
    assert info.value.status == 422
    return [i.expression[0] for i in info.value.issues]


def test_a_complete_agreed_plan_passes_the_gate() -> None:
    check_activation(personalised(), RECOVERY)
    check_activation(crisis(), [])
    check_activation(waiting(), [])


# ---------------------------------------------------------------- co-production (FR-37)


def test_without_agreement_or_capacity_assessment_the_gate_names_the_agreement() -> None:
    body = personalised()
    set_extension(body, EXT_AGREEMENT, None)
    assert gaps(body) == [at(EXT_AGREEMENT)]


def test_agreement_needs_the_person_as_a_contributor() -> None:
    body = personalised()
    body["contributor"] = [reference("PractitionerRole/w")]
    assert gaps(body) == ["CarePlan.contributor"]


def test_a_capacity_assessment_can_stand_in_for_agreement() -> None:
    body = personalised()
    set_extension(body, EXT_AGREEMENT, None)
    capacity = CapacityAssessment("DocumentReference/mca", "her known wishes", ("RelatedPerson/sister",))
    set_extension(body, EXT_CAPACITY, capacity_extension(capacity))
    check_activation(body, RECOVERY)


def test_a_capacity_assessment_without_its_parts_is_refused_naming_them() -> None:
    body = personalised()
    set_extension(body, EXT_AGREEMENT, None)
    set_extension(body, EXT_CAPACITY, capacity_extension(CapacityAssessment(None, None, ())))
    assert gaps(body) == [
        at(EXT_CAPACITY, "assessment"),
        at(EXT_CAPACITY, "bestInterests"),
        at(EXT_CAPACITY, "consulted"),
    ]
    with pytest.raises(RequiredMissing) as info:
        check_capacity(CapacityAssessment(None, "basis", ("RelatedPerson/s",)), "P")
    assert info.value.expression == ("P.part.where(name='assessment')",)


def test_an_advocate_is_needed_with_substantial_difficulty_and_no_appropriate_person() -> None:
    body = personalised()
    body["extension"].append(
        complex_extension(
            EXT_ADVOCACY, ("substantialDifficulty", "Boolean", True), ("noAppropriatePerson", "Boolean", True)
        )
    )
    assert gaps(body) == [at(EXT_ADVOCACY, "advocate")]
    body["extension"][-1]["extension"].append(simple("advocate", "Reference", reference("Organization/advocacy")))
    check_activation(body, RECOVERY)


# ---------------------------------------------------------------- personalised plan content (FR-38, FR-49)


@pytest.mark.parametrize(
    "goals",
    [
        [],
        [GoalFacts("Goal/g", frozenset({GoalKind.SOCIAL}), True)],
        [GoalFacts("Goal/g", frozenset({GoalKind.RECOVERY}), False)],
    ],
)
def test_a_personalised_plan_needs_an_open_recovery_or_well_being_goal(goals: list[GoalFacts]) -> None:
    assert gaps(personalised(), goals) == ["CarePlan.goal"]
    check_activation(personalised(), [GoalFacts("Goal/g", frozenset({GoalKind.WELL_BEING}), True)])


@pytest.mark.parametrize("missing", list(Section))
def test_every_section_is_present_even_as_none_identified(missing: Section) -> None:
    body = personalised()
    body["extension"] = [
        e for e in body["extension"] if not (e["url"] == EXT_SECTION and e["extension"][0]["valueCode"] == missing)
    ]
    assert gaps(body) == [f"{at(EXT_SECTION)}.where(extension('code').value = '{missing.value}')"]


def test_the_service_period_has_a_start_and_an_end_or_is_long_term() -> None:
    body = personalised()
    body["period"] = {}
    set_flag(body, EXT_LONG_TERM, False)
    assert gaps(body) == ["CarePlan.period.start", "CarePlan.period.end"]
    set_period(body, "2026-01-05", "2026-07-05", None)
    check_activation(body, RECOVERY)


def test_complex_needs_need_a_case_manager() -> None:
    body = personalised()
    set_complex_needs(body, True)
    add_member(body, CareTeamRole.CARE_COORDINATOR, "PractitionerRole/w")
    assert gaps(body) == ["CarePlan.careTeam"]
    add_member(body, CareTeamRole.CASE_MANAGER, "PractitionerRole/lead")
    check_activation(body, RECOVERY)


# ---------------------------------------------------------------- crisis and waiting-support content (FR-43)


@pytest.mark.parametrize(
    "missing",
    [EXT_WARNING_SIGN, EXT_CRISIS_CONTACT, EXT_CRISIS_PREFERENCE, EXT_PHYSICAL_HEALTH_CONDITION, EXT_COPY_HELD],
)
def test_a_crisis_plan_holds_the_fr43_content(missing: str) -> None:
    body = crisis()
    body["extension"] = [e for e in body["extension"] if e["url"] != missing]
    assert gaps(body, []) == [at(missing)]


def test_a_crisis_plan_records_that_the_person_holds_a_copy() -> None:
    body = crisis()
    set_flag(body, EXT_COPY_HELD, False)
    assert gaps(body, []) == [at(EXT_COPY_HELD)]


def test_a_waiting_support_plan_names_the_worker_what_is_offered_and_how_often() -> None:
    body = waiting()
    body["author"] = reference("Organization/o")
    assert gaps(body, []) == ["CarePlan.author"]
    body = waiting()
    del body["activity"][0]["detail"]["scheduledTiming"]
    assert gaps(body, []) == ["CarePlan.activity.detail.scheduledTiming"]
    body["activity"] = []
    assert gaps(body, []) == ["CarePlan.activity", "CarePlan.activity.detail.scheduledTiming"]


# ---------------------------------------------------------------- fields on every write


def test_a_plan_has_exactly_one_continuum_category_a_plan_intent_and_a_patient() -> None:
    assert check_fields(personalised()) is Category.DIALOG_PLUS
    body = personalised()
    body["category"] = []
    with pytest.raises(RequiredMissing):
        check_fields(body)
    body["category"] = [concept(CS_CATEGORY, "safety-plan")]
    with pytest.raises(UnknownCode):
        check_fields(body)
    with pytest.raises(Unprocessable) as info:
        check_fields({**personalised(), "intent": "order"})
    assert info.value.expression == ("CarePlan.intent",)
    with pytest.raises(Unprocessable) as info:
        check_fields({**personalised(), "subject": reference("Group/g")})
    assert info.value.expression == ("CarePlan.subject",)


def bad(body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(FhirError) as info:
        check_fields(body)
    return [(i.code, i.expression[0]) for i in info.value.issues]


@pytest.mark.parametrize(
    ("extension", "expected"),
    [
        (
            complex_extension(EXT_SECTION, ("code", "Code", "hobbies"), ("text", "String", "x")),
            ("code-invalid", at(EXT_SECTION, "code")),
        ),
        (complex_extension(EXT_SECTION, ("code", "Code", "strengths")), ("required", at(EXT_SECTION, "text"))),
        (simple(EXT_LONG_TERM, "String", "yes"), ("value", at(EXT_LONG_TERM))),
        (simple(EXT_COMPLEX_NEEDS, "Code", "true"), ("value", at(EXT_COMPLEX_NEEDS))),
        (simple(EXT_FUNDING, "Code", "lottery"), ("code-invalid", at(EXT_FUNDING))),
        (
            complex_extension(EXT_PHB, ("type", "Code", "cash"), ("amount", "Money", {"value": 10, "currency": "GBP"})),
            ("code-invalid", at(EXT_PHB, "type")),
        ),
        (
            complex_extension(
                EXT_PHB, ("type", "Code", "notional"), ("amount", "Money", {"value": 10, "currency": "EUR"})
            ),
            ("value", at(EXT_PHB, "amount")),
        ),
        (
            complex_extension(
                EXT_PHB, ("type", "Code", "notional"), ("amount", "Money", {"value": -1, "currency": "GBP"})
            ),
            ("value", at(EXT_PHB, "amount")),
        ),
        (
            complex_extension(
                EXT_ADVOCACY, ("substantialDifficulty", "String", "yes"), ("noAppropriatePerson", "Boolean", True)
            ),
            ("value", at(EXT_ADVOCACY, "substantialDifficulty")),
        ),
        (
            complex_extension(
                EXT_ADVOCACY,
                ("substantialDifficulty", "Boolean", True),
                ("noAppropriatePerson", "Boolean", True),
                ("advocate", "Reference", reference("Patient/x")),
            ),
            ("value", at(EXT_ADVOCACY, "advocate")),
        ),
        (simple(EXT_CRISIS_PREFERENCE, "Code", "a-and-e"), ("code-invalid", at(EXT_CRISIS_PREFERENCE))),
        (simple(EXT_ADVANCE_DECISION, "Reference", reference("Observation/o")), ("value", at(EXT_ADVANCE_DECISION))),
        (complex_extension(EXT_WARNING_SIGN, ("sign", "String", "x")), ("required", at(EXT_WARNING_SIGN, "action"))),
        (simple(EXT_EPISODE, "Reference", reference("Encounter/e")), ("value", at(EXT_EPISODE))),
    ],
)
def test_plan_extensions_are_checked_and_named(extension: dict[str, Any], expected: tuple[str, str]) -> None:
    body = plan()
    body["extension"] = [extension]
    assert bad(body) == [expected]


def test_a_section_appears_once() -> None:
    body = personalised()
    body["extension"].append(complex_extension(EXT_SECTION, ("code", "Code", "strengths"), ("text", "String", "x")))
    assert bad(body) == [("duplicate", at(EXT_SECTION))]


def test_care_team_roles_and_carers_are_checked() -> None:
    body = personalised()
    add_member(body, CareTeamRole.CARER, "PractitionerRole/not-a-carer")
    assert bad(body) == [("value", "CarePlan.contained.where(id='care-team').participant[0].member")]
    body = personalised()
    add_member(body, CareTeamRole.CARER, "RelatedPerson/r", consent="Observation/o")
    assert bad(body)[0][1] == "CarePlan.contained.where(id='care-team').participant[0].extension"
    body = personalised()
    add_member(body, CareTeamRole.KEY_WORKER, "PractitionerRole/w")
    body["contained"][0]["participant"][0]["role"][0]["coding"][0]["code"] = "wizard"
    assert bad(body) == [("code-invalid", "CarePlan.contained.where(id='care-team').participant[0].role")]
    body = personalised()
    body["careTeam"] = [reference("CareTeam/elsewhere")]
    assert bad(body) == [("value", "CarePlan.careTeam")]


# ---------------------------------------------------------------- completion (FR-39) and review (FR-42)


FULL_PATHWAY = PathwayBack(
    "Ask your GP to refer you to the SPA", "SPA: 020 0000 0000", "Self-refer online", ("Mind drop-in",)
)


@pytest.mark.parametrize("reason", [CompletionReason.GOALS_ACHIEVED, CompletionReason.DISCHARGED])
def test_discharge_needs_a_pathway_back(reason: CompletionReason) -> None:
    body = personalised()
    with pytest.raises(RequiredMissing) as info:
        check_completion(body, reason)
    assert info.value.expression == ("Parameters.parameter.where(name='pathwayBack')",)
    body["extension"].append(pathway_extension(PathwayBack("how", None, "route", ())))
    with pytest.raises(RequiredMissing) as info:
        check_completion(body, reason)
    assert info.value.expression == (
        "Parameters.parameter.where(name='pathwayBack').part.where(name='contact')",
        "Parameters.parameter.where(name='pathwayBack').part.where(name='communityResource')",
    )
    body["extension"][-1] = pathway_extension(FULL_PATHWAY)
    check_completion(body, reason)


def test_other_endings_need_no_pathway_back() -> None:
    check_completion(personalised(), CompletionReason.CARE_STARTED)
    check_completion(personalised(), CompletionReason.TRANSFERRED)


def test_the_person_takes_part_in_their_review_and_the_next_review_follows_it() -> None:
    held = datetime(2026, 3, 1, 10, tzinfo=UTC)
    good = PlanReview(held, (PERSON, "PractitionerRole/w"), ReviewOutcome.CONTINUE, date(2026, 6, 1))
    check_review(good, PERSON)
    with pytest.raises(RequiredMissing) as info:
        check_review(PlanReview(held, ("PractitionerRole/w",), ReviewOutcome.CONTINUE, date(2026, 6, 1)), PERSON)
    assert info.value.expression == ("Parameters.parameter.where(name='participant')",)
    with pytest.raises(Unprocessable) as early:
        check_review(PlanReview(held, (PERSON,), ReviewOutcome.CONTINUE, date(2026, 3, 1)), PERSON)
    assert early.value.expression == ("Parameters.parameter.where(name='nextReview')",)
