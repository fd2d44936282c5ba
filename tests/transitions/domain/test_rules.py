"""The rules of a transition case, each against the requirement it comes from, both outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from reference.partnership import directory
from services.kit.errors import Conflict, FhirError, RequiredMissing, UnknownCode, Unprocessable
from services.kit.parameters import where as param
from services.transitions.domain import rules
from services.transitions.domain.codes import (
    ClinicalServiceReason,
    DestinationKind,
    Effectiveness,
    Experience,
    HighRiskReason,
    Respondent,
    parse_code,
)
from services.transitions.domain.rules import Destination, Episode, part

D = directory()
TEAMS = D.teams
PATIENT = "Patient/yp-1"
WORKER = "PractitionerRole/barnet-cypmhs-worker"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def issue(error: FhirError, status: int, code: str, expression: str) -> None:
    """The error has this status, issue code and names exactly this element."""
    assert (error.status, error.issues[0].code, error.expression) == (status, code, (expression,))


def episode(team: str = "barnet-cypmhs", status: str = "active", id_: str = "e1", patient: str = PATIENT) -> Episode:
    return Episode(id_, patient, status, TEAMS.get(team))


# ---------------------------------------------------------------- FR-52


def test_the_only_open_cypmhs_episode_is_chosen() -> None:
    chosen = rules.choose_cyp_episode(PATIENT, [episode("barnet-core-north", id_="e0"), episode()], None)
    assert chosen.id == "e1"


def test_a_person_without_a_cypmhs_episode_cannot_have_a_case() -> None:
    """FR-52: creating a case for a person with no CYPMHS episode returns 422."""
    for episodes in ([], [episode("barnet-core-north")], [episode(status="finished")]):
        with pytest.raises(Unprocessable) as info:
            rules.choose_cyp_episode(PATIENT, episodes, None)
        issue(info.value, 422, "business-rule", param("patient"))


def test_an_external_providers_cypmhs_counts() -> None:
    """Q-TR-25: Camden's CYPMHS is run by Whittington Health and may send a transition."""
    assert rules.choose_cyp_episode(PATIENT, [episode("camden-cypmhs")], None).team == TEAMS["camden-cypmhs"]


def test_several_open_cypmhs_episodes_need_the_episode_named() -> None:
    episodes = [episode(id_="e1"), episode("enfield-cypmhs", id_="e2")]
    with pytest.raises(RequiredMissing) as info:
        rules.choose_cyp_episode(PATIENT, episodes, None)
    issue(info.value, 422, "required", param("episode"))
    assert rules.choose_cyp_episode(PATIENT, episodes, "EpisodeOfCare/e2").id == "e2"


@pytest.mark.parametrize(
    "episodes",
    [
        [episode("barnet-core-north")],
        [episode(status="finished")],
        [episode(patient="Patient/someone-else")],
        [],
    ],
)
def test_a_named_episode_must_be_the_persons_open_cypmhs_episode(episodes: list[Episode]) -> None:
    with pytest.raises(Unprocessable) as info:
        rules.choose_cyp_episode(PATIENT, episodes, "EpisodeOfCare/e1")
    issue(info.value, 422, "business-rule", param("episode"))


def test_the_referring_worker_works_in_the_sending_cypmhs_team() -> None:
    team = TEAMS["barnet-cypmhs"]
    assert rules.check_referring_worker(D.roles["barnet-cypmhs-worker"], WORKER, team).team == team.id
    for role in (None, D.roles["barnet-core-north-worker"], D.roles["barnet-gp-gp"]):
        with pytest.raises(Unprocessable) as info:
            rules.check_referring_worker(role, "PractitionerRole/x", team)
        issue(info.value, 422, "business-rule", param("referringWorker"))


# ---------------------------------------------------------------- FR-53


def test_a_discussion_records_its_deadline_lateness_and_age() -> None:
    birth = date(2008, 3, 15)
    on_time = rules.record_discussion(birth, date(2025, 9, 14), date(2025, 9, 20))
    assert (on_time.deadline, on_time.late, on_time.age_months) == (date(2025, 9, 15), False, 209)
    late = rules.record_discussion(birth, date(2025, 9, 15), date(2025, 9, 20))
    assert (late.late, late.age_months) == (True, 210)


@pytest.mark.parametrize("on", [date(2025, 9, 21), date(2007, 1, 1)])
def test_a_discussion_cannot_be_in_the_future_or_before_birth(on: date) -> None:
    with pytest.raises(Unprocessable) as info:
        rules.record_discussion(date(2008, 3, 15), on, date(2025, 9, 20))
    issue(info.value, 422, "business-rule", param("date"))


# ---------------------------------------------------------------- FR-54


