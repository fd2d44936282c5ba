"""The coded values the referrals service understands, and parse_code's 422 for anything else."""

from __future__ import annotations

from enum import StrEnum

import pytest

from services.kit.errors import UnknownCode
from services.referrals.domain import codes
from services.referrals.domain.codes import (
    PROHIBITED_DECLINE_REASONS,
    SEEN_MODES,
    ContactMode,
    DeclineReason,
    Direction,
    ReferralSource,
    State,
    parse_code,
)
from services.referrals.domain.lifecycle import Verb
from tests.referrals.domain.assertions import assert_issue

ENUMS: list[type[StrEnum]] = [
    value
    for value in vars(codes).values()
    if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
]
MEMBERS = [(enum, member) for enum in ENUMS for member in enum]


def test_every_code_enum_is_covered() -> None:
    assert {e.__name__ for e in ENUMS} >= {
        "ReferralSource",
        "Channel",
        "State",
        "DeclineReason",
        "NextStep",
        "TaskCode",
        "ContactPurpose",
        "ContactMode",
        "Eligibility",
        "Complexity",
        "Screening",
        "ClosureReason",
        "LessRestrictiveOption",
        "PanelReason",
        "Direction",
        "Priority",
        "SupportStatus",
    }


@pytest.mark.parametrize(("enum", "member"), MEMBERS, ids=lambda x: str(getattr(x, "__name__", x)))
def test_parse_code_returns_the_enum_member_for_each_known_code(enum: type[StrEnum], member: StrEnum) -> None:
    parsed = parse_code(enum, member.value, "Element")
    assert parsed is member
    assert type(parsed) is enum


def test_parse_code_accepts_an_enum_member_itself() -> None:
    assert parse_code(State, State.TRIAGE, "Task.businessStatus") is State.TRIAGE


def test_parse_code_refuses_an_unknown_code_naming_the_element() -> None:
    with pytest.raises(UnknownCode) as info:
        parse_code(ReferralSource, "carrier-pigeon", "ServiceRequest.category")
    assert_issue(info.value, status=422, code="code-invalid", expression=("ServiceRequest.category",))
    assert "'carrier-pigeon'" in info.value.diagnostics
    assert "ServiceRequest.category" in info.value.diagnostics
    for source in ReferralSource:
        assert source.value in info.value.diagnostics


@pytest.mark.parametrize("value", ["Received", " received", "received ", "", None, 3, "accepted_waiting"])
def test_parse_code_is_exact(value: object) -> None:
    with pytest.raises(UnknownCode) as info:
        parse_code(State, value, "Task.businessStatus")
    assert_issue(info.value, status=422, code="code-invalid", expression=("Task.businessStatus",))


def test_parse_code_does_not_cross_code_systems() -> None:
    # 'advice' is a next step, not a state; 'crisis' is a direction, not a referral source.
    with pytest.raises(UnknownCode):
        parse_code(State, "advice", "Task.businessStatus")
    with pytest.raises(UnknownCode):
        parse_code(ReferralSource, Direction.CRISIS, "ServiceRequest.category")


def test_unknown_code_error_is_an_unprocessable_422() -> None:
    error = UnknownCode("x", "Where")
    assert error.status == 422
    assert error.code == "code-invalid"
    assert error.outcome() == {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "code-invalid", "diagnostics": "x", "expression": ["Where"]}],
    }


def test_prohibited_decline_reasons_are_the_rigid_criteria_and_gp_re_referral() -> None:
    assert set(PROHIBITED_DECLINE_REASONS) == {
        DeclineReason.SUBSTANCE_MISUSE,
        DeclineReason.NOT_ABSTINENT,
        DeclineReason.COMPLETE_OTHER_SERVICE_FIRST,
        DeclineReason.DIAGNOSIS_ALONE,
        DeclineReason.NOT_ON_CPA,
        DeclineReason.NO_GP,
        DeclineReason.NO_FIXED_ABODE,
        DeclineReason.AGE_ALONE,
        DeclineReason.GP_REFERRAL_REQUESTED,
    }
    assert all(text.strip() for text in PROHIBITED_DECLINE_REASONS.values())


def test_commissioned_scope_and_assessment_reasons_are_not_prohibited() -> None:
    allowed = set(DeclineReason) - set(PROHIBITED_DECLINE_REASONS)
    assert allowed == {
        DeclineReason.NEEDS_MET_ELSEWHERE,
        DeclineReason.NEEDS_NOT_MET_BY_SERVICE,
        DeclineReason.PERSON_DECLINED,
        DeclineReason.NOT_COMMISSIONED,
        DeclineReason.NOT_COMMISSIONED_BRAIN_INJURY,
        DeclineReason.ADVICE_ONLY,
        DeclineReason.SIGNPOST_HOUSING,
    }


def test_only_face_to_face_telephone_and_video_count_as_seen() -> None:
    assert {ContactMode.FACE_TO_FACE, ContactMode.TELEPHONE, ContactMode.VIDEO} == SEEN_MODES
    assert ContactMode.LETTER not in SEEN_MODES
    assert ContactMode.EMAIL not in SEEN_MODES


def test_referral_sources_include_every_source_fr17_lists() -> None:
    assert {s.value for s in ReferralSource} == {
        "internal-team",
        "gp",
        "other-health-professional",
        "social-care",
        "self",
        "family-carer",
        "vcse",
        "education",
        "emergency-department",
        "acute-ward",
        "ambulance",
        "mh-joint-response-vehicle",
        "police",
        "crisis-line",
        "digital-front-door",
        "criminal-justice",
    }


def test_lifecycle_verbs_parse_like_any_other_code() -> None:
    assert parse_code(Verb, "escalate", "Parameters.parameter.where(name='verb')") is Verb.ESCALATE
