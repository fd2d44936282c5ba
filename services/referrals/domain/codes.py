"""The codes the referrals service understands, as StrEnums, with their CodeSystem URLs.

fhir.resources does not check code values, so every coded element the rules depend on is
parsed into one of these enums; an unknown code is refused naming the element.
"""

from __future__ import annotations

from enum import StrEnum

from services.kit.fhir import parse_code

__all__ = ["parse_code"]

BASE = "https://continuum.example.org/fhir"
CS = f"{BASE}/CodeSystem"
SD = f"{BASE}/StructureDefinition"
SNOMED = "http://snomed.info/sct"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
REFERRAL_ID = f"{BASE}/Id/referral"

# Extensions the service reads or writes on ServiceRequest, Task, EpisodeOfCare, Communication.
EXT_RECEIVED_AT = f"{SD}/referral-received-at"
EXT_SPELL = f"{SD}/referral-spell"
EXT_DIRECTION = f"{SD}/referral-direction"
EXT_CHANNEL = f"{SD}/referral-channel"
EXT_LESS_RESTRICTIVE = f"{SD}/less-restrictive-option"
EXT_COMMUNICATION_NEEDS = f"{SD}/communication-needs"
EXT_CHANGED_BY = f"{SD}/changed-by"
EXT_HEALTHCARE_SERVICE = f"{SD}/episode-healthcare-service"
EXT_OVERRIDE = f"{SD}/episode-close-override"
EXT_WAITING_WELL_VERSION = f"{SD}/waiting-well-version"
EXT_PANEL_SLOT = f"{SD}/panel-slot"
EXT_ESCALATED = f"{SD}/referral-escalated"

CS_SOURCE = f"{CS}/referral-source"
CS_STATE = f"{CS}/referral-state"
CS_DECLINE = f"{CS}/decline-reason"
CS_NEXT_STEP = f"{CS}/decline-next-step"
CS_TASK = f"{CS}/task-code"
CS_CONTACT = f"{CS}/contact-purpose"
CS_MODE = f"{CS}/contact-mode"
CS_ELIGIBILITY = f"{CS}/triage-eligibility"
CS_COMPLEXITY = f"{CS}/triage-complexity"
CS_SCREENING = f"{CS}/screening-outcome"
CS_CLOSURE = f"{CS}/referral-closure-reason"
CS_LESS_RESTRICTIVE = f"{CS}/less-restrictive-option"
CS_PANEL_REASON = f"{CS}/panel-referral-reason"
CS_DIRECTION = f"{CS}/referral-direction"
CS_CHANNEL = f"{CS}/referral-channel"
CS_SUPPORT = f"{CS}/waiting-support-status"
CS_COMMUNICATION = f"{CS}/communication-category"


class ReferralSource(StrEnum):
    """Who sent the referral (FR-17; Q-SRC-03, Q-SRC-12, Q-CRI-11)."""

    INTERNAL_TEAM = "internal-team"
    GP = "gp"
    OTHER_HEALTH_PROFESSIONAL = "other-health-professional"
    SOCIAL_CARE = "social-care"
    SELF = "self"
    FAMILY_CARER = "family-carer"
    VCSE = "vcse"
    EDUCATION = "education"
    EMERGENCY_DEPARTMENT = "emergency-department"
    ACUTE_WARD = "acute-ward"
    AMBULANCE = "ambulance"
    JOINT_RESPONSE_VEHICLE = "mh-joint-response-vehicle"
    POLICE = "police"
    CRISIS_LINE = "crisis-line"
    DIGITAL_FRONT_DOOR = "digital-front-door"
    CRIMINAL_JUSTICE = "criminal-justice"


class Channel(StrEnum):
    """How the referral arrived (Q-SRC-02, Q-SELF-05)."""

    ELECTRONIC = "electronic"
    TELEPHONE = "telephone"
    EMAIL = "email"
    IN_PERSON = "in-person"
    DIGITAL = "digital"


class State(StrEnum):
    """The referral lifecycle (FR-4), carried as the referral Task's businessStatus."""

    RECEIVED = "received"
    TRIAGE = "triage"
    ACCEPTED_WAITING = "accepted-waiting"
    DECLINED = "declined"
    REDIRECTED = "redirected"
    ADVICE_ONLY = "advice-only"
    SIGNPOSTED = "signposted"
    STARTED = "started"
    CLOSED = "closed"
    CANCELLED = "cancelled"


TASK_STATUS: dict[State, str] = {
    State.RECEIVED: "requested",
    State.TRIAGE: "received",
    State.ACCEPTED_WAITING: "accepted",
    State.DECLINED: "rejected",
    State.REDIRECTED: "completed",
    State.ADVICE_ONLY: "completed",
    State.SIGNPOSTED: "completed",
    State.STARTED: "in-progress",
    State.CLOSED: "completed",
    State.CANCELLED: "cancelled",
}

OPEN_STATES = frozenset({State.RECEIVED, State.TRIAGE, State.ACCEPTED_WAITING, State.STARTED})
UNDECIDED_STATES = frozenset({State.RECEIVED, State.TRIAGE})