def test_support_is_agreed_with_the_young_person_and_a_worker() -> None:
    rules.check_support_decision(True, [PATIENT, WORKER], PATIENT, None)
    rules.check_support_decision(False, [PATIENT, WORKER], PATIENT, "Settled; GP and school support enough")
    for agreed in ([WORKER], [PATIENT], ["RelatedPerson/mum", WORKER]):
        with pytest.raises(Unprocessable) as info:
            rules.check_support_decision(True, agreed, PATIENT, None)
        issue(info.value, 422, "business-rule", param("agreedBy"))


def test_no_support_needed_records_the_reason() -> None:
    with pytest.raises(RequiredMissing) as info:
        rules.check_support_decision(False, [PATIENT, WORKER], PATIENT, None)
    issue(info.value, 422, "required", param("reason"))


def test_no_gp_anywhere_in_a_transition_referral() -> None:
    """FR-54: no GP is involved at any point."""
    worker, transitions = D.roles["barnet-cypmhs-worker"], TEAMS["barnet-transitions"]
    rules.check_referral_route(worker, transitions, "here")
    for requester, destination in ((D.roles["barnet-gp-gp"], transitions), (worker, TEAMS["barnet-gp"])):
        with pytest.raises(Unprocessable) as info:
            rules.check_referral_route(requester, destination, "here")
        issue(info.value, 422, "business-rule", "here")


# ---------------------------------------------------------------- FR-55, FR-56, FR-61


def test_the_referring_worker_must_be_invited() -> None:
    """FR-55: a meeting without the referring worker invited returns 422 (attending is separate)."""
    rules.check_meeting(rules.Meeting(NOW, (WORKER, PATIENT), (PATIENT,)), WORKER, NOW)
    with pytest.raises(Unprocessable) as info:
        rules.check_meeting(rules.Meeting(NOW, (PATIENT,), (PATIENT, WORKER)), WORKER, NOW)
    issue(info.value, 422, "business-rule", param("invitee"))


def test_a_meeting_is_recorded_once_held() -> None:
    with pytest.raises(Unprocessable) as info:
        rules.check_meeting(rules.Meeting(NOW + timedelta(hours=1), (WORKER,), ()), WORKER, NOW)
    issue(info.value, 422, "business-rule", param("date"))


@pytest.mark.parametrize(
    ("kind", "team", "reason"),
    [
        (DestinationKind.ADULT_CORE_CMHT, "barnet-core-north", None),
        (DestinationKind.INTENSIVE, "barnet-eip", None),
        (DestinationKind.INTENSIVE, "ncl-eating-disorders", None),
        (DestinationKind.YOUNG_ADULT, "barnet-core-south", None),
        (DestinationKind.TRANSITIONS_CLINICAL, "barnet-transitions", ClinicalServiceReason.NOT_ADULT_ELIGIBLE),
        (DestinationKind.TRANSITIONS_CLINICAL, "enfield-transitions", ClinicalServiceReason.LOST_CONFIDENCE),
        (DestinationKind.REMAIN_CYP, "barnet-cypmhs", None),
    ],
)
def test_the_destinations_fr61_allows(kind: DestinationKind, team: str, reason: ClinicalServiceReason | None) -> None:
    rules.check_destination(Destination(kind, TEAMS[team], reason))


def test_the_transitions_clinical_service_needs_its_reason() -> None:
    """FR-61: a plan with destination 'Transitions clinical service' and no reason returns 422."""
    with pytest.raises(RequiredMissing) as info:
        rules.check_destination(Destination(DestinationKind.TRANSITIONS_CLINICAL, TEAMS["barnet-transitions"]))
    issue(info.value, 422, "required", part("destination", "reason"))


@pytest.mark.parametrize(
    ("kind", "team", "reason", "where"),
    [
        (DestinationKind.ADULT_CORE_CMHT, "barnet-eip", None, "service"),
        (DestinationKind.INTENSIVE, "barnet-core-north", None, "service"),
        (DestinationKind.ADULT_CORE_CMHT, "barnet-gp", None, "service"),
        (DestinationKind.REMAIN_CYP, "barnet-core-north", None, "service"),
        (DestinationKind.TRANSITIONS_CLINICAL, "barnet-core-north", ClinicalServiceReason.LOST_CONFIDENCE, "service"),
        (DestinationKind.ADULT_CORE_CMHT, "barnet-core-north", ClinicalServiceReason.LOST_CONFIDENCE, "reason"),
    ],
)
def test_destinations_fr61_refuses(
    kind: DestinationKind, team: str, reason: ClinicalServiceReason | None, where: str
) -> None:
    with pytest.raises(Unprocessable) as info:
        rules.check_destination(Destination(kind, TEAMS[team], reason))
    issue(info.value, 422, "business-rule", part("destination", where))


def test_only_remaining_in_cyp_sends_no_referral() -> None:
    assert [k for k in DestinationKind if not Destination(k, TEAMS["barnet-cypmhs"]).needs_referral] == [
        DestinationKind.REMAIN_CYP
    ]


