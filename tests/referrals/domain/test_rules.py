"""The referral rules (FR-2, 3, 5, 6, 7, 9, 10, 17, 22, 23, 29, 30, 31) on the partnership's own teams."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from reference.partnership import ServiceType, Team, directory
from services.kit.errors import Conflict, RequiredMissing, Unprocessable
from services.referrals.domain.codes import (
    PROHIBITED_DECLINE_REASONS,
    ClosureReason,
    DeclineReason,
    Direction,
    LessRestrictiveOption,
    NextStep,
    ReferralSource,
    State,
)
from services.referrals.domain.rules import (
    Closure,
    Decline,
    DeclineOutcome,
    Draft,
    Override,
    PendingReferral,
    Routing,
    WaitingSupport,
    add_working_days,
    check_closure,
    check_decline,
    check_destination,
    check_episode_close,
    check_new_referral,
    check_waiting_support,
    direction,
    escalation_horizon,
    escalation_levels_due,
    next_panel_slot,
    panel_meeting,
    param,
)
from tests.referrals.domain.assertions import assert_issue

D = directory()
CORE = D.teams["barnet-core-north"]
CORE_SOUTH = D.teams["barnet-core-south"]
PSYCHOSIS = D.teams["barnet-psychosis"]
EIP = D.teams["barnet-eip"]
GP = D.teams["barnet-gp"]
SPA = D.teams["barnet-spa"]
HOUSING = D.teams["barnet-housing-advice"]
CRISIS_CAFE = D.teams["barnet-crisis-cafe"]
CRHTT = D.teams["barnet-crhtt"]
CRISIS_HOUSE = D.teams["ncl-crisis-house"]
ACUTE = D.teams["beh-adult-acute"]
PICU = D.teams["ncl-picu"]
PANEL = D.teams["ncl-complex-case-panel"]
CORE_WORKER = D.roles["barnet-core-north-worker"]
GP_ROLE = D.roles["barnet-gp-gp"]
GP_TEAMS = [t for t in D.teams.values() if t.type is ServiceType.GP]


def team_id(team: Team) -> str:
    return team.id


REQUESTER = ("ServiceRequest.requester",)
OCCURRENCE = ("ServiceRequest.occurrencePeriod",)


def test_reference_teams_are_what_these_tests_assume() -> None:
    assert (CORE.level, PSYCHOSIS.level, CRISIS_CAFE.level, ACUTE.level, GP.type) == (
        3,
        5,
        6,
        7,
        ServiceType.GP,
    )
    assert CRISIS_HOUSE.max_planned_days == 14
    assert CRISIS_CAFE.accepts_self_referral
    assert not CORE.accepts_self_referral
    assert D.internal(CORE)
    assert not D.internal(GP)
    assert CORE_WORKER.team == CORE.id


# ---------------------------------------------------------------- direction (FR-22)


@pytest.mark.parametrize(
    ("sender", "receiver", "expected"),
    [
        (CORE, PSYCHOSIS, Direction.STEP_UP),
        (CORE, EIP, Direction.STEP_UP),
        (CORE, ACUTE, Direction.STEP_UP),
        (PSYCHOSIS, CORE, Direction.STEP_DOWN),
        (ACUTE, CORE, Direction.STEP_DOWN),
        (CORE, CORE_SOUTH, Direction.LATERAL),
        (PSYCHOSIS, EIP, Direction.LATERAL),
        (CORE, CRISIS_CAFE, Direction.CRISIS),
        (CORE, CRHTT, Direction.CRISIS),
        (PSYCHOSIS, CRISIS_HOUSE, Direction.CRISIS),
        (ACUTE, CRHTT, Direction.CRISIS),
    ],
)
def test_direction_between_internal_teams(sender: Team, receiver: Team, expected: Direction) -> None:
    assert direction(sender, True, receiver) is expected


@pytest.mark.parametrize("receiver", [CORE, PSYCHOSIS, ACUTE])
def test_direction_from_an_external_or_unknown_sender_is_external(receiver: Team) -> None:
    assert direction(GP, False, receiver) is Direction.EXTERNAL
    assert direction(None, False, receiver) is Direction.EXTERNAL
    assert direction(None, True, receiver) is Direction.EXTERNAL


def test_direction_to_a_crisis_service_is_crisis_whoever_sends() -> None:
    assert direction(GP, False, CRISIS_CAFE) is Direction.CRISIS
    assert direction(None, False, CRISIS_HOUSE) is Direction.CRISIS


# ---------------------------------------------------------------- new referrals (FR-3, 17, 30, 31)


def internal_draft(**changes: Any) -> Draft:
    """The core CMHT worker holding the episode refers on to the psychosis team."""
    base = Draft(
        source=ReferralSource.INTERNAL_TEAM,
        requester_type="PractitionerRole",
        requester_role=CORE_WORKER,
        requester_team=CORE,
        requester_internal=True,
        requester_holds_episode=True,
        performer=PSYCHOSIS,
    )
    return dataclasses.replace(base, **changes)


def self_draft(**changes: Any) -> Draft:
    """The person refers themselves to the crisis café."""
    base = Draft(
        source=ReferralSource.SELF,
        requester_type="Patient",
        requester_role=None,
        requester_team=None,
        requester_internal=False,
        requester_holds_episode=False,
        performer=CRISIS_CAFE,
    )
    return dataclasses.replace(base, **changes)


def test_internal_referral_by_the_worker_holding_the_episode_is_a_step_up() -> None:
    assert check_new_referral(internal_draft()) == Routing(route_to_spa=False, direction=Direction.STEP_UP)


def test_internal_referral_requested_by_a_gp_is_refused() -> None:
    draft = internal_draft(requester_role=GP_ROLE, requester_team=GP, requester_internal=False)
    with pytest.raises(Unprocessable) as info:
        check_new_referral(draft)
    assert_issue(info.value, status=422, code="business-rule", expression=REQUESTER)
    assert "FR-3" in info.value.diagnostics


def test_internal_referral_from_an_external_practitioner_is_refused() -> None:
    with pytest.raises(Unprocessable) as info:
        check_new_referral(internal_draft(requester_internal=False, requester_holds_episode=False))
    assert_issue(info.value, status=422, code="business-rule", expression=REQUESTER)


@pytest.mark.parametrize("requester_type", ["Patient", "RelatedPerson", "Practitioner"])
def test_internal_referral_without_a_practitioner_role_is_refused(requester_type: str) -> None:
    draft = internal_draft(requester_type=requester_type, requester_role=None, requester_team=None)
    with pytest.raises(Unprocessable) as info:
        check_new_referral(draft)
    assert_issue(info.value, status=422, code="business-rule", expression=REQUESTER)


def test_internal_referral_by_a_team_without_an_episode_is_refused() -> None:
    with pytest.raises(Unprocessable) as info:
        check_new_referral(internal_draft(requester_holds_episode=False))
    assert_issue(info.value, status=422, code="business-rule", expression=REQUESTER)
    assert "episode" in info.value.diagnostics


def test_internal_referral_by_the_redirecting_team_needs_no_episode() -> None:
    routing = check_new_referral(internal_draft(requester_holds_episode=False, redirecting=True))
    assert routing == Routing(route_to_spa=False, direction=Direction.STEP_UP)


def test_self_referral_to_a_crisis_cafe_is_not_routed_to_the_spa() -> None:
    assert check_new_referral(self_draft()) == Routing(route_to_spa=False, direction=Direction.CRISIS)


def test_self_referral_to_a_core_cmht_is_routed_to_the_spa() -> None:
    routing = check_new_referral(self_draft(performer=CORE))
    assert routing == Routing(route_to_spa=True, direction=Direction.EXTERNAL)


def test_carer_referral_to_a_core_cmht_is_routed_to_the_spa() -> None:
    draft = self_draft(source=ReferralSource.FAMILY_CARER, requester_type="RelatedPerson", performer=CORE)
    assert check_new_referral(draft).route_to_spa is True


@pytest.mark.parametrize("team", [t for t in D.teams.values() if t.accepts_self_referral], ids=team_id)
def test_self_referral_to_a_service_that_takes_them_stays_there(team: Team) -> None:
    assert check_new_referral(self_draft(performer=team)).route_to_spa is False


@pytest.mark.parametrize("requester_type", ["PractitionerRole", "Practitioner", "Organization"])
def test_self_referral_not_requested_by_the_person_or_a_carer_is_refused(requester_type: str) -> None:
    with pytest.raises(Unprocessable) as info:
        check_new_referral(self_draft(requester_type=requester_type))
    assert_issue(info.value, status=422, code="business-rule", expression=REQUESTER)


@pytest.mark.parametrize(
    "source",
    [s for s in ReferralSource if s not in (ReferralSource.SELF, ReferralSource.FAMILY_CARER)],
)
@pytest.mark.parametrize("requester_type", ["Patient", "RelatedPerson"])
def test_person_or_carer_requester_with_a_professional_source_is_refused(
    source: ReferralSource, requester_type: str
) -> None:
    with pytest.raises(Unprocessable) as info:
        check_new_referral(self_draft(source=source, requester_type=requester_type, performer=CORE))
    assert info.value.status == 422
    assert info.value.issues[0].code == "business-rule"
    # An internal-team source is refused for its requester first (FR-3); the others for the category.
    expected = REQUESTER if source is ReferralSource.INTERNAL_TEAM else ("ServiceRequest.category",)
    assert info.value.expression == expected


def test_external_gp_referral_to_a_core_cmht_is_accepted_as_external() -> None:
    draft = Draft(
        source=ReferralSource.GP,
        requester_type="PractitionerRole",
        requester_role=GP_ROLE,
        requester_team=GP,
        requester_internal=False,
        requester_holds_episode=False,
        performer=CORE,
    )
    assert check_new_referral(draft) == Routing(route_to_spa=False, direction=Direction.EXTERNAL)


@pytest.mark.parametrize("inpatient", [ACUTE, PICU], ids=team_id)
def test_inpatient_referral_without_less_restrictive_options_is_refused(inpatient: Team) -> None:
    with pytest.raises(RequiredMissing) as info:
        check_new_referral(internal_draft(performer=inpatient))
    assert_issue(
        info.value,
        status=422,
        code="required",
        expression=("ServiceRequest.extension('less-restrictive-option')",),
    )
    assert "FR-30" in info.value.diagnostics


def test_inpatient_referral_with_a_less_restrictive_option_considered_is_a_step_up() -> None:
    draft = internal_draft(performer=ACUTE, less_restrictive=(LessRestrictiveOption.CRHTT,))
    assert check_new_referral(draft) == Routing(route_to_spa=False, direction=Direction.STEP_UP)


def test_crisis_house_stay_of_15_days_is_refused() -> None:
    with pytest.raises(Unprocessable) as info:
        check_new_referral(internal_draft(performer=CRISIS_HOUSE, planned_days=15))
    assert_issue(info.value, status=422, code="business-rule", expression=OCCURRENCE)
    assert "at most 14 days; this plans 15" in info.value.diagnostics


def test_crisis_house_stay_just_over_14_days_is_refused() -> None:
    with pytest.raises(Unprocessable) as info:
        check_new_referral(internal_draft(performer=CRISIS_HOUSE, planned_days=14.5))
    assert_issue(info.value, status=422, code="business-rule", expression=OCCURRENCE)


def test_crisis_house_stay_of_14_days_is_accepted() -> None:
    routing = check_new_referral(internal_draft(performer=CRISIS_HOUSE, planned_days=14))
    assert routing == Routing(route_to_spa=False, direction=Direction.CRISIS, over_duration=False)


def test_crisis_house_stay_over_14_days_is_flagged_in_warn_mode() -> None:
    draft = internal_draft(performer=CRISIS_HOUSE, planned_days=15)
    routing = check_new_referral(draft, crisis_house_over_limit="warn")
    assert routing == Routing(route_to_spa=False, direction=Direction.CRISIS, over_duration=True)


def test_crisis_house_stay_within_14_days_is_not_flagged_in_warn_mode() -> None:
    draft = internal_draft(performer=CRISIS_HOUSE, planned_days=7)
    assert check_new_referral(draft, crisis_house_over_limit="warn").over_duration is False


def test_crisis_house_referral_without_a_planned_stay_is_refused() -> None:
    with pytest.raises(RequiredMissing) as info:
        check_new_referral(internal_draft(performer=CRISIS_HOUSE))
    assert_issue(info.value, status=422, code="required", expression=OCCURRENCE)


def test_planned_stay_is_not_limited_for_teams_without_a_maximum() -> None:
    assert check_new_referral(internal_draft(planned_days=400)).over_duration is False


@pytest.mark.parametrize("performer", [CRISIS_HOUSE, ACUTE], ids=team_id)
def test_self_referral_to_a_service_that_takes_none_is_routed_to_the_spa_without_a_4xx(
    performer: Team,
) -> None:
    routing = check_new_referral(self_draft(performer=performer))
    assert routing.route_to_spa is True


# ---------------------------------------------------------------- destinations (FR-2)


@pytest.mark.parametrize("gp", GP_TEAMS, ids=team_id)
def test_destination_may_never_be_a_gp(gp: Team) -> None:
    with pytest.raises(Unprocessable) as info:
        check_destination(gp, CORE, "Task.owner")
    assert_issue(info.value, status=422, code="business-rule", expression=("Task.owner",))
    assert "FR-2" in info.value.diagnostics


def test_destination_may_not_be_the_team_that_holds_the_referral() -> None:
    with pytest.raises(Unprocessable) as info:
        check_destination(CORE, CORE, param("destination"))
    assert_issue(info.value, status=422, code="business-rule", expression=(param("destination"),))


def test_destination_is_required() -> None:
    with pytest.raises(RequiredMissing) as info:
        check_destination(None, CORE, param("destination"))
    assert_issue(info.value, status=422, code="required", expression=(param("destination"),))


@pytest.mark.parametrize("destination", [CORE_SOUTH, PSYCHOSIS, HOUSING, SPA], ids=team_id)
def test_destination_to_another_service_is_returned(destination: Team) -> None:
    assert check_destination(destination, CORE, param("destination")) is destination


# ---------------------------------------------------------------- declines (FR-2, 6, 7)


def decline(**changes: Any) -> Decline:
    """A valid decline by the psychosis team: assessed, reasoned, redirected to the core team."""
    base = Decline(
        reason=DeclineReason.NEEDS_MET_ELSEWHERE,
        rationale="Needs are better met by the core team's psychological therapies",
        assessment="QuestionnaireResponse/needs-1",
        next_step=NextStep.REDIRECT,
        destination=CORE_SOUTH,
        advice=None,
    )
    return dataclasses.replace(base, **changes)


def assert_decline_refused(
    d: Decline, error: type[Unprocessable], code: str, *names: str, current: Team = PSYCHOSIS
) -> Unprocessable:
    with pytest.raises(error) as info:
        check_decline(d, current)
    assert type(info.value) is error
    assert_issue(info.value, status=422, code=code, expression=tuple(param(n) for n in names))
    return info.value


def test_param_names_a_parameter_of_the_operation() -> None:
    assert param("reason") == "Parameters.parameter.where(name='reason')"


@pytest.mark.parametrize("reason", list(PROHIBITED_DECLINE_REASONS))
def test_decline_for_a_prohibited_reason_is_refused(reason: DeclineReason) -> None:
    error = assert_decline_refused(decline(reason=reason), Unprocessable, "business-rule", "reason")
    assert reason.value in error.diagnostics
    assert PROHIBITED_DECLINE_REASONS[reason] in error.diagnostics


def test_decline_for_substance_misuse_is_refused() -> None:
    assert_decline_refused(decline(reason=DeclineReason.SUBSTANCE_MISUSE), Unprocessable, "business-rule", "reason")


def test_decline_asking_the_gp_to_refer_is_refused() -> None:
    error = assert_decline_refused(
        decline(reason=DeclineReason.GP_REFERRAL_REQUESTED), Unprocessable, "business-rule", "reason"
    )
    assert "GP" in error.diagnostics


def test_prohibited_reason_is_refused_before_anything_else_is_checked() -> None:
    bare = Decline(DeclineReason.NO_FIXED_ABODE, None, None, None, None, None)
    assert_decline_refused(bare, Unprocessable, "business-rule", "reason")


@pytest.mark.parametrize("assessment", [None, ""])
def test_decline_without_an_assessment_is_refused(assessment: str | None) -> None:
    assert_decline_refused(decline(assessment=assessment), RequiredMissing, "required", "assessment")


@pytest.mark.parametrize("rationale", [None, ""])
def test_decline_without_a_rationale_is_refused(rationale: str | None) -> None:
    assert_decline_refused(decline(rationale=rationale), RequiredMissing, "required", "rationale")


def test_advice_only_decline_without_the_advice_is_refused() -> None:
    d = decline(reason=DeclineReason.ADVICE_ONLY, next_step=None, destination=None)
    assert_decline_refused(d, RequiredMissing, "required", "advice")


def test_advice_only_decline_with_the_advice_ends_advice_only() -> None:
    d = decline(reason=DeclineReason.ADVICE_ONLY, next_step=None, destination=None, advice="Try X")
    assert check_decline(d, PSYCHOSIS) == DeclineOutcome(State.ADVICE_ONLY, NextStep.ADVICE)


def test_housing_signpost_without_a_destination_is_refused() -> None:
    d = decline(reason=DeclineReason.SIGNPOST_HOUSING, next_step=None, destination=None)
    assert_decline_refused(d, RequiredMissing, "required", "destination")


def test_housing_signpost_to_a_gp_is_refused() -> None:
    d = decline(reason=DeclineReason.SIGNPOST_HOUSING, next_step=NextStep.SIGNPOST, destination=GP)
    assert_decline_refused(d, Unprocessable, "business-rule", "destination")


def test_housing_signpost_with_a_destination_ends_signposted() -> None:
    d = decline(reason=DeclineReason.SIGNPOST_HOUSING, next_step=None, destination=HOUSING)
    assert check_decline(d, PSYCHOSIS) == DeclineOutcome(State.SIGNPOSTED, NextStep.SIGNPOST)


def test_not_commissioned_decline_without_the_commissioning_rule_is_refused() -> None:
    d = decline(reason=DeclineReason.NOT_COMMISSIONED)
    assert_decline_refused(d, RequiredMissing, "required", "commissioningRule")


def test_not_commissioned_decline_naming_the_rule_is_accepted() -> None:
    d = decline(reason=DeclineReason.NOT_COMMISSIONED, commissioning_rule="NCL-scope-4.2")
    assert check_decline(d, PSYCHOSIS) == DeclineOutcome(State.DECLINED, NextStep.REDIRECT)


def test_brain_injury_decline_with_mental_illness_before_the_injury_is_refused() -> None:
    d = decline(
        reason=DeclineReason.NOT_COMMISSIONED_BRAIN_INJURY,
        injury_date=date(2024, 5, 1),
        mental_illness_onset=date(2019, 3, 1),
    )
    error = assert_decline_refused(d, Unprocessable, "business-rule", "reason")
    assert "FR-7" in error.diagnostics


def test_brain_injury_decline_with_mental_illness_but_no_injury_date_is_refused() -> None:
    d = decline(reason=DeclineReason.NOT_COMMISSIONED_BRAIN_INJURY, mental_illness_onset=date(2019, 3, 1))
    assert_decline_refused(d, Unprocessable, "business-rule", "reason")


@pytest.mark.parametrize(
    "onset", [date(2024, 5, 1), date(2024, 9, 1), None], ids=["same-day", "after", "no-mental-illness"]
)
def test_brain_injury_decline_without_earlier_mental_illness_is_accepted(onset: date | None) -> None:
    d = decline(
        reason=DeclineReason.NOT_COMMISSIONED_BRAIN_INJURY,
        injury_date=date(2024, 5, 1),
        mental_illness_onset=onset,
    )
    assert check_decline(d, PSYCHOSIS) == DeclineOutcome(State.DECLINED, NextStep.REDIRECT)


def test_decline_that_goes_nowhere_is_refused() -> None:
    assert_decline_refused(decline(next_step=None), RequiredMissing, "required", "nextStep")


def test_decline_redirecting_to_a_gp_is_refused() -> None:
    assert_decline_refused(decline(destination=GP), Unprocessable, "business-rule", "destination")


def test_decline_redirecting_to_the_declining_team_is_refused() -> None:
    d = decline(destination=PSYCHOSIS)
    assert_decline_refused(d, Unprocessable, "business-rule", "destination")


@pytest.mark.parametrize("next_step", [NextStep.REDIRECT, NextStep.SIGNPOST])
def test_decline_redirecting_or_signposting_without_a_destination_is_refused(next_step: NextStep) -> None:
    d = decline(next_step=next_step, destination=None)
    assert_decline_refused(d, RequiredMissing, "required", "destination")


def test_decline_with_advice_as_next_step_without_the_advice_is_refused() -> None:
    d = decline(next_step=NextStep.ADVICE, destination=None)
    assert_decline_refused(d, RequiredMissing, "required", "advice")


def test_valid_redirect_decline_ends_declined() -> None:
    assert check_decline(decline(), PSYCHOSIS) == DeclineOutcome(State.DECLINED, NextStep.REDIRECT)


def test_valid_escalate_decline_needs_no_destination_and_ends_declined() -> None:
    d = decline(next_step=NextStep.ESCALATE, destination=None)
    assert check_decline(d, PSYCHOSIS) == DeclineOutcome(State.DECLINED, NextStep.ESCALATE)


def test_valid_advice_decline_ends_declined() -> None:
    d = decline(next_step=NextStep.ADVICE, destination=None, advice="Self-help resources sent")
    assert check_decline(d, PSYCHOSIS) == DeclineOutcome(State.DECLINED, NextStep.ADVICE)


def test_valid_signpost_decline_ends_signposted() -> None:
    d = decline(reason=DeclineReason.PERSON_DECLINED, next_step=NextStep.SIGNPOST, destination=HOUSING)
    assert check_decline(d, PSYCHOSIS) == DeclineOutcome(State.SIGNPOSTED, NextStep.SIGNPOST)


@pytest.mark.parametrize(
    "changes",
    [
        {"reason": DeclineReason.ADVICE_ONLY, "next_step": None, "advice": "Try X"},
        {"next_step": NextStep.ADVICE, "advice": "Try X"},
        {"next_step": NextStep.ESCALATE},
    ],
    ids=["advice-only-reason", "advice-next-step", "escalate-next-step"],
)
def test_decline_naming_a_gp_as_destination_is_refused_whatever_the_next_step(
    changes: dict[str, Any],
) -> None:
    d = decline(destination=GP, **changes)
    assert_decline_refused(d, Unprocessable, "business-rule", "destination")


@pytest.mark.parametrize(
    "reason",
    [
        DeclineReason.NEEDS_MET_ELSEWHERE,
        DeclineReason.NEEDS_NOT_MET_BY_SERVICE,
        DeclineReason.PERSON_DECLINED,
    ],
)
def test_assessment_based_reasons_are_accepted(reason: DeclineReason) -> None:
    assert check_decline(decline(reason=reason), PSYCHOSIS).state is State.DECLINED


# ---------------------------------------------------------------- waiting support (FR-10)


def test_accepting_to_wait_without_support_or_assessment_is_refused() -> None:
    with pytest.raises(RequiredMissing) as info:
        check_waiting_support(WaitingSupport())
    assert_issue(info.value, status=422, code="required", expression=(param("waitingSupport"),))
    assert "FR-10" in info.value.diagnostics


def test_interim_support_without_what_is_offered_is_refused() -> None:
    with pytest.raises(RequiredMissing) as info:
        check_waiting_support(WaitingSupport(support="EpisodeOfCare/core-1"))
    assert_issue(info.value, status=422, code="required", expression=(param("supportOffered"),))


def test_interim_support_with_what_is_offered_is_supported() -> None:
    support = WaitingSupport(support="EpisodeOfCare/core-1", support_offered="Weekly calls")
    assert check_waiting_support(support) is True


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"no_support_assessor": "PractitionerRole/x"}, ["noSupportRationale", "noSupportAssessedAt"]),
        ({"no_support_rationale": "Stable"}, ["noSupportAssessor", "noSupportAssessedAt"]),
        (
            {"no_support_assessor": "PractitionerRole/x", "no_support_rationale": "Stable"},
            ["noSupportAssessedAt"],
        ),
        (
            {"no_support_rationale": "Stable", "no_support_assessed_at": datetime(2026, 1, 5, tzinfo=UTC)},
            ["noSupportAssessor"],
        ),
    ],
)
def test_partial_no_support_assessment_names_what_is_missing(given: dict[str, Any], missing: list[str]) -> None:
    with pytest.raises(RequiredMissing) as info:
        check_waiting_support(WaitingSupport(**given))
    assert_issue(info.value, status=422, code="required", expression=tuple(param(m) for m in missing))


def test_no_support_assessment_with_only_its_time_names_the_assessor_and_rationale() -> None:
    with pytest.raises(RequiredMissing) as info:
        check_waiting_support(WaitingSupport(no_support_assessed_at=datetime(2026, 1, 5, tzinfo=UTC)))
    expected = (param("noSupportAssessor"), param("noSupportRationale"))
    assert_issue(info.value, status=422, code="required", expression=expected)


def test_full_no_support_assessment_is_accepted_as_unsupported() -> None:
    support = WaitingSupport(
        no_support_assessor="PractitionerRole/barnet-psychosis-lead",
        no_support_rationale="Stable, well supported by family; no interim support clinically indicated",
        no_support_assessed_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
    )
    assert check_waiting_support(support) is False


# ---------------------------------------------------------------- closure (FR-29)


def test_closing_for_non_engagement_with_smi_without_follow_up_or_decision_is_refused() -> None:
    with pytest.raises(RequiredMissing) as info:
        check_closure(Closure(ClosureReason.DID_NOT_ENGAGE, smi=True))
    expected = (param("followUpAttempt"), param("clinicianDecision"))
    assert_issue(info.value, status=422, code="required", expression=expected)
    assert "FR-29" in info.value.diagnostics


@pytest.mark.parametrize(
    ("follow_up", "decision", "missing"),
    [("Phoned twice", None, "clinicianDecision"), (None, "Dr A: discharge", "followUpAttempt")],
)
def test_closing_for_non_engagement_with_smi_names_the_missing_record(
    follow_up: str | None, decision: str | None, missing: str
) -> None:
    closure = Closure(ClosureReason.DID_NOT_ENGAGE, True, follow_up, decision)
    with pytest.raises(RequiredMissing) as info:
        check_closure(closure)
    assert_issue(info.value, status=422, code="required", expression=(param(missing),))


def test_closing_for_non_engagement_with_smi_after_follow_up_and_decision_is_allowed() -> None:
    check_closure(Closure(ClosureReason.DID_NOT_ENGAGE, True, "Home visit 3 Jan", "Dr A: discharge"))


def test_closing_for_non_engagement_without_smi_is_allowed() -> None:
    check_closure(Closure(ClosureReason.DID_NOT_ENGAGE, smi=False))


@pytest.mark.parametrize("reason", [r for r in ClosureReason if r is not ClosureReason.DID_NOT_ENGAGE])
def test_closing_a_person_with_smi_for_other_reasons_is_allowed(reason: ClosureReason) -> None:
    check_closure(Closure(reason, smi=True))


# ---------------------------------------------------------------- core team keeps supporting (FR-9)

PENDING_STATES = [State.RECEIVED, State.TRIAGE, State.ACCEPTED_WAITING]
FULL_OVERRIDE = Override(rationale="Person moved to Enfield; care transferred", clinician="Dr A Mensah")


@pytest.mark.parametrize("state", PENDING_STATES)
def test_core_team_cannot_close_while_its_intensive_referral_is_pending(state: State) -> None:
    with pytest.raises(Conflict) as info:
        check_episode_close(CORE, [PendingReferral(PSYCHOSIS, state)], None)
    assert_issue(info.value, status=409, code="conflict", expression=("EpisodeOfCare.status",))
    assert PSYCHOSIS.name in info.value.diagnostics


def test_one_pending_intensive_referral_among_others_blocks_the_close() -> None:
    outgoing = [
        PendingReferral(EIP, State.STARTED),
        PendingReferral(CORE_SOUTH, State.RECEIVED),
        PendingReferral(PSYCHOSIS, State.TRIAGE),
    ]
    with pytest.raises(Conflict):
        check_episode_close(CORE, outgoing, None)


def test_override_without_a_clinician_is_refused() -> None:
    override = Override(rationale="Transferred", clinician=None)
    with pytest.raises(RequiredMissing) as info:
        check_episode_close(CORE, [PendingReferral(PSYCHOSIS, State.RECEIVED)], override)
    assert_issue(info.value, status=422, code="required", expression=(param("overrideClinician"),))


def test_override_without_rationale_or_clinician_names_both() -> None:
    with pytest.raises(RequiredMissing) as info:
        check_episode_close(CORE, [PendingReferral(PSYCHOSIS, State.RECEIVED)], Override(None, ""))
    expected = (param("overrideRationale"), param("overrideClinician"))
    assert_issue(info.value, status=422, code="required", expression=expected)


def test_full_override_lets_the_core_team_close_and_is_reported_as_used() -> None:
    pending = [PendingReferral(PSYCHOSIS, State.ACCEPTED_WAITING)]
    assert check_episode_close(CORE, pending, FULL_OVERRIDE) is True


@pytest.mark.parametrize("state", [s for s in State if s not in PENDING_STATES])
def test_intensive_referral_started_or_ended_does_not_block_the_close(state: State) -> None:
    assert check_episode_close(CORE, [PendingReferral(PSYCHOSIS, state)], None) is False


def test_override_is_not_needed_when_nothing_is_pending() -> None:
    assert check_episode_close(CORE, [], FULL_OVERRIDE) is False


@pytest.mark.parametrize("receiver", [CORE_SOUTH, CRHTT, ACUTE, HOUSING], ids=team_id)
def test_pending_referral_to_a_non_intensive_team_does_not_block_the_close(receiver: Team) -> None:
    assert check_episode_close(CORE, [PendingReferral(receiver, State.RECEIVED)], None) is False


@pytest.mark.parametrize("team", [PSYCHOSIS, CRHTT, ACUTE], ids=team_id)
def test_intensive_or_higher_team_closing_is_not_blocked(team: Team) -> None:
    assert check_episode_close(team, [PendingReferral(EIP, State.RECEIVED)], None) is False


# ---------------------------------------------------------------- working days and escalation (FR-5)

MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FRIDAY = datetime(2026, 1, 9, 9, 0, tzinfo=UTC)
GOOD_FRIDAY, EASTER_MONDAY = date(2026, 4, 3), date(2026, 4, 6)


def test_one_working_day_after_friday_is_monday() -> None:
    assert add_working_days(FRIDAY, 1) == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def test_five_working_days_after_monday_is_the_next_monday() -> None:
    assert add_working_days(MONDAY, 5) == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def test_working_days_from_a_weekend_start_on_monday() -> None:
    saturday = datetime(2026, 1, 10, 14, 30, tzinfo=UTC)
    assert add_working_days(saturday, 1) == datetime(2026, 1, 12, 14, 30, tzinfo=UTC)


def test_working_days_skip_bank_holidays() -> None:
    maundy_thursday = datetime(2026, 4, 2, 16, 0, tzinfo=UTC)
    holidays = {GOOD_FRIDAY, EASTER_MONDAY}
    assert add_working_days(maundy_thursday, 1, holidays) == datetime(2026, 4, 7, 16, 0, tzinfo=UTC)
    assert add_working_days(maundy_thursday, 1) == datetime(2026, 4, 3, 16, 0, tzinfo=UTC)


def test_holiday_on_a_weekend_changes_nothing() -> None:
    assert add_working_days(FRIDAY, 1, {date(2026, 1, 10)}) == add_working_days(FRIDAY, 1)


def test_zero_working_days_is_the_start() -> None:
    assert add_working_days(FRIDAY, 0) == FRIDAY


def test_friday_receipt_with_a_five_day_sla_escalates_the_next_friday_not_thursday() -> None:
    assert CORE.decision_sla_days == 5
    assert escalation_levels_due(FRIDAY, FRIDAY + timedelta(days=6), CORE) == []  # Thursday
    assert escalation_levels_due(FRIDAY, FRIDAY + timedelta(days=7, seconds=-1), CORE) == []
    assert escalation_levels_due(FRIDAY, FRIDAY + timedelta(days=7), CORE) == [1]


def test_second_escalation_level_after_ten_working_days() -> None:
    assert CORE.decision_sla_level2_days == 10
    assert escalation_levels_due(FRIDAY, FRIDAY + timedelta(days=14, seconds=-1), CORE) == [1]
    assert escalation_levels_due(FRIDAY, FRIDAY + timedelta(days=14), CORE) == [1, 2]
    assert escalation_levels_due(FRIDAY, FRIDAY + timedelta(days=60), CORE) == [1, 2]


def test_no_referral_received_after_the_escalation_horizon_has_a_level_due() -> None:
    """The sweep reads only referrals received before the horizon; none after it may be due, any team."""
    teams = list(directory().teams.values())
    shortest = min(team.decision_sla_days for team in teams)
    for now in (FRIDAY + timedelta(days=d, hours=h) for d in range(0, 21) for h in (0, 9, 17)):
        horizon = escalation_horizon(now, teams)
        assert horizon == now - timedelta(days=shortest)
        for team in teams:
            for minutes in (1, 60, 24 * 60, 3 * 24 * 60):
                received = horizon + timedelta(minutes=minutes)
                assert escalation_levels_due(received, now, team) == [], (team.id, now, received)
    first_due = add_working_days(FRIDAY, shortest)
    assert escalation_horizon(first_due, teams) >= FRIDAY  # the earliest possible escalation is still read


def test_nothing_is_due_on_receipt() -> None:
    assert escalation_levels_due(FRIDAY, FRIDAY, CORE) == []


def test_escalation_deadline_moves_past_bank_holidays() -> None:
    maundy_thursday = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    holidays = {GOOD_FRIDAY, EASTER_MONDAY}
    # Thursday + 5 working days, less Good Friday and Easter Monday: Tue 7 ... Fri 10, Mon 13.
    due = datetime(2026, 4, 13, 9, 0, tzinfo=UTC)
    assert escalation_levels_due(maundy_thursday, due - timedelta(seconds=1), CORE, holidays) == []
    assert escalation_levels_due(maundy_thursday, due, CORE, holidays) == [1]


def test_crisis_cafe_one_day_sla_from_friday_falls_due_on_monday() -> None:
    assert CRISIS_CAFE.decision_sla_days == 1
    assert escalation_levels_due(FRIDAY, FRIDAY + timedelta(days=2), CRISIS_CAFE) == []
    assert escalation_levels_due(FRIDAY, FRIDAY + timedelta(days=3), CRISIS_CAFE) == [1]


@pytest.mark.parametrize("team", [t for t in D.teams.values() if t is not PANEL], ids=team_id)
def test_second_escalation_level_falls_due_after_the_first(team: Team) -> None:
    first_due = add_working_days(FRIDAY, team.decision_sla_days)
    assert escalation_levels_due(FRIDAY, first_due, team) == [1]


def test_complex_case_panel_second_escalation_level_falls_due_after_the_first() -> None:
    first_due = add_working_days(FRIDAY, PANEL.decision_sla_days)
    assert escalation_levels_due(FRIDAY, first_due, PANEL) == [1]


# ---------------------------------------------------------------- complex case panel (FR-23)


@pytest.mark.parametrize("month", range(1, 13))
def test_panel_meets_on_the_first_wednesday_of_the_month(month: int) -> None:
    meeting = panel_meeting(2026, month)
    assert (meeting.year, meeting.month) == (2026, month)
    assert meeting.weekday() == 2
    assert meeting.day <= 7


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [(2026, 1, date(2026, 1, 7)), (2026, 4, date(2026, 4, 1)), (2026, 7, date(2026, 7, 1))],
)
def test_panel_meeting_dates(year: int, month: int, expected: date) -> None:
    assert panel_meeting(year, month) == expected


def test_two_referrals_accepted_in_the_same_month_get_consecutive_monthly_slots() -> None:
    assert PANEL.panel_capacity == 1
    taken: dict[date, int] = {}
    first = next_panel_slot(date(2026, 1, 12), taken, PANEL.panel_capacity)
    taken[first] = taken.get(first, 0) + 1
    second = next_panel_slot(date(2026, 1, 20), taken, PANEL.panel_capacity)
    assert (first, second) == (date(2026, 2, 4), date(2026, 3, 4))


def test_accepted_before_this_months_meeting_gets_this_month() -> None:
    assert next_panel_slot(date(2026, 1, 6), {}, 1) == date(2026, 1, 7)


def test_accepted_on_the_meeting_day_gets_next_month() -> None:
    assert next_panel_slot(date(2026, 1, 7), {}, 1) == date(2026, 2, 4)


def test_panel_slot_rolls_over_the_year() -> None:
    assert next_panel_slot(date(2026, 12, 15), {}, 1) == panel_meeting(2027, 1) == date(2027, 1, 6)


def test_panel_slot_skips_full_meetings() -> None:
    taken = {date(2026, 2, 4): 1, date(2026, 3, 4): 1}
    assert next_panel_slot(date(2026, 1, 12), taken, 1) == date(2026, 4, 1)


def test_panel_with_capacity_two_fills_a_meeting_before_moving_on() -> None:
    assert next_panel_slot(date(2026, 1, 12), {date(2026, 2, 4): 1}, 2) == date(2026, 2, 4)
    assert next_panel_slot(date(2026, 1, 12), {date(2026, 2, 4): 2}, 2) == date(2026, 3, 4)
