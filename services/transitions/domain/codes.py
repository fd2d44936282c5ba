"""The codes the transitions service understands, as StrEnums, with their CodeSystem URLs.

fhir.resources does not check code values, so every coded element a rule depends on is parsed
into one of these enums; an unknown code is refused naming the element.
"""

from __future__ import annotations

from enum import StrEnum

from services.kit.fhir import parse_code

BASE = "https://continuum.example.org/fhir"
CS = f"{BASE}/CodeSystem"
SD = f"{BASE}/StructureDefinition"
SNOMED = "http://snomed.info/sct"
TRANSFER_OF_CARE = "308292007"  # SNOMED CT: Transfer of care (clinical-domain.md §3.2)
FEEDBACK_QUESTIONNAIRE = f"{BASE}/Questionnaire/transition-feedback"
REFERRAL_ID = f"{BASE}/Id/transition-referral"

# Shared with the referrals service (same CodeSystem, so the gateway routes Task?code= by it).
CS_TASK = f"{CS}/task-code"
# The referral-source CodeSystem the referrals service requires on every ServiceRequest.
CS_REFERRAL_SOURCE = f"{CS}/referral-source"
# CarePlan categories are one CodeSystem across services (careplans uses it too).
CS_CAREPLAN_CATEGORY = f"{CS}/careplan-category"

CS_PHASE = f"{CS}/transition-phase"
CS_INPUT = f"{CS}/transition-task-input"
CS_OUTPUT = f"{CS}/transition-task-output"
CS_HIGH_RISK = f"{CS}/transition-high-risk-reason"
CS_DESTINATION = f"{CS}/transition-destination"
CS_CLINICAL_REASON = f"{CS}/transitions-clinical-service-reason"
CS_AGREEMENT = f"{CS}/transition-plan-agreement"
CS_RESPONDENT = f"{CS}/transition-feedback-respondent"
CS_EXPERIENCE = f"{CS}/transition-experience"
CS_EFFECTIVENESS = f"{CS}/transition-effectiveness"
CS_STATUS_REASON = f"{CS}/transition-status-reason"

EXT_HIGH_RISK = f"{SD}/transition-high-risk"
EXT_PHASE1_DEADLINE = f"{SD}/transition-phase1-deadline"
EXT_PLANNED_ACTION = f"{SD}/transition-planned-action-date"
EXT_ALTERNATIVE_TIME = f"{SD}/transition-agreed-alternative-time"
EXT_CASE = f"{SD}/transition-case"
EXT_SHARED = f"{SD}/transition-plan-shared-with-young-person"
EXT_AGREEMENT = f"{SD}/transition-plan-young-person-agreement"
EXT_MEETING = f"{SD}/transition-meeting"
EXT_AGE_BAND = f"{SD}/age-band-at-event"
EXT_RESPONDENT = f"{SD}/transition-feedback-respondent"
EXT_CHANGED_BY = f"{SD}/changed-by"
REFERRAL_TO_MH_TEAM = "390866009"  # SNOMED CT: Referral to mental health team


class TaskCode(StrEnum):
    """What a transitions Task is for (the gateway routes `Task?code=` on these)."""

    CASE = "transition-case"
    PHASE = "transition-phase"
    ESCALATION = "transition-escalation"


class ReferralSource(StrEnum):
    """The referral-source codes this service sends (the referrals service's CodeSystem)."""

    INTERNAL_TEAM = "internal-team"
    OTHER_HEALTH_PROFESSIONAL = "other-health-professional"


class HighRiskReason(StrEnum):
    """Why a young person is high risk (FR-60, Q-TR-07, Q-TR-23)."""

    COMPLEX_NEEDS = "complex-needs"
    MULTI_AGENCY = "multi-agency-involvement"
    OTHER = "other"


class DestinationKind(StrEnum):
    """Where a transition plan may send the young person (FR-61)."""

    ADULT_CORE_CMHT = "adult-core-cmht"
    INTENSIVE = "intensive-team"
    YOUNG_ADULT = "young-adult-service"
    TRANSITIONS_CLINICAL = "transitions-clinical-service"
    REMAIN_CYP = "remain-in-cyp-0-25"


class ClinicalServiceReason(StrEnum):
    """Why the Transitions team's own clinical service is the destination (FR-61, Q-TR-10)."""

    NOT_ADULT_ELIGIBLE = "does-not-meet-adult-eligibility"
    LOST_CONFIDENCE = "lost-confidence-with-traditional-support"


class Agreement(StrEnum):
    """The young person's own decision about the plan (FR-56)."""

    AGREED = "agreed"
    DISAGREED = "disagreed"


class Respondent(StrEnum):
    """Who gave feedback on the transition (FR-58, P-9)."""

    YOUNG_PERSON = "young-person"
    FAMILY_CARER = "family-carer"
    REFERRING_WORKER = "referring-worker"
    ADULT_TEAM = "adult-team"


class Experience(StrEnum):
    """How the respondent rates the transition experience (M-54)."""

    POSITIVE = "positive"
    MIXED = "mixed"
    NEGATIVE = "negative"


class Effectiveness(StrEnum):
    """The outcome of the effectiveness review (FR-58)."""

    EFFECTIVE = "effective"
    PARTLY_EFFECTIVE = "partly-effective"
    NOT_EFFECTIVE = "not-effective"


__all__ = ["parse_code"]