def test_a_plan_is_shared_only_once_it_exists() -> None:
    rules.check_share(True)
    with pytest.raises(Conflict) as info:
        rules.check_share(False)
    issue(info.value, 409, "conflict", "Task.focus")


def test_agreement_before_sharing_is_refused() -> None:
    """FR-56: agreement before sharing returns 422."""
    with pytest.raises(Unprocessable) as info:
        rules.check_agreement(None, PATIENT, PATIENT)
    issue(info.value, 422, "business-rule", rules.SHARED)


@pytest.mark.parametrize("who", ["RelatedPerson/mum", WORKER, "Patient/someone-else", None])
def test_nobody_but_the_young_person_decides(who: str | None) -> None:
    """FR-56, P-8: no parent or clinician override."""
    with pytest.raises(Unprocessable) as info:
        rules.check_agreement(NOW, who, PATIENT)
    issue(info.value, 422, "business-rule", param("decidedBy"))
    rules.check_agreement(NOW, PATIENT, PATIENT)


def test_activation_needs_the_formalised_plan() -> None:
    """FR-56: activation without agreement returns 409."""
    rules.check_formalised("active")
    for status in ("draft", None):
        with pytest.raises(Conflict) as info:
            rules.check_formalised(status)
        issue(info.value, 409, "conflict", "CarePlan.status")


# ---------------------------------------------------------------- FR-57, FR-64


def test_an_alternative_time_records_who_agreed_and_why() -> None:
    """FR-57: an override without agreed-by returns 422; the young person is among them (P-7)."""
    on = date(2027, 1, 1)
    rules.check_alternative_time(rules.AlternativeTime(on, (PATIENT, WORKER), "Exams first"), PATIENT)
    cases = [
        (rules.AlternativeTime(on, (), "Exams first"), RequiredMissing, param("agreedBy")),
        (rules.AlternativeTime(on, (WORKER, "RelatedPerson/mum"), "Exams"), Unprocessable, param("agreedBy")),
        (rules.AlternativeTime(on, (PATIENT,), None), RequiredMissing, param("rationale")),
    ]
    for alternative, error, where in cases:
        with pytest.raises(error) as info:
            rules.check_alternative_time(alternative, PATIENT)
        assert info.value.expression == (where,)


def test_actioning_needs_the_formal_plan_and_the_cyp_summary() -> None:
    """FR-64: the referrals carry the plan and a CYP summary."""
    rules.check_actioning("active", "Summary")
    with pytest.raises(Conflict):
        rules.check_actioning("draft", "Summary")
    with pytest.raises(RequiredMissing) as info:
        rules.check_actioning("active", None)
    issue(info.value, 422, "required", param("cypSummary"))


# ---------------------------------------------------------------- FR-58, FR-62, FR-63


@pytest.mark.parametrize(
    ("respondent", "source"),
    [
        (Respondent.YOUNG_PERSON, PATIENT),
        (Respondent.FAMILY_CARER, "RelatedPerson/mum"),
        (Respondent.REFERRING_WORKER, WORKER),
        (Respondent.ADULT_TEAM, "PractitionerRole/barnet-core-north-worker"),
    ],
)
def test_feedback_comes_from_its_respondent(respondent: Respondent, source: str) -> None:
    rules.check_feedback(rules.Feedback(respondent, source, False, Experience.POSITIVE), PATIENT)
    wrong = "Patient/yp-1" if respondent is not Respondent.YOUNG_PERSON else "Patient/someone-else"
    with pytest.raises(Unprocessable) as info:
        rules.check_feedback(rules.Feedback(respondent, wrong, False, Experience.POSITIVE), PATIENT)
    issue(info.value, 422, "business-rule", param("source"))


def test_feedback_rates_the_experience_unless_declined() -> None:
    rules.check_feedback(rules.Feedback(Respondent.YOUNG_PERSON, PATIENT, True, None), PATIENT)
    with pytest.raises(RequiredMissing) as info:
        rules.check_feedback(rules.Feedback(Respondent.YOUNG_PERSON, PATIENT, False, None), PATIENT)
    issue(info.value, 422, "required", param("experience"))


def test_the_review_rests_on_the_young_persons_feedback() -> None:
    rules.check_review(True, Effectiveness.EFFECTIVE, None)
    with pytest.raises(RequiredMissing) as info:
        rules.check_review(False, Effectiveness.EFFECTIVE, None)
    issue(info.value, 422, "required", rules.YOUNG_PERSON_FEEDBACK)
    with pytest.raises(RequiredMissing) as info:
        rules.check_review(True, Effectiveness.PARTLY_EFFECTIVE, None)
    issue(info.value, 422, "required", param("actions"))