class DeclineReason(StrEnum):
    """Decline reasons (FR-6, FR-7). Rigid-criteria codes are listed so they can be refused by name."""

    NEEDS_MET_ELSEWHERE = "needs-better-met-elsewhere"
    NEEDS_NOT_MET_BY_SERVICE = "assessed-needs-not-in-service-scope"
    PERSON_DECLINED = "person-declined-service"
    NOT_COMMISSIONED = "not-commissioned"
    NOT_COMMISSIONED_BRAIN_INJURY = "not-commissioned-brain-injury"
    ADVICE_ONLY = "advice-only-not-primarily-mental-illness"
    SIGNPOST_HOUSING = "signpost-housing-benefits"
    # Prohibited: rigid criteria and GP re-referral (FR-2, FR-6).
    SUBSTANCE_MISUSE = "substance-misuse"
    NOT_ABSTINENT = "not-abstinent"
    COMPLETE_OTHER_SERVICE_FIRST = "complete-other-service-first"
    DIAGNOSIS_ALONE = "diagnosis-alone"
    NOT_ON_CPA = "not-on-cpa"
    NO_GP = "not-registered-with-gp"
    NO_FIXED_ABODE = "no-fixed-abode"
    AGE_ALONE = "age-alone"
    GP_REFERRAL_REQUESTED = "gp-referral-requested"


PROHIBITED_DECLINE_REASONS: dict[DeclineReason, str] = {
    DeclineReason.SUBSTANCE_MISUSE: "substance misuse is not a reason to exclude anyone (000:1338)",
    DeclineReason.NOT_ABSTINENT: "abstinence is never a condition of access (000:1287)",
    DeclineReason.COMPLETE_OTHER_SERVICE_FIRST: "no one must finish one service first (000:1302)",
    DeclineReason.DIAGNOSIS_ALONE: "core services have no diagnostic exclusions (000:1592)",
    DeclineReason.NOT_ON_CPA: "CPA status is not a gate to care (000:649)",
    DeclineReason.NO_GP: "a GP is never required (000:1458)",
    DeclineReason.NO_FIXED_ABODE: "no fixed abode is not a reason to decline (000:822)",
    DeclineReason.AGE_ALONE: "eligibility is needs-led, not age-based (000:1679)",
    DeclineReason.GP_REFERRAL_REQUESTED: (
        "the partnership never asks a GP to refer between its own teams (000:1339, 000:1346)"
    ),
}


class NextStep(StrEnum):
    """Where a declined referral goes (FR-6, FR-11): never nowhere."""

    REDIRECT = "redirect"
    ADVICE = "advice"
    SIGNPOST = "signpost"
    ESCALATE = "escalate"


class TaskCode(StrEnum):
    """What a Task is for."""

    REFERRAL = "referral"
    ESCALATION = "acceptance-decision-escalation"
    CONCERN = "carer-concern"


class ContactPurpose(StrEnum):
    """What a recorded contact achieved, towards the clock stop (FR-12)."""

    CONTACT = "contact"
    ASSESSMENT = "assessment"
    CLINICAL_INTERVENTION = "clinical-intervention"
    SOCIAL_INTERVENTION = "social-intervention"


class ContactMode(StrEnum):
    """How the person was seen; only the first three count as being seen (FR-12a)."""

    FACE_TO_FACE = "face-to-face"
    TELEPHONE = "telephone"
    VIDEO = "video"
    LETTER = "letter"
    EMAIL = "email"


SEEN_MODES = frozenset({ContactMode.FACE_TO_FACE, ContactMode.TELEPHONE, ContactMode.VIDEO})


class Eligibility(StrEnum):
    """Triage eligibility outcome (FR-20)."""

    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not-eligible"


class Complexity(StrEnum):
    """Triage complexity (FR-20, Q-SRC-07)."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class Screening(StrEnum):
    """Screening outcome (FR-20, Q-SRC-14)."""

    ASSESSMENT_OFFERED = "assessment-offered"
    SIGNPOSTED = "signposted"


class ClosureReason(StrEnum):
    """Why a referral or episode closes (FR-29, FR-39)."""

    TREATMENT_COMPLETE = "treatment-complete"
    GOALS_ACHIEVED = "goals-achieved-discharged"
    DID_NOT_ENGAGE = "did-not-engage"
    PERSON_WITHDREW = "person-withdrew"
    MOVED_AWAY = "moved-away"
    DIED = "died"
    TRANSFERRED = "transferred"


class LessRestrictiveOption(StrEnum):
    """Alternatives considered before an inpatient referral (FR-30, Q-ELG-14)."""

    CRHTT = "crhtt-home-treatment"
    CRISIS_HOUSE = "crisis-house"
    CRISIS_CAFE = "crisis-cafe"
    CORE_TEAM_INTENSIFIED = "core-team-intensified-support"
    FAMILY_SUPPORT = "family-or-carer-support"


class PanelReason(StrEnum):
    """Complex Case Panel referral reasons (FR-23, Q-SRC-16)."""

    SUBSTANTIAL_RISK = "substantial-risk"
    DISCHARGE_OBSTACLES = "discharge-obstacles"
    POOR_ENGAGEMENT = "poor-engagement"
    FAMILY_DYNAMICS = "difficult-family-dynamics"
    RECOVERY_OBSTACLES = "recovery-progression-obstacles"
    COMPLEX_DIAGNOSIS = "complex-diagnosis"


class Direction(StrEnum):
    """Step-up, step-down and the rest (FR-22)."""

    STEP_UP = "step-up"
    STEP_DOWN = "step-down"
    LATERAL = "lateral"
    CRISIS = "crisis"
    EXTERNAL = "external"


class Priority(StrEnum):
    """FHIR request priority; very urgent is `asap`, an emergency-department referral `stat`."""

    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


class SupportStatus(StrEnum):
    """How a person waiting is supported (FR-10, FR-26)."""

    SUPPORTED = "interim-support"
    ASSESSED_NOT_NEEDED = "assessed-no-support-needed"
    NONE = "none"