def test_closing_needs_no_open_escalation_then_feedback_then_the_review() -> None:
    """FR-62: an unresolved decline is 409 first; FR-58: closing without feedback or a recorded decline is 422."""
    rules.check_close(True, True, 0)
    with pytest.raises(RequiredMissing) as info:
        rules.check_close(False, True, 0)
    issue(info.value, 422, "required", rules.YOUNG_PERSON_FEEDBACK)
    with pytest.raises(Conflict) as conflict:
        rules.check_close(False, False, 1)
    assert conflict.value.status == 409
    assert "adult-referral-declined" in conflict.value.expression[0]
    with pytest.raises(Conflict) as conflict:
        rules.check_close(True, False, 0)
    assert "effectiveness" in conflict.value.expression[0]


def test_a_gap_before_adult_care_needs_a_rationale() -> None:
    """FR-63: closing the CYP episode 10 days before the adult start without a rationale returns 422."""
    end = date(2026, 10, 1)
    with pytest.raises(RequiredMissing) as info:
        rules.check_handover(end, end + timedelta(days=10), None)
    issue(info.value, 422, "required", param("rationale"))
    assert "10 days" in info.value.diagnostics
    assert rules.check_handover(end, end + timedelta(days=10), "Adult team start delayed by leave") == 10
    assert rules.check_handover(end, end, None) == 0
    assert rules.check_handover(end, end - timedelta(days=14), None) == 0
    with pytest.raises(RequiredMissing):
        rules.check_handover(end, None, None)
    assert rules.check_handover(end, None, "Adult start not yet booked") is None


def test_a_declined_referral_is_resolved_by_a_destination_or_the_young_persons_choice() -> None:
    """FR-62."""
    core = Destination(DestinationKind.ADULT_CORE_CMHT, TEAMS["barnet-core-north"])
    rules.check_alternative(1, core, None, None, PATIENT)
    rules.check_alternative(1, None, "Wants to try the VCSE service only", PATIENT, PATIENT)
    refused = [
        (0, core, None, None, Conflict, "Task.businessStatus"),
        (1, None, None, None, RequiredMissing, param("destination")),
        (1, core, "both", PATIENT, Unprocessable, param("choice")),
        (1, None, "Parent's choice", "RelatedPerson/mum", Unprocessable, param("decidedBy")),
    ]
    for open_, destination, choice, who, error, where in refused:
        with pytest.raises(error) as info:
            rules.check_alternative(open_, destination, choice, who, PATIENT)
        assert info.value.expression == (where,)


# ---------------------------------------------------------------- FR-60 and the worklist


def test_a_high_risk_flag_carries_reasons() -> None:
    rules.check_high_risk(True, [HighRiskReason.COMPLEX_NEEDS], None)
    rules.check_high_risk(False, [], None)
    with pytest.raises(RequiredMissing) as info:
        rules.check_high_risk(True, [], None)
    issue(info.value, 422, "required", param("highRiskReason"))
    with pytest.raises(RequiredMissing) as info:
        rules.check_high_risk(True, [HighRiskReason.OTHER], None)
    issue(info.value, 422, "required", param("highRiskNote"))


def _candidate(patient: str, birth: date, high_risk: bool = False) -> rules.Candidate:
    return rules.Candidate(patient, birth, high_risk, TEAMS["barnet-cypmhs"], "EpisodeOfCare/e")


def test_the_worklist_is_high_risk_first_then_nearest_deadline() -> None:
    """FR-60: high-risk first; FR-53: at or past the lead-in age, with the 17½ deadline."""
    today = date(2025, 9, 1)
    entries = rules.worklist(
        [
            _candidate("Patient/a", date(2008, 3, 15)),
            _candidate("Patient/b", date(2008, 6, 1), high_risk=True),
            _candidate("Patient/c", date(2008, 1, 1)),
            _candidate("Patient/too-young", date(2008, 9, 2)),
            _candidate("Patient/just-17", date(2008, 9, 1)),
        ],
        today,
    )
    assert [e.candidate.patient for e in entries] == ["Patient/b", "Patient/c", "Patient/a", "Patient/just-17"]
    a = entries[2]
    assert (a.deadline, a.days_to_deadline, a.past_deadline) == (date(2025, 9, 15), 14, False)
    assert (entries[1].deadline, entries[1].past_deadline) == (date(2025, 7, 1), True)
    late = rules.worklist([_candidate("Patient/a", date(2008, 3, 15))], date(2025, 9, 15))[0]
    assert (late.days_to_deadline, late.past_deadline) == (0, True)


def test_unknown_codes_are_refused_naming_the_element() -> None:
    with pytest.raises(UnknownCode) as info:
        parse_code(DestinationKind, "gp-practice", part("destination", "kind"))
    issue(info.value, 422, "code-invalid", part("destination", "kind"))
    assert "adult-core-cmht" in info.value.diagnostics
